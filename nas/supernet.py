"""The supernet: every candidate op of every searchable layer with shared training, and the
architecture parameters alpha.

Which ops run, and with what weight, is passed to ``forward`` explicitly as a list of *paths* per layer
(``[(op_index, weight_tensor), ...]``); the supernet keeps no "active" state. ``sample_paths`` makes
those lists from alpha:

- ``binary`` (ProxylessNAS-style gates): ``k`` ops per layer drawn from softmax(alpha) without
  replacement. With k = 1 the chosen op's weight is ``1 + p - p.detach()`` (value 1, gradient of its
  probability: BinaryConnect); with k = 2 the two outputs are mixed by their renormalized probabilities.
  Memory and time stay close to k children.
- ``gumbel`` (GDAS-style): a hard Gumbel-softmax sample per layer, straight-through: one op runs, its
  weight has the value 1 and the gradient of the relaxed sample.
- ``soft``: every allowed op, weighted by softmax(alpha) (DARTS; the expensive reference).
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from nas.arch import Arch
from nas.ops import ConvBNAct, get_op
from nas.space import SearchSpace

Paths = list[list[tuple[int, torch.Tensor]]]  # per layer: (index into space.ops, weight)
SAMPLING = ("binary", "gumbel", "soft")


class ArchParams(nn.Module):
    """alpha ``[layers, ops]``; ops not allowed at a layer are masked out of every softmax."""

    def __init__(self, space: SearchSpace):
        super().__init__()
        self.space = space
        allowed = [[op in slot.allowed_ops for op in space.ops] for slot in space.slots()]
        self.register_buffer("allowed", torch.tensor(allowed))
        self.alpha = nn.Parameter(torch.zeros(len(allowed), len(space.ops)))

    def logits(self) -> torch.Tensor:
        return self.alpha.masked_fill(~self.allowed, -math.inf)

    def probs(self) -> torch.Tensor:
        return F.softmax(self.logits(), dim=-1)

    @torch.no_grad()
    def entropy(self) -> float:
        p = self.probs()
        return float(-(p * torch.log(p.clamp_min(1e-12))).sum(-1).mean())

    def derive(self) -> Arch:
        """The most likely op per layer."""
        return Arch(tuple(self.space.ops[int(i)] for i in self.logits().argmax(-1)))


def sample_paths(params: ArchParams, mode: str = "binary", k: int = 1, tau: float = 1.0,
                 generator: torch.Generator | None = None) -> Paths:  # fmt: skip
    if mode not in SAMPLING:
        raise ValueError(f"sampling must be one of {list(SAMPLING)}, got {mode!r}")
    probs = params.probs()
    paths: Paths = []
    for row, allowed in zip(probs, params.allowed, strict=True):
        if mode == "soft":
            paths.append([(int(i), row[i]) for i in torch.nonzero(allowed).flatten()])
        elif mode == "gumbel":
            u = torch.rand(row.shape, generator=generator).clamp_(1e-9, 1 - 1e-9)
            logits = torch.log(row.clamp_min(1e-30)) - torch.log(-torch.log(u))
            soft = F.softmax(logits.masked_fill(~allowed, -math.inf) / tau, dim=-1)
            i = int(soft.argmax())
            paths.append([(i, 1 + soft[i] - soft[i].detach())])
        else:
            n = min(k, int(allowed.sum()))
            picked = torch.multinomial(row.detach(), n, replacement=False, generator=generator).tolist()
            if n == 1:
                paths.append([(picked[0], 1 + row[picked[0]] - row[picked[0]].detach())])
            else:
                total = row[picked].sum()
                paths.append([(i, row[i] / total) for i in picked])
    return paths


def arch_paths(space: SearchSpace, arch: Arch) -> Paths:
    """The single path of a concrete child (weights 1, no gradient)."""
    space.validate(arch)
    return [[(space.ops.index(op), torch.ones(()))] for op in arch.ops]


class Supernet(nn.Module):
    """stem -> per layer every allowed candidate op -> head -> pool -> classifier (as ``ChildNet``)."""

    def __init__(self, space: SearchSpace, in_channels: int = 1, num_classes: int = 10):
        super().__init__()
        self.space, self.in_channels, self.num_classes = space, in_channels, num_classes
        self.stem = ConvBNAct(in_channels, space.stem_channels, 3, space.stem_stride, act=space.act)
        self.layers = nn.ModuleList(
            nn.ModuleDict(
                {
                    op: get_op(op).build(slot.c_in, slot.c_out, slot.stride, space.act)
                    for op in slot.allowed_ops
                }
            )  # fmt: skip
            for slot in space.slots()
        )
        self.head = ConvBNAct(space.stages[-1].channels, space.head_channels, 1, act=space.act)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(space.head_channels, num_classes)

    def forward(self, x: torch.Tensor, paths: Paths) -> torch.Tensor:
        if len(paths) != len(self.layers):
            raise ValueError(f"{len(paths)} path lists for {len(self.layers)} layers")
        x = self.stem(x)
        for candidates, chosen in zip(self.layers, paths, strict=True):
            x = sum(w * candidates[self.space.ops[i]](x) for i, w in chosen)
        return self.classifier(self.pool(self.head(x)).flatten(1))


@contextmanager
def batch_statistics(model: nn.Module):
    """Within: BatchNorm normalizes with the statistics of the current batch and leaves its running
    statistics untouched (momentum 0); everything else is in eval mode. A supernet's running statistics
    mix every path that was trained, so they do not fit any single child; the batch's own do."""
    was_training = model.training
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    model.eval()
    for m in norms:
        m.train()
        m.momentum = 0.0
    try:
        yield model
    finally:
        for m, momentum in zip(norms, momenta, strict=True):
            m.momentum = momentum
        model.train(was_training)


def uniform_paths(space: SearchSpace, generator: torch.Generator) -> Paths:
    """One op per layer uniformly among the allowed ones (weight warm-up, SPOS-style)."""
    out = []
    for slot in space.slots():
        op = slot.allowed_ops[int(torch.randint(len(slot.allowed_ops), (1,), generator=generator))]
        out.append([(space.ops.index(op), torch.ones(()))])
    return out
