"""GDFQ-style class-conditional generator, trained against the frozen teacher with
``CE(teacher(G(z, y)), y) + bns_weight * BN-statistics loss``.

GDFQ trains the generator and the quantized student in alternation; the generator's loss does not
depend on the student, so here it is trained first (the student then distils on its samples). That
lets one generator serve every bit width of a seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

import dfq.sources.generator_check as generator_check
from dfq.bn_stats import BNStatsLoss
from dfq.failures import GeneratorCollapsed
from dfq.settings import MethodConfig
from dfq.sources.base import Source, register_source


@dataclass(frozen=True)
class GeneratorConfig(MethodConfig):
    """The class-conditional generator's knobs. On the validation split (W4A4, committed default child)
    400 steps at lr 1e-3 left the teacher agreeing with only 62% of the generated labels (drop 4.74
    points); 1200 steps at 3e-3: drop 3.46; 2000: no better."""

    latent_dim: int = 64
    generator_steps: int = 1200
    generator_lr: float = 3e-3
    bns_weight: float = 0.1  # weight of the BN-statistics term against the cross-entropy

    def __post_init__(self) -> None:
        self._check(positive=("latent_dim",), non_negative=("generator_steps", "generator_lr", "bns_weight"))


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
        return self.from_embedding(z, self.embed(labels))

    def from_embedding(self, z: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        h = self.project(z * embedding)
        return self.body(h.view(-1, self.width, self.init, self.init))

    def draw(self, gen: torch.Generator, *shape: int, integers: int = 0) -> torch.Tensor:
        """Gaussian (or, with ``integers``, uniform class) draws from the CPU generator ``gen``, so a seed
        draws the same on every device, moved to the generator's device."""
        if integers:
            return torch.randint(0, integers, shape, generator=gen).to(self.embed.weight.device)
        return torch.randn(shape, generator=gen).to(self.embed.weight.device)

    def sample(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` images (on the generator's device) and their classes."""
        z = self.draw(gen, n, self.latent_dim)
        labels = self.draw(gen, n, integers=self.num_classes)
        return self(z, labels), labels


class GeneratorObjective:
    """GDFQ's generator loss on the frozen teacher: ``CE(teacher(x), y) + bns_weight * BN term``.

    Methods change it by overriding: ``hooks`` (what is recorded at the BN layers), ``bn_term`` (DSG
    replaces it) and ``extra`` (further named terms, already weighted: ClusterQ). Labels may be hard
    ``[N]`` or soft ``[N, classes]`` (Qimera); the cross-entropy takes either."""

    def __init__(self, teacher: nn.Module, config: GeneratorConfig):
        self.teacher, self.config = teacher.eval(), config
        self.recorder = self.hooks()

    def hooks(self):
        return BNStatsLoss(self.teacher)

    def bn_term(self, labels: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        return self.recorder.loss()

    def extra(self, labels: torch.Tensor, logits: torch.Tensor) -> dict[str, torch.Tensor]:
        return {}

    def __call__(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        logits = self.teacher(images)
        parts = {"ce": F.cross_entropy(logits, labels), "bns": self.bn_term(labels, logits)}
        extra = self.extra(labels, logits)
        loss = parts["ce"] + self.config.bns_weight * parts["bns"] + sum(extra.values())
        return loss, {k: float(v.detach()) for k, v in {**parts, **extra}.items()}

    def close(self) -> None:
        self.recorder.remove()


def train_generator(
    generator: Generator, objective: GeneratorObjective, steps: int, batch_size: int, lr: float,
    seed: int = 0, progress: bool = False, desc: str = "generator",
) -> list[dict[str, float]]:  # fmt: skip
    """Adam (betas 0.5, 0.999) on the generator against ``objective`` (its teacher frozen, eval mode).
    Returns the loss terms per step; removes the objective's hooks at the end."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(generator.parameters(), lr=lr, betas=(0.5, 0.999))
    teacher = objective.teacher
    for p in teacher.parameters():
        p.requires_grad_(False)
    history = []
    generator.train()
    try:
        for _ in tqdm(range(steps), desc=desc, disable=not progress, leave=False):
            images, labels = generator.sample(batch_size, gen)
            loss, parts = objective(images, labels)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            history.append(parts)
    finally:
        objective.close()
        for p in teacher.parameters():
            p.requires_grad_(True)
    generator.eval()
    return history


@register_source("gdfq")
class GDFQSource(Source):
    """A class-conditional generator trained with ``objective_class``; methods built on the generator
    (DSG, ClusterQ, Qimera) subclass this and override ``objective_class`` / ``make_generator``."""

    default_finetune = "kd"
    objective_class = GeneratorObjective
    config_class = GeneratorConfig

    def make_generator(self) -> Generator:
        ctx = self.context
        channels, size, _ = ctx.input_shape
        return Generator(self.config.latent_dim, ctx.num_classes, channels, size)

    def _prepare(self) -> None:
        """Train the generator; when the data-free check (``generator_check``) finds it collapsed, train
        it again with the next seed of its own sequence (seed + 1000, + 2000, + 3000: apart from the other
        seeds of a table), up to ``RETRIES`` times, then refuse. A generator trained for fewer than
        ``MIN_STEPS_JUDGED`` steps (the smoke profile) is checked and recorded, not judged. Every attempt
        is in ``facts``."""
        ctx, check = self.context, generator_check
        judged = self.config.generator_steps >= check.MIN_STEPS_JUDGED
        checks = []
        for attempt in range(check.RETRIES + 1):
            seed = ctx.seed + 1000 * attempt
            self.generator, self.history = self._train(seed)
            health = check.generator_health(self.generator.sample, self.teacher, ctx.input_shape)
            problems = health.problems()
            checks.append({"seed": seed, **health.to_dict(), "problems": problems})
            if not (judged and problems):
                break
        else:
            raise GeneratorCollapsed(
                f"{self.name}: the generator collapsed with every seed tried "
                f"({', '.join(str(c['seed']) for c in checks)}): {'; '.join(problems)}"
            )
        self.facts = {"generator_seed": seed, "generator_retries": attempt, "generator_checks": checks}

    def _train(self, seed: int) -> tuple[Generator, list[dict[str, float]]]:
        ctx, c = self.context, self.config
        torch.manual_seed(seed)
        generator = self.make_generator().to(self.device)
        objective = self.objective_class(self.teacher, c)
        history = train_generator(generator, objective, c.generator_steps, ctx.settings.batch_size,
                                  c.generator_lr, seed, ctx.progress, f"{self.name} generator")  # fmt: skip
        return generator, history

    @torch.no_grad()
    def sample(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return self.generator.sample(n, gen)
