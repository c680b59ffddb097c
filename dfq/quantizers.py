"""Uniform affine quantizers as pure functions, plus straight-through fake quantization.

Conventions: ``q = clamp(round(x / scale) + zero_point, qmin, qmax)`` and ``x_hat = (q - zero_point) *
scale``. Weights are quantized per output channel (dim 0) and asymmetric; activations per tensor,
asymmetric, or unsigned (``zero_point = 0``) after ReLU-like ops. The zero point is an integer so that
0.0 is exactly representable (zero padding stays exact).
"""

from __future__ import annotations

import torch


def integer_range(bits: int, signed: bool = False) -> tuple[int, int]:
    if not 2 <= bits <= 16:
        raise ValueError(f"bits must be in 2..16, got {bits}")
    return (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)


def affine_params(
    lo: torch.Tensor, hi: torch.Tensor, bits: int, unsigned: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale and integer zero point mapping [lo, hi] (widened to contain 0) onto [0, 2^bits - 1].
    ``unsigned``: the range is [0, hi] and the zero point is 0."""
    qmin, qmax = integer_range(bits)
    lo = torch.zeros_like(lo) if unsigned else torch.minimum(lo, torch.zeros_like(lo))
    hi = torch.maximum(hi, torch.zeros_like(hi))
    scale = ((hi - lo) / (qmax - qmin)).clamp_min(torch.finfo(torch.float32).tiny * 2**10)
    zero_point = torch.clamp(torch.round(qmin - lo / scale), qmin, qmax)
    return scale, zero_point


def quantize(x: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor, bits: int) -> torch.Tensor:
    """Integers (as a float tensor) in [0, 2^bits - 1]; ``scale``/``zero_point`` broadcast against x."""
    qmin, qmax = integer_range(bits)
    return torch.clamp(torch.round(x / scale) + zero_point, qmin, qmax)


def dequantize(q: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor) -> torch.Tensor:
    return (q - zero_point) * scale


def _channel_shape(x: torch.Tensor) -> tuple[int, ...]:
    return (-1,) + (1,) * (x.dim() - 1)


def per_channel_minmax(w: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per output channel (dim 0) asymmetric min/max parameters, shaped to broadcast against ``w``."""
    flat = w.detach().reshape(w.shape[0], -1)
    scale, zp = affine_params(flat.min(1).values, flat.max(1).values, bits)
    return scale.view(_channel_shape(w)), zp.view(_channel_shape(w))


def per_channel_mse(w: torch.Tensor, bits: int, grid: int = 80) -> tuple[torch.Tensor, torch.Tensor]:
    """Per output channel, the clipping of the min/max range (shrunk by 1 - i/grid*0.8, i = 0..grid-1)
    that minimizes the squared quantization error of that channel."""
    flat = w.detach().reshape(w.shape[0], -1)
    lo, hi = flat.min(1).values, flat.max(1).values
    best_err = torch.full_like(lo, float("inf"))
    best_scale, best_zp = affine_params(lo, hi, bits)
    for i in range(grid):
        shrink = 1 - 0.8 * i / grid
        scale, zp = affine_params(lo * shrink, hi * shrink, bits)
        s, z = scale[:, None], zp[:, None]
        err = (dequantize(quantize(flat, s, z, bits), s, z) - flat).pow(2).sum(1)
        better = err < best_err
        best_err = torch.where(better, err, best_err)
        best_scale, best_zp = torch.where(better, scale, best_scale), torch.where(better, zp, best_zp)
    return best_scale.view(_channel_shape(w)), best_zp.view(_channel_shape(w))


class _RoundSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return torch.round(x)

    @staticmethod
    def backward(ctx, grad):
        return grad


def fake_quantize(x: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor, bits: int) -> torch.Tensor:
    """Quantize-dequantize with a straight-through gradient inside the clipping range (zero outside).
    Without a graph to record (inference, calibration, scoring) the same operations run in place on one
    buffer: the same values bit for bit, one allocation instead of five."""
    if not (torch.is_grad_enabled() and (x.requires_grad or scale.requires_grad)):
        return _quantize_dequantize_inplace(x / scale, scale, zero_point, bits)
    qmin, qmax = integer_range(bits)
    q = _RoundSTE.apply(x / scale) + zero_point
    return (torch.clamp(q, qmin, qmax) - zero_point) * scale


def _quantize_dequantize_inplace(scaled: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor,
                                 bits: int) -> torch.Tensor:  # fmt: skip
    """``scaled`` (a fresh ``x / scale``) rounded, shifted, clipped and dequantized in place."""
    return scaled.round_().add_(zero_point).clamp_(*integer_range(bits)).sub_(zero_point).mul_(scale)


@torch.no_grad()
def quantization_error(
    x: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor, bits: int
) -> torch.Tensor:
    """``fake_quantize(x) - x`` as a constant (no graph). ``x + quantization_error(x, ...)`` is the fake
    quantization with the identity as its straight-through gradient: exactly ``fake_quantize``'s gradient
    when the range holds every value of ``x`` (min/max ranges), at the cost of one addition backward."""
    x = x.detach()
    return _quantize_dequantize_inplace(x / scale, scale, zero_point, bits).sub_(x)


def sqnr_db(x: torch.Tensor, x_hat: torch.Tensor) -> float:
    """Signal-to-quantization-noise ratio in dB."""
    noise = (x - x_hat).pow(2).sum()
    return float(10 * torch.log10(x.pow(2).sum() / noise.clamp_min(1e-30)))
