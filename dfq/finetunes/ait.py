"""AIT (Choi et al. 2022, "It's All In the Teacher") as a fine-tuning: KL-only distillation and
gradient inundation.

- Loss: ``T^2 * KL(teacher_T || student_T)`` only; no cross-entropy on the source's labels.
- Gradient inundation: a fake-quantized weight changes the network only when it crosses a rounding
  boundary, and with small steps few do. For each quantized layer whose optimizer step changes the
  integer code of fewer than a threshold fraction of its weights, the step is replaced by one along the
  layer's negative gradient (at the optimizer step's mean size), enlarged by the smallest s >= 1 for which
  at least that fraction changes code: s doubles until enough change (at most 2^12), then bisection
  between s/2 and s narrows it. The threshold follows a cosine schedule from ``ait_threshold`` to 0 over
  fine-tuning. Other parameters (biases, BN) take the optimizer's step as is.

Why along the gradient: AIT enlarges the gradient of an SGD step, so the weights it pushes across a
boundary are the ones the loss most wants to move. An Adam step is about the same size for every weight,
so enlarging *it* moves all weights alike and flips whichever sit nearest a boundary. Implemented that
way first, inundation needed scales of up to 2^13 at W2A4 and left a ResNet-20 student at 10% validation
accuracy after 25 steps (``benchmarks/ait_trajectory.py``); along the gradient it stays within a few
tenths of a point of KD there.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn

from dfq.finetunes.base import FINETUNES, FinetuneMethod
from dfq.finetunes.kd import kd_loss
from dfq.quant_model import QuantWrapper
from dfq.quantizers import quantize
from dfq.settings import DFQSettings, MethodConfig

MAX_SCALE = 2.0**12
BISECTIONS = 8


def integer_codes(wrapper: QuantWrapper, weight: torch.Tensor) -> torch.Tensor:
    """The integer code of every weight under the layer's quantizer: on its frozen grid, if it has one,
    else at ``weight``'s own range."""
    scale, zero_point = wrapper.weight_grid(weight)
    return quantize(weight, scale, zero_point, wrapper.w_bits)


def changed_fraction(wrapper: QuantWrapper, before: torch.Tensor, after: torch.Tensor) -> float:
    return float((integer_codes(wrapper, after) != integer_codes(wrapper, before)).float().mean())


def inundation_scale(
    wrapper: QuantWrapper, before: torch.Tensor, delta: torch.Tensor, threshold: float
) -> float:
    """The smallest scale s >= 1 (to the bisection's precision) with changed_fraction >= threshold, at
    most ``MAX_SCALE``."""
    if threshold <= 0 or changed_fraction(wrapper, before, before + delta) >= threshold:
        return 1.0
    hi = 2.0
    while changed_fraction(wrapper, before, before + hi * delta) < threshold:
        if hi >= MAX_SCALE:
            return MAX_SCALE  # the cap: even this many times the step does not reach the threshold
        hi *= 2
    lo = hi / 2
    for _ in range(BISECTIONS):
        mid = (lo + hi) / 2
        if changed_fraction(wrapper, before, before + mid * delta) >= threshold:
            hi = mid
        else:
            lo = mid
    return hi


@dataclass(frozen=True)
class AITConfig(MethodConfig):
    # fraction of each layer's weights whose integer code must change per step, at the start
    # (cosine-decayed to 0 over fine-tuning)
    ait_threshold: float = 0.01

    def __post_init__(self) -> None:
        self._check(unit=("ait_threshold",))


def threshold_at(progress: float, config: AITConfig) -> float:
    return config.ait_threshold * 0.5 * (1 + torch.cos(torch.tensor(torch.pi * progress)).item())


@torch.no_grad()
def _snapshot(student: nn.Module) -> dict[QuantWrapper, torch.Tensor]:
    return {m: m.layer.weight.detach().clone() for m in student.modules() if isinstance(m, QuantWrapper)}


def gradient_step(wrapper: QuantWrapper, optimizer_step: torch.Tensor) -> torch.Tensor:
    """The layer's negative weight gradient, scaled to the optimizer step's mean absolute size."""
    grad = wrapper.layer.weight.grad
    if grad is None or grad.abs().max() == 0:
        return optimizer_step
    return -grad * (optimizer_step.abs().mean() / grad.abs().mean())


def inundated_step(
    student: nn.Module, opt: torch.optim.Optimizer, progress: float, config: AITConfig
) -> None:
    """The optimizer's step; then every quantized layer whose step changes too few integer codes takes
    an enlarged step along its gradient instead (see the module doc)."""
    threshold = threshold_at(progress, config)
    if threshold <= 0:
        opt.step()  # the schedule has ended: the optimizer's step as is, no weight snapshot
        return
    before = _snapshot(student)
    opt.step()
    with torch.no_grad():
        for wrapper, w0 in before.items():
            delta = wrapper.layer.weight - w0
            if delta.abs().max() == 0 or changed_fraction(wrapper, w0, w0 + delta) >= threshold:
                continue
            along = gradient_step(wrapper, delta)
            wrapper.layer.weight.copy_(w0 + inundation_scale(wrapper, w0, along, threshold) * along)


def kl_only(student, teacher, labels, settings: DFQSettings):
    """AIT distils with the KL term alone."""
    return kd_loss(student, teacher, labels, replace(settings, ce_weight=0.0))


FINETUNES.add("ait", FinetuneMethod(kl_only, inundated_step, config_class=AITConfig))
