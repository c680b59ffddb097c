"""Layer-wise reconstruction with learned rounding (``reconstruct``): AdaRound (Nagel et al. 2020) on the
source's synthetic images, as BRECQ and Genie run it data-free.

Rounding every weight to its nearest grid point is not what keeps a layer's *output* closest: at 4 bits
the choice between rounding down and up matters more than the grid. For each quantized layer in the
order the network runs them:

- its input is recorded from the quantized student (earlier layers already reconstructed, activations
  quantized), its target from the full-precision teacher's same layer, on ``reconstruct_images``
  synthetic images of the source;
- each weight w on the layer's frozen grid (scale s, zero point z) becomes
  ``s * (clamp(floor(w / s) + h(V) + z) - z)`` with a learned ``V`` and the rectified sigmoid
  ``h(V) = clip(1.2 sigmoid(V) - 0.1, 0, 1)``, started at w's own fraction (so the first step is the
  float weight);
- Adam minimises the output's squared error, relative to the target's mean square, plus
  ``reconstruct_round_weight`` times the mean of ``1 - |2h - 1|^beta``, which pushes every h to 0 or 1
  (beta anneals from 20 to 2 after the first 20% of the steps, no regulariser before);
- the weight is then written as its rounded grid value (h >= 0.5 rounds up), and the grid is frozen, so
  that the student computes exactly the learned rounding from then on.

Biases, BatchNorm and activation ranges stay as calibrated. The shared fine-tuning knobs
(``finetune_steps``, ``finetune_lr``, learned activation scales, feature distillation) do not apply.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from tqdm import tqdm

from dfq.finetunes.base import FINETUNES, FinetuneMethod
from dfq.quant_model import QuantWrapper, forward_with
from dfq.quantizers import integer_range
from dfq.settings import DFQSettings, MethodConfig
from dfq.sources.base import Source
from nas.device import module_device

ZETA, GAMMA = 1.1, -0.1  # the rectified sigmoid's stretch: h reaches exactly 0 and 1
WARMUP = 0.2  # fraction of a layer's steps before the rounding regulariser starts
BETA = (20.0, 2.0)


@dataclass(frozen=True)
class ReconstructConfig(MethodConfig):
    reconstruct_images: int = 256  # synthetic images every layer is reconstructed on
    reconstruct_iters: int = 300  # Adam steps per layer
    reconstruct_lr: float = 1e-2  # on the rounding variables V
    reconstruct_round_weight: float = 0.01  # weight of the rounding regulariser

    def __post_init__(self) -> None:
        self._check(positive=("reconstruct_images", "reconstruct_iters", "reconstruct_lr"),
                    non_negative=("reconstruct_round_weight",))  # fmt: skip


def rectified_sigmoid(v: torch.Tensor) -> torch.Tensor:
    return torch.clamp(torch.sigmoid(v) * (ZETA - GAMMA) + GAMMA, 0.0, 1.0)


def initial_v(fraction: torch.Tensor) -> torch.Tensor:
    """V with ``rectified_sigmoid(V) == fraction`` (fractions in [0, 1))."""
    return -torch.log((ZETA - GAMMA) / (fraction - GAMMA) - 1)


class LearnedRounding:
    """The soft and the hard quantized weight of one layer on its frozen grid."""

    def __init__(self, wrapper: QuantWrapper):
        wrapper.freeze_weight_grid()
        self.wrapper = wrapper
        w = wrapper.layer.weight.detach()
        self.scale, self.zero_point = wrapper.weight_grid(w)
        self.qmin, self.qmax = integer_range(wrapper.w_bits)
        scaled = w / self.scale
        self.floor = torch.floor(scaled)
        self.v = nn.Parameter(initial_v(scaled - self.floor))

    def weight(self, hard: bool = False) -> torch.Tensor:
        up = (self.v >= 0).to(self.floor.dtype) if hard else rectified_sigmoid(self.v)
        codes = torch.clamp(self.floor + up + self.zero_point, self.qmin, self.qmax)
        return (codes - self.zero_point) * self.scale

    def regulariser(self, beta: float) -> torch.Tensor:
        return (1 - (2 * rectified_sigmoid(self.v) - 1).abs().pow(beta)).mean()

    @torch.no_grad()
    def commit(self) -> None:
        """Write the hard rounding into the layer: its fake quantization now returns exactly it."""
        self.wrapper.layer.weight.copy_(self.weight(hard=True))


class _Stop(Exception):
    """Ends a forward pass once the recorded layer has run."""


@torch.no_grad()
def record(model: nn.Module, module: nn.Module, batches: list[torch.Tensor], output: bool) -> torch.Tensor:
    """``module``'s input (or output) over ``batches``, the forward stopped right after it."""
    seen: list[torch.Tensor] = []

    def hook(_, inputs, out):
        seen.append((out if output else inputs[0]).detach())
        raise _Stop

    handle = module.register_forward_hook(hook)
    try:
        for batch in batches:
            try:
                model(batch)
            except _Stop:
                pass
    finally:
        handle.remove()
    return torch.cat(seen)


def execution_order(student: nn.Module, batch: torch.Tensor) -> list[tuple[str, QuantWrapper]]:
    """The quantized layers as the network runs them (module order need not be run order)."""
    order: list[str] = []
    names = {id(m): n for n, m in student.named_modules() if isinstance(m, QuantWrapper)}
    handles = [m.register_forward_pre_hook(lambda mod, _: order.append(names[id(mod)]))
               for m in student.modules() if isinstance(m, QuantWrapper)]  # fmt: skip
    try:
        with torch.no_grad():
            student(batch[:1])
    finally:
        for h in handles:
            h.remove()
    return [(n, student.get_submodule(n)) for n in dict.fromkeys(order)]


def beta_at(progress: float) -> float:
    """The regulariser's exponent: 20 at the end of the warm-up, cosine-annealed to 2."""
    t = (progress - WARMUP) / (1 - WARMUP)
    return BETA[1] + 0.5 * (BETA[0] - BETA[1]) * (1 + math.cos(math.pi * t))


def reconstruct_layer(wrapper: QuantWrapper, inputs: torch.Tensor, targets: torch.Tensor, batch_size: int,
                      config: ReconstructConfig, gen: torch.Generator) -> list[float]:  # fmt: skip
    """Learn ``wrapper``'s rounding so that its quantized output on ``inputs`` matches ``targets``;
    returns the relative reconstruction error per step."""
    rounding = LearnedRounding(wrapper)
    opt = torch.optim.Adam([rounding.v], lr=config.reconstruct_lr)
    power = targets.pow(2).mean().clamp_min(1e-12)
    with torch.no_grad():
        quantized_inputs = wrapper.act(inputs)
    history = []
    for step in range(config.reconstruct_iters):
        pick = torch.randint(len(inputs), (min(batch_size, len(inputs)),), generator=gen).to(inputs.device)
        out = forward_with(wrapper.layer, quantized_inputs[pick], rounding.weight(), wrapper.layer.bias)
        error = (out - targets[pick]).pow(2).mean() / power
        progress = step / config.reconstruct_iters
        loss = error
        if progress >= WARMUP:
            loss = error + config.reconstruct_round_weight * rounding.regulariser(beta_at(progress))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        history.append(error.item())
    rounding.commit()
    return history


def reconstruct(student: nn.Module, teacher: nn.Module, source: Source, settings: DFQSettings,
                config: ReconstructConfig, seed: int = 0, progress: bool = False) -> list[float]:  # fmt: skip
    """Reconstruct every quantized layer of ``student`` in run order (see the module doc); returns the
    relative reconstruction error of every step, layer after layer."""
    gen = torch.Generator().manual_seed(seed + 7919)
    device = module_device(student)
    student.eval()
    teacher.eval()
    batches = []
    for start in range(0, config.reconstruct_images, settings.batch_size):
        count = min(settings.batch_size, config.reconstruct_images - start)
        batches.append(source.sample(count, gen)[0].to(device))
    history: list[float] = []
    layers = execution_order(student, batches[0])
    for name, wrapper in tqdm(layers, desc="reconstruct", disable=not progress, leave=False):
        inputs = record(student, wrapper, batches, output=False)
        targets = record(teacher, teacher.get_submodule(name), batches, output=True)
        history += reconstruct_layer(wrapper, inputs, targets, settings.batch_size, config, gen)
    return history


FINETUNES.add("reconstruct", FinetuneMethod(None, run=reconstruct, config_class=ReconstructConfig))
