"""Fine-tunings of a fake-quantized student (``base.py`` says what one is): the built-in ones register here.

- ``none``: calibrate only (PTQ); ``kd``: distil the FP teacher on the source; ``qat``: CE on real labels
  (the real-data reference only); ``ait``: KL-only distillation with gradient inundation (AIT);
  ``reconstruct``: layer-wise reconstruction with learned rounding (AdaRound/BRECQ, data-free as Genie).
"""

from dfq.finetunes import ait, kd, qat, reconstruct  # noqa: F401  (registration)
from dfq.finetunes.base import FINETUNES, FinetuneMethod
from dfq.sources.base import Source

__all__ = ["FINETUNES", "FinetuneMethod", "check_finetune", "finetune_names"]


def finetune_names() -> list[str]:
    return FINETUNES.names()


def check_finetune(name: str, source: type[Source]) -> None:
    """``ValueError`` for an unknown fine-tuning, or one that needs real labels on a synthetic source."""
    method = FINETUNES.get(name)
    if method.needs_real_labels and not source.uses_real_data:
        raise ValueError(f"{name} trains on real labels; source {source.name!r} has none (use kd)")
