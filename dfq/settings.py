"""The knobs of a data-free quantization run that every method shares, and the base of each method's own.

``DFQSettings`` holds what the pipeline itself uses (batch size, calibration, the fine-tuning schedule and
distillation); each source or fine-tuning declares its own knobs as a ``MethodConfig`` dataclass beside
its code (``ZeroQConfig`` in ``dfq/sources/zeroq.py``, ``AITConfig`` in ``dfq/finetunes/ait.py``, ...).
A profile or a user sets a method's knob by name in ``DFQSettings.knobs``; the method reads it through
``settings.config(ItsConfig)``. Named profiles and the check of knob names live in ``dfq.api``.

The defaults were set on the Fashion-MNIST *validation* split while developing; nothing in a run is
chosen on real data (fixed step counts, no checkpoint selection) and the test set is read once, at the end.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, TypeVar

C = TypeVar("C", bound="MethodConfig")


@dataclass(frozen=True)
class MethodConfig:
    """Base of a method's own knobs: a frozen dataclass whose ``__post_init__`` validates its fields."""

    @classmethod
    def from_knobs(cls: type[C], knobs: dict[str, Any]) -> C:
        """The config with its defaults, overridden by those of ``knobs`` that name its fields."""
        return cls(**{f.name: knobs[f.name] for f in fields(cls) if f.name in knobs})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def _check(self, positive=(), non_negative=(), unit=()) -> None:
        """``ValueError`` naming the first field outside its range."""
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in non_negative:
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in unit:
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must lie in [0, 1], got {getattr(self, name)}")


@dataclass(frozen=True)
class DFQSettings:
    batch_size: int = 64
    calib_batches: int = 8  # batches of the source that calibrate the activation ranges
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
    # The methods' own knobs set by a profile or the user, as sorted (name, value) pairs.
    knobs: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        MethodConfig._check(
            self,
            positive=("batch_size", "calib_batches", "temperature"),
            non_negative=("finetune_steps", "ce_weight", "act_scale_lr", "feature_kd_weight"),
        )
        if not isinstance(self.freeze_weight_grid, bool):
            raise ValueError(f"freeze_weight_grid must be true or false, got {self.freeze_weight_grid!r}")

    def config(self, config_class: type[C]) -> C:
        """``config_class`` (a method's ``MethodConfig``) with the knobs set here."""
        return config_class.from_knobs(dict(self.knobs))

    def to_dict(self) -> dict[str, Any]:
        """The shared knobs (the methods' own: ``dfq.api.settings_record``)."""
        return {k: v for k, v in asdict(self).items() if k != "knobs"}


SHARED_FIELDS = tuple(f.name for f in fields(DFQSettings) if f.name != "knobs")
