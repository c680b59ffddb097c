"""Triton kernels for the memory-bound DFQ hot paths, each one pass over the tensor per direction.

- ``fake_quant``: quantize-dequantize, per channel (dim 0, weights) or per tensor (activations), any bit
  width 2-16. Backward: the straight-through gradient inside the clipping range, zero outside; and, when
  ``scale`` needs a gradient (learned activation ranges), LSQ's: ``round(x/s) - x/s`` inside the range,
  ``q_clamped - z`` outside, summed from per-block partials (in a fixed order: deterministic).
- ``bn_stats``: the per-channel mean and biased variance of an ``[N, C, H, W]`` activation. A channels_last
  tensor is read as an [N*H*W, C] matrix in row tiles, an NCHW one as an [N*C, H*W] matrix along its
  rows, both coalesced; per-block (count, mean, M2) partials are merged with Chan's formula (no
  cancellation of a sum of squares). Backward, one elementwise pass in memory order:
  ``dmean / M + dvar * 2 (x - mean) / M``.

Rounding is half to even (``torch.round``'s) and the division is IEEE's (``div_rn``), so the codes equal
the reference's. With ``TRITON_INTERPRET=1`` the kernels run on the CPU (slowly), which the tests use.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

BLOCK = 1024  # elements (or a tile's rows x columns) per program


@triton.jit
def _round_half_even(v):
    f = tl.floor(v + 0.5)
    tie = (f - v) == 0.5
    odd = (f - 2.0 * tl.floor(f * 0.5)) != 0.0
    return tl.where(tie & odd, f - 1.0, f)


@triton.jit
def _fq_forward(x_ptr, s_ptr, z_ptr, y_ptr, n, inner, qmin, qmax, PER_CHANNEL: tl.constexpr,
                BLOCK: tl.constexpr):  # fmt: skip
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    if PER_CHANNEL:  # the row's (dim 0) grid
        s = tl.load(s_ptr + offs // inner, mask=mask, other=1.0)
        z = tl.load(z_ptr + offs // inner, mask=mask, other=0.0)
    else:
        s = tl.load(s_ptr)
        z = tl.load(z_ptr)
    q = tl.minimum(tl.maximum(_round_half_even(tl.math.div_rn(x, s)) + z, qmin), qmax)
    tl.store(y_ptr + offs, ((q - z) * s).to(y_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _fq_backward(x_ptr, g_ptr, s_ptr, z_ptr, gx_ptr, gs_ptr, n, inner, qmin, qmax,
                 PER_CHANNEL: tl.constexpr, SCALE_GRAD: tl.constexpr, BLOCK: tl.constexpr):  # fmt: skip
    pid = tl.program_id(0)
    offs = pid.to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    g = tl.load(g_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    if PER_CHANNEL:
        s = tl.load(s_ptr + offs // inner, mask=mask, other=1.0)
        z = tl.load(z_ptr + offs // inner, mask=mask, other=0.0)
    else:
        s = tl.load(s_ptr)
        z = tl.load(z_ptr)
    v = tl.math.div_rn(x, s)
    r = _round_half_even(v) + z
    inside = (r >= qmin) & (r <= qmax)
    tl.store(gx_ptr + offs, tl.where(inside, g, 0.0).to(gx_ptr.dtype.element_ty), mask=mask)
    if SCALE_GRAD:
        q = tl.minimum(tl.maximum(r, qmin), qmax)
        d = tl.where(inside, r - z - v, q - z)
        tl.store(gs_ptr + pid, tl.sum(tl.where(mask, g * d, 0.0), axis=0))


class _FakeQuant(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale, zero_point, bits):
        xc = x.contiguous()
        per_channel = scale.numel() > 1
        # a 0-d scale may live on the CPU (torch broadcasts it); the kernel reads it on x's device
        s = scale.detach().reshape(-1).to(xc.device, torch.float32).contiguous()
        z = zero_point.detach().reshape(-1).to(xc.device, torch.float32).contiguous()
        n = xc.numel()
        inner = n // xc.shape[0] if per_channel else 1
        qmin, qmax = 0.0, float(2**bits - 1)
        y = torch.empty_like(xc)
        _fq_forward[(triton.cdiv(n, BLOCK),)](xc, s, z, y, n, inner, qmin, qmax, per_channel, BLOCK)
        ctx.save_for_backward(xc, s, z)
        ctx.meta = (per_channel, inner, qmin, qmax, scale)
        return y

    @staticmethod
    def backward(ctx, grad):
        xc, s, z = ctx.saved_tensors
        per_channel, inner, qmin, qmax, scale = ctx.meta
        gc = grad.contiguous()
        n = xc.numel()
        scale_grad = ctx.needs_input_grad[1] and not per_channel
        gx = torch.empty_like(xc)
        blocks = triton.cdiv(n, BLOCK)
        partials = torch.empty(blocks if scale_grad else 1, device=xc.device)
        _fq_backward[(blocks,)](xc, gc, s, z, gx, partials, n, inner, qmin, qmax, per_channel, scale_grad,
                                BLOCK)  # fmt: skip
        gs = partials.sum().reshape(scale.shape).to(scale.device, scale.dtype) if scale_grad else None
        return gx, gs, None, None


def fake_quant(x: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor, bits: int) -> torch.Tensor:
    """As ``dfq.kernels.reference.fake_quant``, one fused pass each way. A per-channel scale takes no
    gradient here (weight grids are derived from the weights, not learned)."""
    return _FakeQuant.apply(x, scale, zero_point, bits)


@triton.jit
def _stats_columns(x_ptr, mean_ptr, m2_ptr, m, c, BLOCK_M: tl.constexpr, BLOCK_C: tl.constexpr):
    """channels_last, ``x`` as an [M, C] matrix: per column, the mean and M2 of BLOCK_M rows."""
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    cols = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    mask = (rows[:, None] < m) & (cols[None, :] < c)
    x = tl.load(x_ptr + rows[:, None] * c + cols[None, :], mask=mask, other=0.0).to(tl.float32)
    count = tl.minimum(m - tl.program_id(0) * BLOCK_M, BLOCK_M).to(tl.float32)
    mean = tl.sum(x, axis=0) / count
    dev = tl.where(mask, x - mean[None, :], 0.0)
    out = tl.program_id(0) * c + cols
    tl.store(mean_ptr + out, mean, mask=cols < c)
    tl.store(m2_ptr + out, tl.sum(dev * dev, axis=0), mask=cols < c)


@triton.jit
def _stats_rows(x_ptr, mean_ptr, m2_ptr, hw, BLOCK_K: tl.constexpr):
    """NCHW, ``x`` as an [N*C, HW] matrix: per row, the mean and M2 of a block of BLOCK_K columns."""
    row = tl.program_id(0)
    k = tl.program_id(1) * BLOCK_K + tl.arange(0, BLOCK_K)
    mask = k < hw
    x = tl.load(x_ptr + row * hw + k, mask=mask, other=0.0).to(tl.float32)
    count = tl.minimum(hw - tl.program_id(1) * BLOCK_K, BLOCK_K).to(tl.float32)
    mean = tl.sum(x, axis=0) / count
    dev = tl.where(mask, x - mean, 0.0)
    out = row * tl.num_programs(1) + tl.program_id(1)
    tl.store(mean_ptr + out, mean)
    tl.store(m2_ptr + out, tl.sum(dev * dev, axis=0))


@triton.jit
def _stats_backward(x_ptr, gx_ptr, a_ptr, b_ptr, n, c, hw, CHANNELS_LAST: tl.constexpr, BLOCK: tl.constexpr):
    """``gx = a[channel] + b[channel] * x``, elementwise in memory order."""
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    ch = offs % c if CHANNELS_LAST else (offs // hw) % c
    x = tl.load(x_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    gx = tl.load(a_ptr + ch, mask=mask, other=0.0) + tl.load(b_ptr + ch, mask=mask, other=0.0) * x
    tl.store(gx_ptr + offs, gx.to(gx_ptr.dtype.element_ty), mask=mask)


def _merge(counts: torch.Tensor, means: torch.Tensor, m2s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Chan's merge of per-block (count [P], mean [C, P], M2 [C, P]) into per-channel mean and variance,
    in a fixed order (deterministic)."""
    total = counts.sum()
    mean = (means * counts).sum(1) / total
    m2 = m2s.sum(1) + ((means - mean[:, None]) ** 2 * counts).sum(1)
    return mean, m2 / total


def _block_counts(length: int, block: int, device) -> torch.Tensor:
    starts = torch.arange(0, length, block, device=device, dtype=torch.float32)
    return torch.clamp(length - starts, max=block)


class _BNStats(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        channels_last = x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
        x = x if channels_last or x.is_contiguous() else x.contiguous()
        n, c, h, w = x.shape
        hw, m = h * w, n * h * w
        if channels_last:
            block_c = min(triton.next_power_of_2(c), 128)
            block_m = max(4096 // block_c, 1)
            parts = triton.cdiv(m, block_m)
            mean, m2 = (torch.empty(parts, c, device=x.device) for _ in range(2))
            _stats_columns[(parts, triton.cdiv(c, block_c))](x, mean, m2, m, c, block_m, block_c)
            counts = _block_counts(m, block_m, x.device)
            mean, m2 = mean.t(), m2.t()
        else:
            block_k = min(triton.next_power_of_2(hw), 4096)
            kb = triton.cdiv(hw, block_k)
            mean, m2 = (torch.empty(n, c, kb, device=x.device) for _ in range(2))
            _stats_rows[(n * c, kb)](x, mean, m2, hw, block_k)
            counts = _block_counts(hw, block_k, x.device).repeat(n)
            mean, m2 = (t.permute(1, 0, 2).reshape(c, n * kb) for t in (mean, m2))
        total_mean, var = _merge(counts, mean, m2)
        ctx.save_for_backward(x, total_mean)
        ctx.channels_last = channels_last
        return total_mean.to(x.dtype), var.to(x.dtype)

    @staticmethod
    def backward(ctx, grad_mean, grad_var):
        x, mean = ctx.saved_tensors
        n, c, h, w = x.shape
        m = n * h * w
        gm = torch.zeros(c, device=x.device) if grad_mean is None else grad_mean.float()
        gv = torch.zeros(c, device=x.device) if grad_var is None else grad_var.float()
        b = (2.0 * gv / m).contiguous()
        a = (gm / m - b * mean).contiguous()
        gx = torch.empty_like(x)
        _stats_backward[(triton.cdiv(x.numel(), BLOCK),)](
            x, gx, a, b, x.numel(), c, h * w, ctx.channels_last, BLOCK
        )
        return gx


def bn_stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """As ``dfq.kernels.reference.bn_stats``: one pass over ``x`` forward, one backward."""
    return _BNStats.apply(x)
