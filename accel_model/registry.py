"""One small name-keyed registry type for everything users extend: simulator backends, networks, model
zoo, search-space ops, DFQ sources and fine-tunings, baselines.

A ``Registry`` is a read-only ``Mapping`` (``name in r``, ``r[name]``, ``sorted(r)``) plus ``register``;
a duplicate name is refused, and an unknown name raises ``ValueError`` listing the known ones."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Mapping[str, T], Generic[T]):
    """Entries of one kind (``kind`` names it in error messages, e.g. "simulator backend")."""

    def __init__(self, kind: str, loader: Callable[[], object] | None = None):
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._loader = loader  # imports the built-in entries on first lookup (registration by import)
        self._loaded = loader is None

    def add(self, name: str, entry: T) -> T:
        """Register ``entry`` under ``name``; ``ValueError`` when the name is taken."""
        if not name or not isinstance(name, str):
            raise ValueError(f"a {self.kind} needs a non-empty name, got {name!r}")
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = entry
        return entry

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of ``add``."""
        return lambda entry: self.add(name, entry)

    def get(self, name: str) -> T:  # type: ignore[override]  (raises instead of returning a default)
        self._load()
        if name not in self._entries:
            raise ValueError(f"unknown {self.kind} {name!r}; allowed: {', '.join(self.names())}")
        return self._entries[name]

    def names(self) -> list[str]:
        self._load()
        return sorted(self._entries)

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._load()
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            self._loader()  # type: ignore[misc]
