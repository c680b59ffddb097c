"""HDX's guarantee, from the simulator: what the design space can reach at all (checked before the
search), candidates verified with ZigZag along the trajectory, and the choice at the end.

- ``reachable``: the evaluator's lower bound of each constrained metric over the whole space: for
  every accelerator the cheapest op per slot (a network's cost is a sum over its slots' layers), then
  the best accelerator. A target below it exits 2 with the reachable range. It takes tens of seconds
  (every accelerator of the space), so it is kept in ``$COEXPLORE_HOME/reach/``, keyed by the
  evaluator's weights and the cost template: each input size pays it once per machine.
- ``generator_reach``: the same over the accelerators a frozen hardware generator proposes (an estimate:
  a target beyond it gets a warning, as the search with that generator will likely end infeasible).
- ``TrajectoryVerifier``: called with each epoch's trajectory row, simulates its derived (arch,
  accelerator) and keeps it as a candidate.
- ``choose``: the final derived point when the simulator says it meets every constraint (``final``);
  otherwise the feasible candidate with the best supernet validation accuracy (``fallback``); otherwise
  ``infeasible`` (the run folder says so, and the command exits 1).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from accel_model.constraints import Constraint
from accel_model.domain import Accelerator, Cost
from accel_model.evaluator import CostEvaluator
from accel_model.expected_cost import CostTemplate
from accel_model.layer_features import layer_batch
from accel_model.paths import data_dir
from nas.arch import Arch
from nas.data import Splits
from nas.deployment import InputSize, deployed_layers
from nas.space import SearchSpace
from search.derive import simulated_cost


def cost_values(cost: Cost) -> dict[str, float]:
    return {"latency_cycles": cost.latency_cycles, "energy_pj": cost.energy_pj, "area_mm2": cost.area_mm2}


def meets(cost: Cost, constraints: Sequence[Constraint]) -> bool:
    values = cost_values(cost)
    return all(float(c.margin(values)) <= 0 for c in constraints)


def cheapest_totals(evaluator: CostEvaluator, template: CostTemplate, probs, layers) -> tuple:
    """Per accelerator of ``probs``: [A, 2] latency and energy of the cheapest op per slot (each metric on
    its own), and [A] area."""
    fixed, per = template.counts  # [U], [S, O, U]
    pred = evaluator.grid(layers, probs).double().exp()  # [U, A, 2]
    choice = torch.einsum("sou,uak->soak", per.double(), pred)
    choice = choice.masked_fill(~template.allowed[:, :, None, None], float("inf"))
    totals = torch.einsum("u,uak->ak", fixed.double(), pred) + choice.min(1).values.sum(0)
    return totals, evaluator.relax.area_mm2(probs)


def best_of(parts) -> dict[str, float]:
    """The smallest latency, energy and area over ``(totals, area)`` parts."""
    best = {"latency_cycles": float("inf"), "energy_pj": float("inf"), "area_mm2": float("inf")}
    for totals, area in parts:
        best["latency_cycles"] = min(best["latency_cycles"], float(totals[:, 0].min()))
        best["energy_pj"] = min(best["energy_pj"], float(totals[:, 1].min()))
        best["area_mm2"] = min(best["area_mm2"], float(area.min()))
    return best


def reach_key(evaluator: CostEvaluator, template: CostTemplate) -> str:
    """What ``reachable`` depends on: the evaluator's weights and the template's layers and slots."""
    digest = hashlib.sha256()
    for name, tensor in sorted(evaluator.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    digest.update(json.dumps([layer.to_dict() for layer in template.unique_layers]).encode())
    for tensor in (*template.counts, template.allowed):
        digest.update(tensor.cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def reachable(evaluator: CostEvaluator, template: CostTemplate, chunk: int = 4096) -> dict[str, float]:
    """The evaluator's smallest latency (cycles), energy (pJ) and area (mm2) over every (arch, accelerator)
    of the space, each minimized on its own (kept on disk per evaluator and template)."""
    path = data_dir() / "reach" / f"{reach_key(evaluator, template)}.json"
    if path.is_file():
        return json.loads(path.read_text())
    bounds = space_bounds(evaluator, template, chunk)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(bounds))
    partial.replace(path)  # atomic: a concurrent reader sees the whole file or none
    return bounds


@torch.no_grad()
def space_bounds(evaluator: CostEvaluator, template: CostTemplate, chunk: int = 4096) -> dict[str, float]:
    """``reachable`` computed: every accelerator of the space, in chunks."""
    relax = evaluator.relax
    layers = layer_batch(template.unique_layers, evaluator.space)
    parts = relax.all_indices().split(chunk)
    return best_of(cheapest_totals(evaluator, template, relax.from_index_tensor(p), layers) for p in parts)


@torch.no_grad()
def generator_reach(evaluator: CostEvaluator, template: CostTemplate, hardware, samples: int = 256,
                    seed: int = 0) -> dict[str, float]:  # fmt: skip
    """What a search with a frozen hardware generator can reach, as the evaluator sees it: the accelerators
    the generator proposes for ``samples`` random networks of the space at every bit width, each with its
    cheapest ops. An estimate, not a bound: the search only ever meets the accelerators the generator
    proposes."""
    from accel_model.hwgen import random_arch_probs

    arch_probs = random_arch_probs(template, samples, torch.Generator().manual_seed(seed))
    n_bits = len(evaluator.space.choices("bits"))
    accels = set()
    for b in range(n_bits):
        bits = torch.nn.functional.one_hot(torch.tensor([b]), n_bits).float()
        accels |= set(evaluator.relax.argmax(hardware(arch_probs, bits)))
    layers = layer_batch(template.unique_layers, evaluator.space)
    probs = evaluator.relax.hard(list(accels))  # order-free: only the minimum is kept
    return best_of([cheapest_totals(evaluator, template, probs, layers)])


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
    deploy: InputSize | None = None  # the input the costs are of (None: the proxy dataset's)
    candidates: list[dict[str, Any]] = field(default_factory=list)

    def simulate(self, arch: Arch, accel: Accelerator) -> Cost:
        deploy = self.deploy or InputSize.of_splits(self.splits)
        layers = deployed_layers(self.space, arch, deploy, self.splits.num_classes)
        return simulated_cost(layers, accel, self.workers)

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
