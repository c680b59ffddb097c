"""A set of forward hooks that a context manager (or ``remove``) takes off again."""

from __future__ import annotations

from torch.utils.hooks import RemovableHandle


class ForwardHooks:
    handles: list[RemovableHandle]

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles = []

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.remove()
