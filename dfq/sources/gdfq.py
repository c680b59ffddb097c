"""GDFQ-style class-conditional generator, trained against the frozen teacher with
``CE(teacher(G(z, y)), y) + bns_weight * BN-statistics loss``.

GDFQ trains the generator and the quantized student in alternation; the generator's loss does not
depend on the student, so here it is trained first (the student then distils on its samples). That
lets one generator serve every bit width of a seed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from dfq.bn_stats import BNStatsLoss
from dfq.sources import Source, register_source


class Generator(nn.Module):
    """z * embedding(y) -> linear -> two (upsample, conv, BN, LeakyReLU) stages -> conv -> tanh -> BN.

    The closing affine-free BatchNorm gives images of unit scale per channel like normalized inputs.
    Any square input size works: the seed grid is size/4 (at most 8) and the upsamplings go to size/2
    and size."""

    def __init__(self, latent_dim: int, num_classes: int, channels: int, size: int, width: int = 64):
        super().__init__()
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.init = max(2, min(8, size // 4))
        self.width = width
        self.embed = nn.Embedding(num_classes, latent_dim)
        self.project = nn.Linear(latent_dim, width * self.init * self.init)
        self.body = nn.Sequential(
            nn.BatchNorm2d(width),
            nn.Upsample(size=max(self.init, size // 2)),
            nn.Conv2d(width, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Upsample(size=size),
            nn.Conv2d(width, width // 2, 3, padding=1, bias=False),
            nn.BatchNorm2d(width // 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(width // 2, channels, 3, padding=1),
            nn.Tanh(),
            nn.BatchNorm2d(channels, affine=False),
        )

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        h = self.project(z * self.embed(labels))
        return self.body(h.view(-1, self.width, self.init, self.init))

    def sample(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        z = torch.randn(n, self.latent_dim, generator=gen)
        labels = torch.randint(0, self.num_classes, (n,), generator=gen)
        return self(z, labels), labels


def train_generator(
    generator: Generator, teacher: nn.Module, steps: int, batch_size: int, lr: float, bns_weight: float,
    seed: int = 0, progress: bool = False,
) -> list[dict[str, float]]:  # fmt: skip
    """Adam (betas 0.5, 0.999) on the generator; the teacher is frozen in eval mode. Returns per-step
    losses."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(generator.parameters(), lr=lr, betas=(0.5, 0.999))
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    history = []
    generator.train()
    try:
        with BNStatsLoss(teacher) as bns:
            for _ in tqdm(range(steps), desc="gdfq generator", disable=not progress, leave=False):
                images, labels = generator.sample(batch_size, gen)
                ce = F.cross_entropy(teacher(images), labels)
                bn = bns.loss()
                loss = ce + bns_weight * bn
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                history.append({"ce": ce.item(), "bns": bn.item()})
    finally:
        for p in teacher.parameters():
            p.requires_grad_(True)
    generator.eval()
    return history


@register_source("gdfq")
class GDFQSource(Source):
    default_finetune = "kd"

    def _prepare(self) -> None:
        ctx, s = self.context, self.context.settings
        channels, size, _ = ctx.input_shape
        torch.manual_seed(ctx.seed)
        self.generator = Generator(s.latent_dim, ctx.num_classes, channels, size)
        self.history = train_generator(
            self.generator, self.teacher, s.generator_steps, s.batch_size, s.generator_lr,
            s.bns_weight, ctx.seed, ctx.progress,
        )  # fmt: skip

    @torch.no_grad()
    def sample(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return self.generator.sample(n, gen)
