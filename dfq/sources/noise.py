"""Gaussian noise in the normalized input space: the weakest baseline."""

from __future__ import annotations

import torch

from dfq.sources.base import Source, register_source


@register_source("noise")
class NoiseSource(Source):
    def sample(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        images = torch.randn((n, *self.context.input_shape), generator=gen).to(self.device)
        return images, self.teacher_labels(images)
