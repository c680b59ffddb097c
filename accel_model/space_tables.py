"""Expectations of tables over the whole design space under independent per-field probabilities.

A table ``[U, F, *space shape]`` (one entry per accelerator, ``FIELDS`` order) under ``AccelProbs`` is
the multilinear extension: sum over accelerators of the table times the product of the fields'
probabilities. It is differentiable in the probabilities and equals the table entry at a one-hot vertex.

At vertices (what straight-through Gumbel-softmax and hard accelerators give) it is a lookup; its
gradient is the multilinear one, one field at a time: the table along that field, the others held at
the vertex. Elsewhere each accelerator's joint probability over the space weights the table, in chunks.
"""

from __future__ import annotations

import torch

from accel_model.soft_accel import AccelProbs

CHUNK = 16


# a straight-through one-hot written as hard + soft - soft.detach() is off by rounding
VERTEX_TOLERANCE = 1e-6


def at_vertices(probs: AccelProbs) -> bool:
    """Whether every group is one-hot in value (hard, or straight-through up to rounding)."""
    for p in probs:
        ones, zeros = (p - 1).abs() <= VERTEX_TOLERANCE, p.abs() <= VERTEX_TOLERANCE
        if not bool((ones | zeros).all()) or not bool((ones.sum(1) == 1).all()):
            return False
    return True


def _vertex_grads(needed, idx: list[torch.Tensor], along, equation: str, grad: torch.Tensor) -> list:
    """Per field, the multilinear gradient at the vertices ``idx``: ``along(f, other fields' indices)``
    is the table along field ``f`` with the others held, contracted with ``grad`` by ``equation``."""
    grads = []
    for f, wanted in enumerate(needed):
        if not wanted:
            grads.append(None)
            continue
        table = along(f, idx[:f] + idx[f + 1 :])
        grads.append(torch.einsum(equation, table, grad.to(table)))
    return grads


class _GridLookup(torch.autograd.Function):
    """``table [U, F, *S]`` at vertices ``probs`` (one-hot ``[A, s]`` each): ``[U, A, F]``."""

    @staticmethod
    def forward(ctx, table: torch.Tensor, *probs: torch.Tensor) -> torch.Tensor:
        idx = [p.argmax(1) for p in probs]
        ctx.save_for_backward(table, *idx)
        return table[(slice(None), slice(None), *idx)].permute(0, 2, 1)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        table, *idx = ctx.saved_tensors

        def along(f, rest):  # [s, U, F, A]
            return table.movedim(2 + f, 0)[(slice(None), slice(None), slice(None), *rest)]

        return (None, *_vertex_grads(ctx.needs_input_grad[1:], idx, along, "vufa,uaf->av", grad))


class _PairLookup(torch.autograd.Function):
    """Row ``index[n]`` of ``table [U, F, *S]`` at vertex ``probs[n]``: ``[N, F]``."""

    @staticmethod
    def forward(ctx, table: torch.Tensor, index: torch.Tensor, *probs: torch.Tensor) -> torch.Tensor:
        idx = [p.argmax(1) for p in probs]
        ctx.save_for_backward(table, index, *idx)
        return table[(index, slice(None), *idx)]

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        table, index, *idx = ctx.saved_tensors

        def along(f, rest):  # [N, s, F]
            return table.movedim(2 + f, 1)[(index, slice(None), slice(None), *rest)]

        return (None, None, *_vertex_grads(ctx.needs_input_grad[2:], idx, along, "nvf,nf->nv", grad))


def _joint(probs: list[torch.Tensor]) -> torch.Tensor:
    """``[B, prod(s)]``: each row's probability of every accelerator (fields independent)."""
    joint = probs[0]
    for p in probs[1:]:
        joint = (joint.unsqueeze(-1) * p.unsqueeze(1)).reshape(joint.shape[0], -1)
    return joint


def expected_grid(table: torch.Tensor, probs: AccelProbs) -> torch.Tensor:
    """Every table row under every accelerator of ``probs``: ``[U, A, F]``."""
    if at_vertices(probs):
        return _GridLookup.apply(table, *probs)
    flat = table.reshape(*table.shape[:2], -1)
    out = [
        torch.einsum("ufs,as->uaf", flat, _joint([p[start : start + CHUNK].to(flat) for p in probs]))
        for start in range(0, probs[0].shape[0], CHUNK)
    ]
    return torch.cat(out, dim=1)


def expected_pairs(table: torch.Tensor, index: torch.Tensor, probs: AccelProbs) -> torch.Tensor:
    """Row ``index[n]`` of the table under accelerator ``n`` of ``probs``: ``[N, F]``."""
    if at_vertices(probs):
        return _PairLookup.apply(table, index, *probs)
    flat = table.reshape(*table.shape[:2], -1)
    out = []
    for start in range(0, len(index), CHUNK):
        rows = slice(start, start + CHUNK)
        joint = _joint([p[rows].to(flat) for p in probs])
        out.append(torch.einsum("nfs,ns->nf", flat[index[rows]], joint))
    return torch.cat(out)
