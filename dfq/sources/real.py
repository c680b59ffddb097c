"""Real training images: the reference that the data-free methods are measured against (tables only)."""

from __future__ import annotations

import torch

from dfq.sources.base import Source, register_source


@register_source("real")
class RealSource(Source):
    uses_real_data = True

    def _prepare(self) -> None:
        ctx = self.context
        if ctx.real_images is None or ctx.real_labels is None:
            raise ValueError("the real-data reference needs the training images (none were given)")
        self.mean = torch.tensor(ctx.mean).view(1, -1, 1, 1)
        self.std = torch.tensor(ctx.std).view(1, -1, 1, 1)

    def sample(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.randint(0, len(self.context.real_images), (n,), generator=gen)
        images = (self.context.real_images[idx].float() / 255 - self.mean) / self.std
        return images.to(self.device), self.context.real_labels[idx].to(self.device)
