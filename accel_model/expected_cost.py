"""Expected network cost under op probabilities and a soft accelerator (differentiable in both).

A ``CostTemplate`` describes a searchable network to the accelerator: its fixed layers and, per
searchable slot, the layers each op would execute there (``None`` where the op is not allowed).
Since a slot's layer shapes do not depend on other slots' choices, the expected cost is exact:
E[cost] = sum(fixed) + sum_slot sum_op p(slot, op) * cost(layers of op at slot).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import torch

from accel_model.domain import LayerShape
from accel_model.evaluator import CostEvaluator
from accel_model.layer_features import layer_batch
from accel_model.soft_accel import AccelProbs


@dataclass(frozen=True)
class CostTemplate:
    fixed: tuple[LayerShape, ...]
    options: tuple[tuple[tuple[LayerShape, ...] | None, ...], ...]  # [slot][op]
    ops: tuple[str, ...]

    @cached_property
    def unique_layers(self) -> list[LayerShape]:
        every = list(self.fixed) + [x for slot in self.options for opt in slot if opt for x in opt]
        return list(dict.fromkeys(every))

    @cached_property
    def allowed(self) -> torch.Tensor:
        """``[slots, ops]`` bool mask of the ops allowed in each slot."""
        return torch.tensor([[opt is not None for opt in slot] for slot in self.options])

    @cached_property
    def counts(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Layer counts over ``unique_layers``: fixed ``[U]`` and per choice ``[slots, ops, U]``."""
        pos = {layer: i for i, layer in enumerate(self.unique_layers)}
        fixed = torch.zeros(len(pos))
        for layer in self.fixed:
            fixed[pos[layer]] += 1
        per = torch.zeros(len(self.options), len(self.ops), len(pos))
        for s, slot in enumerate(self.options):
            for o, opt in enumerate(slot):
                for layer in opt or ():
                    per[s, o, pos[layer]] += 1
        return fixed, per

    def layer_weights(self, arch_probs: torch.Tensor) -> torch.Tensor:
        """``[B, U]`` expected count of each unique layer; ``arch_probs`` is ``[B, slots, ops]`` (or
        ``[slots, ops]``) with rows summing to 1 over the allowed ops."""
        fixed, per = self.counts
        probs = arch_probs if arch_probs.dim() == 3 else arch_probs[None]
        return fixed.to(probs) + torch.einsum("bso,sou->bu", probs, per.to(probs))

    def one_hot(self, archs: Sequence[Sequence[str]]) -> torch.Tensor:
        """``[B, slots, ops]`` one-hot probabilities of concrete op lists."""
        out = torch.zeros(len(archs), len(self.options), len(self.ops))
        for b, arch in enumerate(archs):
            for s, op in enumerate(arch):
                out[b, s, self.ops.index(op)] = 1.0
        return out


def expected_cost(
    evaluator: CostEvaluator, template: CostTemplate, arch_probs: torch.Tensor, accel_probs: AccelProbs
) -> dict[str, torch.Tensor]:
    """Expected latency (cycles), energy (pJ) and area (mm^2). ``arch_probs [B, slots, ops]`` pairs
    with ``B`` accelerators, or a single arch (``B = 1``) is costed on every accelerator given."""
    weights = template.layer_weights(arch_probs)  # [B, U]
    used = torch.nonzero((weights != 0).any(0)).squeeze(1)  # concrete archs use a few layers only
    weights = weights[:, used]
    layers = layer_batch(template.unique_layers, evaluator.space).select(used)
    pred = evaluator.grid(layers, accel_probs).exp()  # [U, A, 2]
    if weights.shape[0] not in (1, pred.shape[1]):
        raise ValueError(f"{weights.shape[0]} architectures for {pred.shape[1]} accelerators")
    totals = torch.einsum("au,uak->ak", weights.expand(pred.shape[1], -1).to(pred), pred)
    return {
        "latency_cycles": totals[:, 0],
        "energy_pj": totals[:, 1],
        "area_mm2": evaluator.relax.area_mm2(accel_probs).to(pred),
    }
