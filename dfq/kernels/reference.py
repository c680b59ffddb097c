"""The torch reference of the DFQ hot paths: the default on the CPU and what the Triton kernels are tested
against. Plain autograd: fake quantization is ``dfq.quantizers.fake_quantize`` (straight-through inside
the clipping range, and the learned-scale gradient through ``scale``); the BN statistics are the biased
per-channel mean and variance over (N, H, W)."""

from __future__ import annotations

import torch

from dfq.quantizers import fake_quantize


def fake_quant(x: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor, bits: int) -> torch.Tensor:
    """Quantize-dequantize ``x``: ``scale``/``zero_point`` per tensor (0-d) or per channel of dim 0
    (shaped ``[C, 1, ...]``). Gradients reach ``x`` (zero outside the range) and ``scale`` if it needs one."""
    return fake_quantize(x, scale, zero_point, bits)


def bn_stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and biased variance of an ``[N, C, H, W]`` activation over (N, H, W)."""
    return x.mean(dim=(0, 2, 3)), x.var(dim=(0, 2, 3), unbiased=False)
