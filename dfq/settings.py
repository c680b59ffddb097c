"""Every knob of a data-free quantization run, in one frozen dataclass with named profiles.

The defaults were set on the Fashion-MNIST *validation* split while developing; nothing in a run is
chosen on real data (fixed step counts, no checkpoint selection) and the test set is read once, at the end.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any


@dataclass(frozen=True)
class DFQSettings:
    batch_size: int = 64
    calib_batches: int = 8  # batches of the source that calibrate the activation ranges
    # ZeroQ-style images: a fixed pool optimized to match the teacher's BatchNorm statistics.
    pool_size: int = 256
    zeroq_steps: int = 200
    zeroq_lr: float = 0.1
    # GDFQ-style class-conditional generator: CE on the teacher + weight * BN-statistics loss. On the
    # validation split (W4A4, committed default child) 400 steps at lr 1e-3 left the teacher agreeing with
    # only 62% of the generated labels (drop 4.74 points); 1200 steps at 3e-3: drop 3.46; 2000: no better.
    latent_dim: int = 64
    generator_steps: int = 1200
    generator_lr: float = 3e-3
    bns_weight: float = 0.1
    # Fine-tuning of the quantized student (KD on synthetic data, or QAT on real data).
    finetune_steps: int = 400
    finetune_lr: float = 1e-4
    # Peak learning rate of the activation scales during fine-tuning (learned in log space, same Adam and
    # cosine schedule as the weights); 0: the ranges stay as calibrated.
    act_scale_lr: float = 0.0
    # Weight of the feature distillation (every quantized layer's output against the teacher's) added to
    # the fine-tuning loss; 0: none.
    feature_kd_weight: float = 0.0
    # Fix each layer's per-channel weight grid when fine-tuning starts instead of reading it from the
    # moving weights at every step (``freeze_weight_grids``); the grid is saved with the student.
    freeze_weight_grid: bool = False
    temperature: float = 4.0
    ce_weight: float = 0.0  # weight of CE on the source's labels in KD (GDFQ uses 1)
    # DSG: slack of the per-sample BN hinge = this percentile of the gaps Gaussian inputs produce.
    dsg_percentile: float = 0.9
    # ClusterQ: weight of the class-centroid alignment, EMA momentum of the centroids, and the std of the
    # perturbation of the alignment targets (diversity enhancement), in units of the feature std.
    clusterq_weight: float = 0.1
    clusterq_momentum: float = 0.9
    clusterq_noise: float = 0.5
    # Qimera: probability that a sample's embedding superposes ``qimera_classes`` class embeddings.
    qimera_p: float = 0.4
    qimera_classes: int = 2
    # AIT: fraction of each layer's weights whose integer code must change per step, at the start
    # (cosine-decayed to 0 over fine-tuning).
    ait_threshold: float = 0.01

    def __post_init__(self) -> None:
        positive = ("batch_size", "calib_batches", "pool_size", "latent_dim", "temperature")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("dsg_percentile", "clusterq_momentum", "qimera_p", "ait_threshold"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must lie in [0, 1], got {getattr(self, name)}")
        if not isinstance(self.freeze_weight_grid, bool):
            raise ValueError(f"freeze_weight_grid must be true or false, got {self.freeze_weight_grid!r}")
        if self.qimera_classes < 2:
            raise ValueError(f"qimera_classes must be >= 2, got {self.qimera_classes}")
        for name in ("zeroq_steps", "generator_steps", "finetune_steps", "ce_weight", "bns_weight",
                     "clusterq_weight", "clusterq_noise", "act_scale_lr", "feature_kd_weight"):  # fmt: skip
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


PROFILES: dict[str, DFQSettings] = {
    "quick": DFQSettings(),
    "full": DFQSettings(pool_size=1024, zeroq_steps=500, generator_steps=4000, finetune_steps=2000),
    "smoke": DFQSettings(
        batch_size=16, calib_batches=2, pool_size=32, zeroq_steps=5, generator_steps=5, finetune_steps=5
    ),
}


def dfq_profile(name: str, **overrides: Any) -> DFQSettings:
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; allowed: {sorted(PROFILES)}")
    return replace(PROFILES[name], **{k: v for k, v in overrides.items() if v is not None})
