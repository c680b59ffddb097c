"""AIT (Choi et al. 2022, "It's All In the Teacher") as a fine-tuning: KL-only distillation and
gradient inundation.

- Loss: ``T^2 * KL(teacher_T || student_T)`` only; no cross-entropy on the source's labels.
- Gradient inundation: a fake-quantized weight changes the network only when it crosses a rounding
  boundary, and with small steps few do. After the optimizer proposes its update Delta for a quantized
  layer, the step is scaled by the smallest s >= 1 for which at least a threshold fraction of that layer's
  weights change their integer code: s doubles until enough change (at most 2^12), then bisection between
  s/2 and s narrows it. The threshold follows a cosine schedule from ``ait_threshold`` to 0 over
  fine-tuning. Other parameters (biases, BN) take the optimizer's step as is.
"""

from __future__ import annotations

import torch
from torch import nn

from dfq.finetune import FinetuneMethod, kd_loss, register_finetune
from dfq.quant_model import QuantWrapper
from dfq.quantizers import quantize
from dfq.settings import DFQSettings

MAX_DOUBLINGS = 12
BISECTIONS = 8


def integer_codes(wrapper: QuantWrapper, weight: torch.Tensor) -> torch.Tensor:
    """The integer code of every weight under the layer's quantizer, at ``weight``'s own range."""
    scale, zero_point = wrapper.clip(weight, wrapper.w_bits)
    return quantize(weight, scale, zero_point, wrapper.w_bits)


def changed_fraction(wrapper: QuantWrapper, before: torch.Tensor, after: torch.Tensor) -> float:
    return float((integer_codes(wrapper, after) != integer_codes(wrapper, before)).float().mean())


def inundation_scale(
    wrapper: QuantWrapper, before: torch.Tensor, delta: torch.Tensor, threshold: float
) -> float:
    """The smallest scale s >= 1 (to the bisection's precision) with changed_fraction >= threshold."""
    if threshold <= 0 or changed_fraction(wrapper, before, before + delta) >= threshold:
        return 1.0
    hi = 2.0
    for _ in range(MAX_DOUBLINGS):
        if changed_fraction(wrapper, before, before + hi * delta) >= threshold:
            break
        hi *= 2
    lo = hi / 2
    for _ in range(BISECTIONS):
        mid = (lo + hi) / 2
        if changed_fraction(wrapper, before, before + mid * delta) >= threshold:
            hi = mid
        else:
            lo = mid
    return hi


def threshold_at(progress: float, settings: DFQSettings) -> float:
    return settings.ait_threshold * 0.5 * (1 + torch.cos(torch.tensor(torch.pi * progress)).item())


@torch.no_grad()
def _snapshot(student: nn.Module) -> dict[QuantWrapper, torch.Tensor]:
    return {m: m.layer.weight.detach().clone() for m in student.modules() if isinstance(m, QuantWrapper)}


def inundated_step(
    student: nn.Module, opt: torch.optim.Optimizer, progress: float, settings: DFQSettings
) -> None:
    """The optimizer's step, then every quantized layer's weight step rescaled (see the module doc)."""
    before = _snapshot(student)
    opt.step()
    threshold = threshold_at(progress, settings)
    with torch.no_grad():
        for wrapper, w0 in before.items():
            delta = wrapper.layer.weight - w0
            if delta.abs().max() == 0:
                continue
            wrapper.layer.weight.copy_(w0 + inundation_scale(wrapper, w0, delta, threshold) * delta)


def kl_only(student, teacher, labels, settings: DFQSettings):
    """AIT distils with the KL term alone."""
    return kd_loss(student, teacher, labels, DFQSettings(**{**settings.to_dict(), "ce_weight": 0.0}))


register_finetune("ait", FinetuneMethod(kl_only, inundated_step))
