"""The targeted extensions of the simulator dataset as whole jobs. ``plan_*`` checks the inputs and
chooses the pairs (``ValueError`` on bad input, nothing simulated yet); ``TablePlan.run`` simulates them
with ZigZag into a table with its provenance (resumable through the cache). Every extension leaves out
the held-out report's accelerators (``search.heldout.reserved_accelerators``) so that test stays unseen."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accel_model.dataset import build_dataset, network_pairs, network_pool, simulate_table
from accel_model.evaluator import load_evaluator
from accel_model.space import DesignSpace
from accel_model.training_tables import COMMON_TABLE, DISAGREEMENT_TABLE
from search.heldout import dataset_search_space_layers, reserved_accelerators
from search.refine import disagreement_pairs, refinement_pairs


@dataclass
class TablePlan:
    out: str
    pairs: list
    meta: dict[str, Any]
    workers: int = 2
    cache: Any = None
    checkpoint_every: int = 1000

    def run(self) -> dict:
        """Simulate the pairs into ``out``; the provenance written beside it."""
        return simulate_table(
            self.out,
            self.pairs,
            self.meta,
            self.workers,
            cache=self.cache,
            checkpoint_every=self.checkpoint_every,
        )


def network_meta(kind: str, named, samples: int, seed: int, excluded: str, command: str, **extra) -> dict:
    """The provenance facts of a table of common networks' layers."""
    networks = [f"{n}@{hw}px" for n, hw in named]
    return {"kind": kind, "networks": networks, "samples": samples, **extra, "seed": seed,
            "excluded": excluded, "rebuild": command}  # fmt: skip


def _rebuild(command: str, out: str, default: Path) -> str:
    """The rebuild command recorded in the provenance, naming ``out`` where it is not the default."""
    return command if Path(out).resolve() == default.resolve() else f"{command} --out {out}"


def build_uniform(out: str, samples: int, seed: int, workers: int, lpf_limit: int | None, cache, scheduler):
    """``coexplore dataset build``: uniform (layer, accelerator) pairs of the search space and common CNNs."""
    settings = {} if lpf_limit is None else {"lpf_limit": lpf_limit}
    command = f"coexplore dataset build --samples {samples} --seed {seed}" + (
        f" --lpf-limit {lpf_limit}" if lpf_limit else ""
    )
    return build_dataset(
        out,
        dataset_search_space_layers(),
        samples,
        seed,
        workers,
        settings,
        cache,
        scheduler,
        command=command,
    )


def plan_refine(evaluator, archs: int, top_k: int, seed: int, workers: int, out: str) -> TablePlan:
    """``coexplore dataset refine``: the evaluator's top-k accelerators for random architectures."""
    heldout, excluded = reserved_accelerators()
    pairs = refinement_pairs(evaluator, archs, top_k, seed, exclude=heldout)
    command = f"coexplore dataset refine --archs {archs} --top-k {top_k} --seed {seed}"
    meta = {
        "kind": "evaluator top-k refinement",
        "archs": archs,
        "top_k": top_k,
        "seed": seed,
        "excluded": excluded,
        "rebuild": command,
    }
    return TablePlan(out, pairs, meta, workers)


def plan_extend(
    named: list[tuple[str, int]], samples: int, seed: int, workers: int, out: str, cache
) -> TablePlan:
    """``coexplore dataset extend``: more uniform accelerators for the layers of the common CNNs ``named``
    (``search.heldout.select_common_networks``)."""
    names = ",".join(n for n, _ in named)
    command = _rebuild(
        f"coexplore dataset extend --networks {names} --samples {samples} --seed {seed}", out, COMMON_TABLE
    )
    heldout, excluded = reserved_accelerators()
    pairs = network_pairs(named, samples, seed, DesignSpace(), heldout)
    meta = network_meta("common-network extension", named, samples, seed, excluded, command)
    return TablePlan(out, pairs, meta, workers, cache, checkpoint_every=100)


def load_ensemble(evaluator_path: str):
    """The evaluator, refused (``ValueError``) when it has a single member: disagreement needs several."""
    evaluator = load_evaluator(evaluator_path)
    if evaluator.n_members < 2:
        raise ValueError(f"{evaluator_path} has one member; disagreement needs an ensemble")
    return evaluator


def plan_disagree(
    evaluator,
    evaluator_path: str,
    named: list[tuple[str, int]],
    samples: int,
    top_fraction: float,
    seed: int,
    workers: int,
    out: str,
    cache,
) -> TablePlan:
    """``coexplore dataset disagree``: the pairs the ensemble (``load_ensemble``) at ``evaluator_path``
    disputes most; ``ValueError`` when there are fewer candidates than ``samples``. The pairs depend on the
    evaluator: the provenance records its SHA-256."""
    names = ",".join(n for n, _ in named)
    command = _rebuild(
        "coexplore dataset disagree --evaluator EVALUATOR_SHA256_FILE "
        f"--networks {names} --samples {samples} --top-fraction {top_fraction} --seed {seed}",
        out,
        DISAGREEMENT_TABLE,
    )
    heldout, excluded = reserved_accelerators()
    pairs = disagreement_pairs(evaluator, network_pool(named), samples, seed, top_fraction, heldout)
    sha256 = hashlib.sha256(Path(evaluator_path).read_bytes()).hexdigest()
    meta = network_meta("ensemble-disagreement extension", named, samples, seed, excluded, command,
                        top_fraction=top_fraction, evaluator_sha256=sha256)  # fmt: skip
    return TablePlan(out, pairs, meta, workers, cache, checkpoint_every=100)
