"""Fine-tuning a fake-quantized student: distillation from the full-precision teacher on a source's
batches (KD), or plain cross-entropy on real labels (QAT). A name-keyed registry of methods: a loss
and, optionally, a replacement for the optimizer step (AIT's gradient inundation, ``dfq/methods/ait.py``).

The student stays in eval mode throughout: its BatchNorm layers keep the teacher's running statistics
(synthetic batches must not overwrite them) while gradients still reach every weight. Fixed schedule
(Adam, cosine decay, ``finetune_steps`` steps); no checkpoint is selected. With ``act_scale_lr`` > 0 the
calibrated activation scales are learned too (their own peak rate), then frozen again; with
``feature_kd_weight`` > 0 the loss adds that times the feature distillation of ``dfq/feature_kd.py``;
with ``freeze_weight_grid`` every layer's weight grid is fixed at the calibrated student's weights first.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from dfq.feature_kd import FeatureMatch
from dfq.quant_model import freeze_weight_grids, learned_activation_scales
from dfq.settings import DFQSettings
from dfq.sources import Source
from nas.device import module_device

LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, DFQSettings], torch.Tensor]
# (student, optimizer, fraction of fine-tuning done, settings): performs the update instead of opt.step()
StepFn = Callable[[nn.Module, torch.optim.Optimizer, float, DFQSettings], None]


def kd_loss(student: torch.Tensor, teacher: torch.Tensor, labels: torch.Tensor, s: DFQSettings):
    """T^2 * KL(teacher_T || student_T) + ce_weight * CE(student, labels)."""
    t = s.temperature
    kl = F.kl_div(
        F.log_softmax(student / t, 1), F.log_softmax(teacher / t, 1), reduction="batchmean", log_target=True
    )
    loss = t * t * kl
    if s.ce_weight:
        loss = loss + s.ce_weight * F.cross_entropy(student, labels)
    return loss


def ce_loss(student: torch.Tensor, _teacher: torch.Tensor, labels: torch.Tensor, _s: DFQSettings):
    return F.cross_entropy(student, labels)


@dataclass(frozen=True)
class FinetuneMethod:
    loss: LossFn | None  # None: no fine-tuning (PTQ)
    step: StepFn | None = None  # None: the optimizer's own step
    needs_real_labels: bool = False


FINETUNES: dict[str, FinetuneMethod] = {
    "none": FinetuneMethod(None),
    "kd": FinetuneMethod(kd_loss),
    "qat": FinetuneMethod(ce_loss, needs_real_labels=True),
}


def register_finetune(name: str, method: FinetuneMethod) -> None:
    if name in FINETUNES:
        raise ValueError(f"fine-tuning {name!r} is registered twice")
    FINETUNES[name] = method


def finetune_names() -> list[str]:
    import dfq.methods  # noqa: F401  (registers the methods' fine-tunings)

    return sorted(FINETUNES)


def check_finetune(name: str, source: type[Source]) -> None:
    if name not in finetune_names():
        raise ValueError(f"unknown fine-tuning {name!r}; allowed: {finetune_names()}")
    if FINETUNES[name].needs_real_labels and not source.uses_real_data:
        raise ValueError(f"{name} trains on real labels; source {source.name!r} has none (use kd)")


def _optimizer(student: nn.Module, scales: list[nn.Parameter], settings: DFQSettings) -> torch.optim.Adam:
    """Adam over the student's parameters at ``finetune_lr`` and the learned activation scales (if any)
    at ``act_scale_lr``; each group's ``peak_lr`` is what the cosine schedule decays."""
    learned = {id(q) for q in scales}
    weights = [p for p in student.parameters() if p.requires_grad and id(p) not in learned]
    groups = [{"params": weights, "peak_lr": settings.finetune_lr}]
    if scales:
        groups.append({"params": scales, "peak_lr": settings.act_scale_lr})
    return torch.optim.Adam(groups, lr=settings.finetune_lr)


def finetune(
    student: nn.Module,
    teacher: nn.Module,
    source: Source,
    loss_name: str,
    settings: DFQSettings,
    seed: int = 0,
    progress: bool = False,
    on_step: Callable[[nn.Module, int], None] | None = None,
) -> list[float]:
    """Train ``student`` in place for ``settings.finetune_steps`` steps; returns the loss per step.
    ``on_step(student, k)`` is called after each step k = 1..steps (e.g. to follow an accuracy)."""
    method = FINETUNES[loss_name]
    loss_fn = method.loss
    if loss_fn is None or settings.finetune_steps == 0:
        return []
    gen = torch.Generator().manual_seed(seed + 7919)
    device = module_device(student)
    student.eval()
    teacher.eval()
    history: list[float] = []
    if settings.freeze_weight_grid:
        freeze_weight_grids(student)
    features = FeatureMatch(student, teacher) if settings.feature_kd_weight > 0 else contextlib.nullcontext()
    with learned_activation_scales(student, settings.act_scale_lr > 0) as scales, features:
        opt = _optimizer(student, scales, settings)
        steps = settings.finetune_steps
        for step in tqdm(range(steps), desc=f"fine-tune ({loss_name})", disable=not progress, leave=False):
            for group in opt.param_groups:
                group["lr"] = 0.5 * group["peak_lr"] * (1 + math.cos(math.pi * step / steps))
            images, labels = source.sample(settings.batch_size, gen)
            images, labels = images.to(device), labels.to(device)
            with torch.no_grad():
                teacher_logits = teacher(images)
            loss = loss_fn(student(images), teacher_logits, labels, settings)
            if settings.feature_kd_weight > 0:
                loss = loss + settings.feature_kd_weight * features.loss()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if method.step:
                method.step(student, opt, step / steps, settings)
            else:
                opt.step()
            history.append(loss.item())
            if on_step:
                on_step(student, step + 1)
    return history
