"""ZeroQ-style distilled data: a fixed pool of images, each batch optimized from Gaussian noise so the
statistics it induces at every BatchNorm input match the teacher's running statistics."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from tqdm import tqdm

from dfq.bn_stats import BNStatsLoss
from dfq.settings import MethodConfig
from dfq.sources.base import Source, register_source


def optimize_images(
    teacher: torch.nn.Module, images: torch.Tensor, steps: int, lr: float, progress: bool = False
) -> tuple[torch.Tensor, list[float]]:
    """Adam on the pixels of ``images`` (one batch) against the BN-statistics loss, cosine-decayed
    learning rate. Returns the optimized images and the loss at every step."""
    images = images.clone().requires_grad_(True)
    opt = torch.optim.Adam([images], lr=lr)
    history: list[float] = []
    for p in teacher.parameters():
        p.requires_grad_(False)
    try:
        with BNStatsLoss(teacher) as bns:
            for step in tqdm(range(steps), desc="zeroq images", disable=not progress, leave=False):
                for group in opt.param_groups:
                    group["lr"] = 0.5 * lr * (1 + math.cos(math.pi * step / steps))
                teacher(images)
                loss = bns.loss()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                history.append(loss.item())
    finally:
        for p in teacher.parameters():
            p.requires_grad_(True)
    return images.detach(), history


@dataclass(frozen=True)
class ZeroQConfig(MethodConfig):
    pool_size: int = 256  # images in the fixed pool, optimized a batch at a time
    zeroq_steps: int = 200
    zeroq_lr: float = 0.1

    def __post_init__(self) -> None:
        self._check(positive=("pool_size", "zeroq_lr"), non_negative=("zeroq_steps",))


@register_source("zeroq")
class ZeroQSource(Source):
    config_class = ZeroQConfig

    def _prepare(self) -> None:
        ctx, c, batch = self.context, self.config, self.context.settings.batch_size
        gen = torch.Generator().manual_seed(ctx.seed)
        pool, self.loss_history = [], []
        for start in range(0, c.pool_size, batch):
            n = min(batch, c.pool_size - start)
            init = torch.randn((n, *ctx.input_shape), generator=gen).to(self.device)
            images, history = optimize_images(self.teacher, init, c.zeroq_steps, c.zeroq_lr, ctx.progress)
            pool.append(images)
            self.loss_history.append(history)
        self.images = torch.cat(pool)
        self.labels = torch.cat([self.teacher_labels(b) for b in self.images.split(256)])

    def sample(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.randint(0, len(self.images), (n,), generator=gen).to(self.device)
        return self.images[idx], self.labels[idx]
