"""HDX's guarantee, from the simulator: what the design space can reach at all (checked before the
search), candidates verified with ZigZag along the trajectory, and the choice at the end.

- ``reachable``: the evaluator's lower bound of each constrained metric over the whole space: for
  every accelerator the cheapest op per slot (a network's cost is a sum over its slots' layers), then
  the best accelerator. A target below it exits 2 with the reachable range.
- ``TrajectoryVerifier``: called with each epoch's trajectory row, simulates its derived (arch,
  accelerator) and keeps it as a candidate.
- ``choose``: the final derived point when the simulator says it meets every constraint (``final``);
  otherwise the feasible candidate with the best supernet validation accuracy (``fallback``); otherwise
  ``infeasible`` (the run folder says so, and the command exits 1).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from accel_model.domain import Accelerator, Cost
from accel_model.evaluator import CostEvaluator
from accel_model.expected_cost import CostTemplate
from accel_model.layer_features import layer_batch
from nas.arch import Arch
from nas.data import Splits
from nas.model import build_child
from nas.space import SearchSpace
from search.derive import simulated_cost
from search.hdx import Constraint


def cost_values(cost: Cost) -> dict[str, float]:
    return {"latency_cycles": cost.latency_cycles, "energy_pj": cost.energy_pj, "area_mm2": cost.area_mm2}


def meets(cost: Cost, constraints: Sequence[Constraint]) -> bool:
    values = cost_values(cost)
    return all(float(c.margin(values)) <= 0 for c in constraints)


@torch.no_grad()
def reachable(evaluator: CostEvaluator, template: CostTemplate, chunk: int = 4096) -> dict[str, float]:
    """The evaluator's smallest latency (cycles), energy (pJ) and area (mm2) over every (arch, accelerator)
    of the space, each minimized on its own."""
    relax = evaluator.relax
    fixed, per = template.counts  # [U], [S, O, U]
    layers = layer_batch(template.unique_layers, evaluator.space)
    best = {"latency_cycles": float("inf"), "energy_pj": float("inf")}
    area = float("inf")
    for part in relax.all_indices().split(chunk):
        probs = relax.from_index_tensor(part)
        pred = evaluator.grid(layers, probs).double().exp()  # [U, A, 2]
        choice = torch.einsum("sou,uak->soak", per.double(), pred)
        choice = choice.masked_fill(~template.allowed[:, :, None, None], float("inf"))
        totals = torch.einsum("u,uak->ak", fixed.double(), pred) + choice.min(1).values.sum(0)  # [A, 2]
        best["latency_cycles"] = min(best["latency_cycles"], float(totals[:, 0].min()))
        best["energy_pj"] = min(best["energy_pj"], float(totals[:, 1].min()))
        area = min(area, float(relax.area_mm2(probs).min()))
    return {**best, "area_mm2": area}


def check_reachable(constraints: Sequence[Constraint], bounds: dict[str, float]) -> None:
    """ValueError naming the first constraint no design of the space can meet, with the reachable range."""
    for c in constraints:
        if bounds[c.key] > c.bound:
            best = c.in_unit(bounds[c.key])
            word = "at most" if c.name.startswith("min") else "at least"
            raise ValueError(
                f"--{c.name.replace('_', '-')} {c.target:g} is out of reach: the design space gives {word} "
                f"{best:.4g} {c.label().split()[0]} (the evaluator's bound over every network and "
                "accelerator)"
            )


@dataclass
class TrajectoryVerifier:
    space: SearchSpace
    splits: Splits
    constraints: Sequence[Constraint]
    workers: int = 2
    candidates: list[dict[str, Any]] = field(default_factory=list)

    def simulate(self, arch: Arch, accel: Accelerator) -> Cost:
        child = build_child(self.space, arch, self.splits.channels, self.splits.num_classes)
        return simulated_cost(child.layer_shapes(self.splits.image_size), accel, self.workers)

    def __call__(self, row: dict) -> None:
        arch = Arch(tuple(row["arch"].split(",")))
        accel = Accelerator.from_dict(json.loads(row["accelerator"]))
        cost = self.simulate(arch, accel)
        ok = meets(cost, self.constraints)
        row["sim_meets_constraints"] = ok
        self.candidates.append({"epoch": row["epoch"], "arch": arch, "accelerator": accel, "cost": cost,
                                "meets": ok, "val_acc": row["val_acc_supernet"]})  # fmt: skip


def choose(verifier: TrajectoryVerifier, arch: Arch, accel: Accelerator) -> tuple[Arch, Accelerator, str]:
    """(arch, accelerator, status) with status final / fallback / infeasible (see the module doc)."""
    if meets(verifier.simulate(arch, accel), verifier.constraints):
        return arch, accel, "final"
    feasible = [c for c in verifier.candidates if c["meets"]]
    if feasible:
        best = max(feasible, key=lambda c: (c["val_acc"], c["epoch"]))
        return best["arch"], best["accelerator"], "fallback"
    return arch, accel, "infeasible"


def constrained_outcome(
    verifier: TrajectoryVerifier, arch: Arch, accel: Accelerator
) -> tuple[Arch, Accelerator, dict]:
    """``choose`` plus the facts a run folder records: status, and per constraint the simulated value."""
    arch, accel, status = choose(verifier, arch, accel)
    values = cost_values(verifier.simulate(arch, accel))
    checks = [
        {"constraint": c.label(), "simulated": c.in_unit(values[c.key]), "met": float(c.margin(values)) <= 0}
        for c in verifier.constraints
    ]
    candidates = [{"epoch": c["epoch"], "arch": ",".join(c["arch"].ops), "meets": c["meets"]}
                  for c in verifier.candidates]  # fmt: skip
    return (
        arch,
        accel,
        {"constraint_status": status, "constraints": checks, "verified_candidates": candidates},
    )
