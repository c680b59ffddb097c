"""DSG (Diverse Sample Generation, Zhang et al. 2021) on the class-conditional generator.

- Slack distribution alignment: each *sample*'s per-channel mean and variance at a BN input may differ
  from the running statistics by a slack without cost: ``||relu(|mu_n - mu| - delta)||_2 +
  ||relu(|var_n - var| - gamma)||_2`` per sample n and BN layer l. delta and gamma (per layer and
  channel) are the ``dsg_percentile`` quantile of those gaps over Gaussian inputs, measured once.
- Layerwise sample enhancement: sample n weighs layer ``n mod L`` twice, the others once (the rows of
  I + 11^T, cycled when the batch has more samples than there are BN layers).

Both replace GDFQ's batch-level BN term; the CE term stays.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from dfq.bn_stats import BNInputStats
from dfq.sources.base import register_source
from dfq.sources.gdfq import GDFQSource, GeneratorConfig, GeneratorObjective
from nas.device import module_device

GAUSSIAN_SAMPLES = 64  # per-sample gaps measured on this many Gaussian inputs, CHUNK at a time
CHUNK = 16


def lse_weights(n: int, layers: int) -> torch.Tensor:
    """``[n, layers]``: 1 everywhere, 2 at (i, i mod layers)."""
    w = torch.ones(n, layers)
    w[torch.arange(n), torch.arange(n) % layers] += 1.0
    return w


def gaps(stats) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per layer: ``|mu_n - running_mean|`` and ``|var_n - running_var|``, each ``[N, C]``."""
    return [((mean - m.running_mean).abs(), (var - m.running_var).abs()) for mean, var, m in stats]


@torch.no_grad()
def gaussian_slack(teacher, recorder: BNInputStats, input_shape, percentile: float, seed: int = 0):
    """Per layer (delta [C], gamma [C]): the ``percentile`` quantile of the per-sample gaps that
    standard Gaussian inputs of ``input_shape`` produce."""
    gen = torch.Generator().manual_seed(seed)
    chunks, device = [], module_device(teacher)
    for _ in range(GAUSSIAN_SAMPLES // CHUNK):
        teacher(torch.randn(CHUNK, *input_shape, generator=gen).to(device))
        chunks.append(gaps(recorder.take()))
    per_layer = zip(*chunks, strict=True)  # per layer: the chunks' (mean gaps, var gaps)
    return [
        (torch.quantile(torch.cat([c[0] for c in layer]), percentile, dim=0),
         torch.quantile(torch.cat([c[1] for c in layer]), percentile, dim=0))
        for layer in per_layer
    ]  # fmt: skip


def slack_hinge(stats, slack) -> torch.Tensor:
    """``[N, layers]`` per-sample, per-layer slack hinge."""
    cols = []
    for (dm, dv), (delta, gamma) in zip(gaps(stats), slack, strict=True):
        cols.append(torch.linalg.vector_norm(F.relu(dm - delta), dim=1)
                    + torch.linalg.vector_norm(F.relu(dv - gamma), dim=1))  # fmt: skip
    return torch.stack(cols, dim=1)


@dataclass(frozen=True)
class DSGConfig(GeneratorConfig):
    # slack of the per-sample BN hinge = this percentile of the gaps Gaussian inputs produce
    dsg_percentile: float = 0.9

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check(unit=("dsg_percentile",))


class DSGObjective(GeneratorObjective):
    def hooks(self):
        return BNInputStats(self.teacher)

    def bn_term(self, labels, logits):
        stats = self.recorder.take()
        if not hasattr(self, "slack"):
            raise RuntimeError("DSGObjective.bn_term before the slack was measured")
        hinge = slack_hinge(stats, self.slack)
        return (lse_weights(*hinge.shape).to(hinge.device) * hinge).sum(1).mean() / hinge.shape[1]

    def __call__(self, images, labels):
        if not hasattr(self, "slack"):
            self.slack = gaussian_slack(self.teacher, self.recorder, tuple(images.shape[1:]),
                                        self.config.dsg_percentile)  # fmt: skip
        return super().__call__(images, labels)


@register_source("dsg")
class DSGSource(GDFQSource):
    objective_class = DSGObjective
    config_class = DSGConfig
