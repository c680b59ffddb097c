"""Precision as a search variable: the bit-width logits, and a quantization-aware supernet.

The accelerator's bit width is also the network's: in both steps of a search the supernet runs with every
conv and linear weight fake-quantized per output channel (min/max) and every input of those layers per
tensor (the batch's min/max), at the search's bit width, with ``dfq.quantizers`` (min/max ranges clip
nothing, so the straight-through gradient is the identity and the rounding error is added as a constant:
one addition backward). The bit width comes as a ``[n_bits]`` mix: in the weight step a plain one-hot
sample (only that width is computed); in the architecture step a straight-through Gumbel sample, so the
output is ``sum_b mix_b * layer(Q_b(x), Q_b(w))`` in gradient but exactly the sampled width in value, and
the cross-entropy reaches the bits logits. That gradient needs every width's rounding error at every layer
input, which makes the architecture step the expensive one (``benchmarks/search_overhead.py``). At 16 bits
the error is about 1e-5 of a tensor's range (free); at 4 bits it is what it is.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from dfq.quantizers import affine_params, per_channel_minmax, quantization_error


class BitsParams(nn.Module):
    """Logits over the design space's bit widths (``choices``, ascending); ``fixed`` ones do not learn."""

    def __init__(self, choices: tuple[int, ...], fixed: int | None = None):
        super().__init__()
        self.choices = tuple(choices)
        logits = torch.zeros(len(self.choices))
        if fixed is not None:
            if fixed not in self.choices:
                raise ValueError(f"bit width {fixed} is not one of {list(self.choices)}")
            logits[self.choices.index(fixed)] = 1e4
        self.logits = nn.Parameter(logits, requires_grad=fixed is None)

    def probs(self) -> torch.Tensor:
        return F.softmax(self.logits, dim=-1)

    def one_hot(self, bits: int) -> torch.Tensor:
        return F.one_hot(torch.tensor(self.choices.index(bits)), len(self.choices)).float()

    def derive(self) -> int:
        """The most likely bit width."""
        return self.choices[int(self.logits.argmax())]

    def sample(self, tau: float, generator: torch.Generator | None = None) -> torch.Tensor:
        """A hard one-hot sample with the Gumbel-softmax gradient (straight-through)."""
        u = torch.rand(self.logits.shape, generator=generator).clamp_(1e-9, 1 - 1e-9)
        soft = F.softmax((self.logits - torch.log(-torch.log(u))) / tau, dim=-1)
        return F.one_hot(soft.argmax(), len(self.choices)).to(soft) + (soft - soft.detach())

    @torch.no_grad()
    def draw(self, generator: torch.Generator | None = None, uniform: bool = False) -> torch.Tensor:
        """A one-hot sample without gradient: from the probabilities, or uniform (weight warm-up)."""
        p = torch.ones(len(self.choices)) if uniform else self.probs()
        return F.one_hot(torch.multinomial(p, 1, generator=generator)[0], len(self.choices)).float()

    @torch.no_grad()
    def entropy(self) -> float:
        p = self.probs()
        return float(-(p * torch.log(p.clamp_min(1e-12))).sum())


def _nhwc(x: torch.Tensor) -> torch.Tensor:
    """The elements of ``x`` in (N, H, W, C) order, 1-D: a view of a channels_last tensor (a min/max over
    a channels_last tensor is about 10x slower than over this view), a copy otherwise."""
    return (x.permute(0, 2, 3, 1) if x.dim() == 4 else x).reshape(-1)


def _weight_error(w: torch.Tensor, bits: int) -> torch.Tensor:
    return quantization_error(w, *per_channel_minmax(w, bits), bits)


def _activation_error(x: torch.Tensor, bits: int) -> torch.Tensor:
    lo, hi = torch.aminmax(_nhwc(x.detach()))
    return quantization_error(x, *affine_params(lo, hi, bits), bits)


EXACT_BITS = 16  # rounding at this many bits or more changes a tensor by ~1e-5 of its range: its error
# is taken as zero in the mix's gradient (one rounding of every layer input saved per architecture step)


class _ActivationMix(torch.autograd.Function):
    """``x + sum_b mix_b * error_b(x)`` (per-tensor min/max rounding errors, constants) for a one-hot
    ``mix``: the value rounds only at the sampled width. Backward, ``x`` gets the identity and ``mix_b``
    gets ``<grad, error_b>``, each width's error recomputed into one buffer (no tensor kept per width)."""

    @staticmethod
    def forward(ctx, x, mix, choices):
        lo, hi = torch.aminmax(_nhwc(x.detach()))
        params = [affine_params(lo, hi, b) for b in choices]
        chosen = int(mix.argmax())
        ctx.save_for_backward(x)
        ctx.choices, ctx.params = choices, params
        return x + quantization_error(x, *params[chosen], choices[chosen])

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        xs, gs = _nhwc(x.detach()), _nhwc(grad)
        grad_mix = torch.zeros(len(ctx.choices), dtype=grad.dtype)
        for i, (p, b) in enumerate(zip(ctx.params, ctx.choices, strict=True)):
            if b < EXACT_BITS:
                grad_mix[i] = torch.dot(gs, quantization_error(xs, *p, b))
        return grad, grad_mix, None


def mixed(x: torch.Tensor, mix: torch.Tensor, choices: tuple[int, ...], error) -> torch.Tensor:
    """``sum_b mix_b * fake_quantize_b(x)`` for min/max ranges (nothing is clipped, so the straight-through
    gradient to ``x`` is the identity): ``x + sum_b mix_b * error(x, b)``, the errors constants. The mix sums
    to 1, so ``mix_b`` gets ``<grad, error_b>``, the same as from the full expression up to a term equal
    for every width, which the softmax behind the mix cancels. A mix without gradient runs one width."""
    if not mix.requires_grad:
        return x + error(x, choices[int(mix.argmax())])
    if error is _activation_error:
        return _ActivationMix.apply(x, mix, choices)
    return x + sum(m * error(x, b) for m, b in zip(mix, choices, strict=True))


class _Precision:
    """The bit-width mix a quantization-aware supernet runs at (None: full precision)."""

    def __init__(self, choices: tuple[int, ...]):
        self.choices, self.mix = choices, None


class QuantizedLayer(nn.Module):
    """A conv or linear layer whose input and weight are fake-quantized at the shared precision."""

    def __init__(self, layer: nn.Conv2d | nn.Linear, precision: _Precision):
        super().__init__()
        self.layer, self.precision = layer, precision

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mix, choices = self.precision.mix, self.precision.choices
        if mix is None:
            return self.layer(x)
        x = mixed(x, mix, choices, _activation_error)
        w = mixed(self.layer.weight, mix, choices, _weight_error)
        if isinstance(self.layer, nn.Linear):
            return F.linear(x, w, self.layer.bias)
        return self.layer._conv_forward(x, w, self.layer.bias)


def make_quantization_aware(model: nn.Module, choices: tuple[int, ...]) -> _Precision:
    """Wrap every conv and linear layer of ``model`` in place; the returned precision is what
    ``at_precision`` sets."""
    precision = _Precision(tuple(choices))

    def wrap(parent: nn.Module) -> None:
        for name, child in parent.named_children():
            if isinstance(child, nn.Conv2d | nn.Linear):
                setattr(parent, name, QuantizedLayer(child, precision))
            else:
                wrap(child)

    wrap(model)
    model.precision = precision
    return precision


@contextmanager
def at_precision(model: nn.Module, mix: torch.Tensor | None):
    """Within: ``model`` (made quantization-aware) runs at the bit-width ``mix`` (None: full precision)."""
    precision = getattr(model, "precision", None)
    if precision is None:
        if mix is not None:
            raise ValueError("the model is not quantization-aware (make_quantization_aware)")
        yield model
        return
    previous, precision.mix = precision.mix, mix
    try:
        yield model
    finally:
        precision.mix = previous
