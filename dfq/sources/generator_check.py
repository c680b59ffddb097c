"""Is a trained generator usable? Signals that need no real data, read once after training.

A generator can settle in a mode that is confident but statistically wrong (measured: ClusterQ and DSG on
the default child, seed 0, one thread; which mode depends on floating-point summation order). The teacher
still agrees with the intended classes, so the labels do not show it; its BatchNorm layers do. The check
draws ``SAMPLES`` images and reads, on the frozen teacher in eval mode:

- ``bns``: the BN-statistics loss (``dfq.bn_stats``) of the generated batch, and ``bns_noise``, the same
  loss on Gaussian noise of the input's shape: the scale the ratio ``bns / bns_noise`` is read against;
- ``coverage``: the fraction of classes the teacher predicts at least once;
- ``agreement``: how often the teacher predicts the class the generator was asked for;
- ``confidence``: the teacher's mean top probability.

``problems`` names every limit a generator misses; an empty list is a usable generator.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from dfq.bn_stats import BNStatsLoss

SAMPLES = 512
CHECK_SEED = 1234  # the check's own draws, apart from training's and fine-tuning's

# The limits (see docs/results/dfq.md, "Generator collapse"). Measured on the default child, quick profile,
# seed 0, W4A4 after KD (validation split): usable generators had a BN ratio to noise of 0.22 (ClusterQ,
# 91.32%), 0.23 (GDFQ, 91.22%) and 0.37 (DSG, 89.70%); the collapsed ones 0.70 (ClusterQ, 34.46%) and 0.65
# (DSG, 47.34%). Coverage (10/10) and agreement (97-100%) were the same in both modes: recorded, and
# limits only for a generator that misses most classes.
MAX_BNS_TO_NOISE = 0.5
MIN_COVERAGE = 0.9
MIN_AGREEMENT = 0.5
RETRIES = 3  # generators trained again, with the next seeds, before the source is refused
MIN_STEPS_JUDGED = 400  # fewer training steps (the smoke profile): the signals are recorded, not judged


@dataclass(frozen=True)
class GeneratorHealth:
    bns: float
    bns_noise: float
    coverage: float
    agreement: float
    confidence: float

    @property
    def bns_to_noise(self) -> float:
        return self.bns / max(self.bns_noise, 1e-12)

    def problems(self) -> list[str]:
        found = []
        if self.bns_to_noise > MAX_BNS_TO_NOISE:
            found.append(f"BN-statistics loss {self.bns_to_noise:.3f} of noise's (limit {MAX_BNS_TO_NOISE})")
        if self.coverage < MIN_COVERAGE:
            found.append(f"teacher predicts {self.coverage:.0%} of the classes (min {MIN_COVERAGE:.0%})")
        if self.agreement < MIN_AGREEMENT:
            found.append(f"teacher agrees with {self.agreement:.0%} of the labels (min {MIN_AGREEMENT:.0%})")
        return found

    def to_dict(self) -> dict:
        return {k: round(v, 4) for k, v in {**asdict(self), "bns_to_noise": self.bns_to_noise}.items()}


@torch.no_grad()
def generator_health(sample, teacher: nn.Module, input_shape: tuple[int, int, int]) -> GeneratorHealth:
    """The signals of the source whose ``sample(n, gen)`` gives (images, hard or soft labels)."""
    gen = torch.Generator().manual_seed(CHECK_SEED)
    was_training = teacher.training
    teacher.eval()
    recorder = BNStatsLoss(teacher)
    try:
        images, labels = sample(SAMPLES, gen)
        probs = F.softmax(teacher(images), 1)
        bns = float(recorder.loss())
        teacher(torch.randn(SAMPLES, *input_shape, generator=gen).to(images.device))
        bns_noise = float(recorder.loss())
    finally:
        recorder.remove()
        teacher.train(was_training)
    predicted = probs.argmax(1)
    intended = labels.argmax(1) if labels.dim() == 2 else labels
    return GeneratorHealth(
        bns=bns,
        bns_noise=bns_noise,
        coverage=float(predicted.unique().numel()) / probs.shape[1],
        agreement=float((predicted == intended.to(predicted.device)).float().mean()),
        confidence=float(probs.max(1).values.mean()),
    )
