"""The fine-tuning loop of a fake-quantized student, for every registered fine-tuning (``dfq/finetunes/``):
its loss on the source's batches against the full-precision teacher, and its step (AIT's gradient
inundation) or the optimizer's.

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

import torch
from torch import nn
from tqdm import tqdm

from dfq.feature_kd import FeatureMatch
from dfq.finetunes import FINETUNES
from dfq.quant_model import freeze_weight_grids, learned_activation_scales
from dfq.settings import DFQSettings
from dfq.sources.base import Source
from nas.device import module_device


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
    on_step: Callable[[nn.Module, int, float], None] | None = None,
) -> list[float]:
    """Train ``student`` in place for ``settings.finetune_steps`` steps; returns the loss per step.
    ``on_step(student, k, loss)`` is called after each step k = 1..steps (e.g. to follow an accuracy)."""
    method = FINETUNES.get(loss_name)
    config = settings.config(method.config_class) if method.config_class else None
    if method.run is not None:
        return method.run(student, teacher, source, settings, config, seed, progress)
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
                method.step(student, opt, step / steps, config)
            else:
                opt.step()
            history.append(loss.item())
            if on_step:
                on_step(student, step + 1, history[-1])
    return history
