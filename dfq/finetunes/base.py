"""What a fine-tuning of a fake-quantized student is: a loss and, optionally, a replacement for the
optimizer step (AIT's gradient inundation), run by the loop in ``dfq/finetune.py``. A fine-tuning with
knobs of its own names their ``MethodConfig`` in ``config_class``; its step receives that config. A new
method is a new module registering a ``FinetuneMethod`` in ``FINETUNES``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from accel_model.registry import Registry
from dfq.settings import DFQSettings, MethodConfig

# (student logits, teacher logits, labels, settings) -> loss
LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, DFQSettings], torch.Tensor]
# (student, optimizer, fraction of fine-tuning done, the method's config): the update instead of opt.step()
StepFn = Callable[[nn.Module, torch.optim.Optimizer, float, MethodConfig | None], None]


# (student, teacher, source, settings, the method's config, seed, progress) -> loss history: a procedure
# of its own in place of the loop (layer-wise reconstruction)
RunFn = Callable[..., list[float]]


@dataclass(frozen=True)
class FinetuneMethod:
    loss: LossFn | None  # None (and no ``run``): no fine-tuning (PTQ)
    step: StepFn | None = None  # None: the optimizer's own step
    needs_real_labels: bool = False
    config_class: type[MethodConfig] | None = None
    run: RunFn | None = None  # replaces the loop: the shared fine-tuning knobs do not apply


FINETUNES: Registry[FinetuneMethod] = Registry("fine-tuning")
FINETUNES.add("none", FinetuneMethod(None))  # calibrate only (post-training quantization)
