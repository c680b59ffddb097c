"""ClusterQ (Gao et al. 2022) on the class-conditional generator: GDFQ's loss plus a class-wise alignment
of deep-layer feature statistics.

A sample's feature is the per-channel mean and variance of the BN inputs of the deeper half of the
teacher's BN layers. Each class keeps a centroid of the features of *generated* samples, updated by an
exponential moving average from the samples the teacher classifies as their intended class. Each
sample is pulled toward its class's centroid (mean squared error), so the classes form separate
clusters in the teacher's feature space. Diversity enhancement: the target is the centroid plus Gaussian
noise (``clusterq_noise`` x the features' standard deviation), so samples of one class do not collapse
onto one point, and the loss keeps a non-zero gradient when a sample sits on its centroid.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from dfq.bn_stats import BNInputStats, BNStatsLoss
from dfq.sources.base import register_source
from dfq.sources.gdfq import GDFQSource, GeneratorConfig, GeneratorObjective


@dataclass(frozen=True)
class ClusterQConfig(GeneratorConfig):
    """Weight of the class-centroid alignment, EMA momentum of the centroids, and the std of the
    perturbation of the alignment targets (diversity enhancement), in units of the feature std."""

    clusterq_weight: float = 0.1
    clusterq_momentum: float = 0.9
    clusterq_noise: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check(non_negative=("clusterq_weight", "clusterq_noise"), unit=("clusterq_momentum",))


class ClassCentroids:
    """Per-class EMA centroids of feature vectors; a class without an update yet has none."""

    def __init__(self, num_classes: int, momentum: float):
        self.num_classes, self.momentum = num_classes, momentum
        self.centroids: torch.Tensor | None = None
        self.seen = torch.zeros(num_classes, dtype=torch.bool)

    @torch.no_grad()
    def update(self, features: torch.Tensor, labels: torch.Tensor, correct: torch.Tensor) -> None:
        if self.centroids is None:
            self.centroids = torch.zeros(self.num_classes, features.shape[1], device=features.device)
            self.seen = self.seen.to(features.device)
        for c in labels[correct].unique().tolist():
            batch_mean = features[correct & (labels == c)].mean(0)
            if self.seen[c]:
                self.centroids[c] = self.momentum * self.centroids[c] + (1 - self.momentum) * batch_mean
            else:
                self.centroids[c], self.seen[c] = batch_mean, True


def deep_half(model) -> list[torch.nn.BatchNorm2d]:
    layers = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    return layers[len(layers) // 2 :]


class ClusterQObjective(GeneratorObjective):
    def __init__(self, teacher, config: ClusterQConfig):
        super().__init__(teacher, config)
        self.deep = BNInputStats(teacher, deep_half(teacher))
        self.centroids: ClassCentroids | None = None

    def hooks(self):
        return BNStatsLoss(self.teacher)

    def extra(self, labels, logits):
        feats = torch.cat([torch.cat([mean, var], 1) for mean, var, _ in self.deep.take()], 1)
        if self.centroids is None:
            self.centroids = ClassCentroids(logits.shape[1], self.config.clusterq_momentum)
        self.centroids.update(feats.detach(), labels, logits.argmax(1) == labels)
        known = self.centroids.seen[labels]
        if not known.any():
            return {"cluster": feats.sum() * 0.0}
        target = self.centroids.centroids[labels[known]]
        spread = feats.detach().std(0, correction=0, keepdim=True)
        noise = torch.randn_like(target) * spread * self.config.clusterq_noise
        loss = F.mse_loss(feats[known], target + noise)
        return {"cluster": self.config.clusterq_weight * loss}

    def close(self):
        super().close()
        self.deep.remove()


@register_source("clusterq")
class ClusterQSource(GDFQSource):
    objective_class = ClusterQObjective
    config_class = ClusterQConfig
