"""One search run into a run folder: DANCE (HDX with constraints) or a baseline, then derive, retrain the
child, simulate it on the derived accelerator with ZigZag and quantize it data-free to that accelerator's
bits (``metrics.json``: ``acc_fp``, ``acc_q``, ``bits``; ``search.design_accuracy``). The ``coexplore search``
and ``baseline`` commands call ``prepare_constrained`` / ``prepare`` (everything cheap and checkable,
``ValueError`` on bad input) and then ``run_dance`` / ``run_baseline`` (the long work)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from accel_model.constraints import Constraint, parse_constraints
from accel_model.evaluator import CostEvaluator, load_evaluator
from accel_model.files import clear_dir
from accel_model.hwgen import SelectedMember, parse_objective
from accel_model.hwgen_io import load_generator
from nas.cost_template import cost_template
from nas.data import load_splits
from nas.deployment import InputSize, resolve_input
from nas.space import SearchSpace
from nas.train import profile_config
from search.baselines import BASELINES, BaselineContext
from search.dance import SEARCH_PROFILES, SearchConfig, config_dict, derived_point, run_search
from search.derive import verify_design
from search.design_accuracy import dfq_profile_for
from search.hdx_verify import (
    TrajectoryVerifier,
    check_reachable,
    constrained_outcome,
    generator_reach,
    reachable,
)


@dataclass
class Setup:
    cfg: SearchConfig
    weights: dict[str, float]
    evaluator: CostEvaluator
    splits: Any
    space: SearchSpace
    template: Any
    out_dir: Path
    profile: str = "quick"
    deploy: InputSize | None = None  # the network's input at deployment: what every cost is of
    score_design: bool = True  # quantize the derived child to its bits and score it (codesign: its own stage)

    def __post_init__(self) -> None:
        if self.deploy is None:
            self.deploy = InputSize.of_splits(self.splits)


def prepare(
    objective: str,
    lam: float,
    profile: str,
    evaluator_path: str,
    epochs: int | None,
    seed: int,
    data_dir: str | None,
    out_dir: Path,
    input_size: str | None = None,
    **cfg_overrides,
) -> Setup:
    """Check and load everything a search needs before any work (``ValueError`` on bad input).
    ``input_size``: the deployment input (``nas.deployment``; None: the proxy dataset's)."""
    weights = parse_objective(objective)
    if profile not in SEARCH_PROFILES:
        raise ValueError(f"unknown search profile {profile!r}; allowed: {sorted(SEARCH_PROFILES)}")
    overrides = {k: v for k, v in {"epochs": epochs, **cfg_overrides}.items() if v is not None}
    cfg = replace(SEARCH_PROFILES[profile], objective=objective, lam=lam, seed=seed, **overrides)
    evaluator = load_evaluator(evaluator_path)
    splits = load_splits(data_dir)
    deploy = resolve_input(input_size, splits)
    space = SearchSpace()
    try:
        template = cost_template(space, deploy.hw, deploy.channels, splits.num_classes)
    except ValueError as exc:  # a layer the space cannot have at this input (its maps are too small)
        raise ValueError(f"--input-size {deploy.label()}: {exc}") from None
    return Setup(cfg, weights, evaluator, splits, space, template, Path(out_dir), profile, deploy)


def prepare_constrained(*args, limits: dict[str, float | None], **cfg_overrides) -> tuple[Setup, tuple]:
    """``prepare`` plus the constraints, checked against what the design space can reach."""
    constraints = tuple(parse_constraints(limits))
    setup = prepare(*args, **cfg_overrides, constraints=constraints)
    if constraints:
        check_reachable(constraints, reachable(setup.evaluator, setup.template))
    setup.cfg = replace(setup.cfg, constraints=constraints)
    return setup, constraints


def dance_hardware(generator_path: str, setup: Setup):
    """The frozen hardware-generation side of DANCE for ``setup``'s objective and input size."""
    model, trained_for, trained_at = load_generator(generator_path)
    trained_input = InputSize.from_dict(trained_at)
    if trained_for != setup.weights or trained_input != setup.deploy:
        raise ValueError(
            f"{generator_path} was trained for objective {trained_for} at input {trained_input.label()}, "
            f"not {setup.weights} at {setup.deploy.label()} (train one: coexplore hwgen train "
            "--objective ... --input-size ... --out FILE, or use --hw free)"
        )
    model.requires_grad_(False)
    if hasattr(model, "members"):
        model = SelectedMember(model, setup.evaluator, setup.template, setup.weights)
    return model


def generator_warnings(setup: Setup, hardware, constraints: tuple[Constraint, ...]) -> list[str]:
    """One sentence per constraint beyond what the generator's accelerators reach (evaluator)."""
    reach = generator_reach(setup.evaluator, setup.template, hardware)
    return [
        f"--{c.name.replace('_', '-')} {c.target:g}: the hardware generator's accelerators reach about "
        f"{c.in_unit(reach[c.key]):.4g} {c.label().split()[0]} (evaluator); the search will likely end "
        "infeasible (--hw free lets the constraint move the accelerator)"
        for c in constraints
        if reach[c.key] > c.bound
    ]


def search_design(setup: Setup, hardware, constraints, workers: int, progress: bool,
                  on_epoch: Callable[[dict], None] | None = None):  # fmt: skip
    """One DANCE search (HDX when there are constraints): (arch, accelerator, facts for metrics.json)."""
    verifier = (
        TrajectoryVerifier(setup.space, setup.splits, constraints, workers, setup.deploy)
        if constraints
        else None
    )

    def each_epoch(row):
        if verifier:
            verifier(row)
        if on_epoch:
            on_epoch(row)

    state, _ = run_search(setup.space, setup.splits, setup.cfg, setup.evaluator, setup.template,
                          setup.weights, hardware, setup.out_dir / "trajectory.csv", progress,
                          each_epoch)  # fmt: skip
    point = derived_point(state)
    if not verifier:
        return point["arch"], point["accelerator"], {}
    return constrained_outcome(verifier, point["arch"], point["accelerator"])


def finish(setup: Setup, arch, accel, extra: dict, start: float, workers: int, progress: bool) -> dict:
    """Retrain the derived child, simulate it, quantize it to the accelerator's bits, write
    ``metrics.json``; the metrics."""
    search_time = time.perf_counter() - start
    extra = {
        "search": config_dict(setup.cfg),
        "search_time_s": search_time,
        "objective_weights": setup.weights,
        **extra,
    }
    train_cfg = profile_config(setup.profile, seed=setup.cfg.seed)
    metrics = verify_design(setup.out_dir, setup.space, setup.splits, arch, accel, setup.evaluator, train_cfg,
                            extra, workers, progress,
                            dfq_profile=dfq_profile_for(setup.profile) if setup.score_design else None,
                            deploy=setup.deploy)  # fmt: skip
    metrics["total_time_s"] = time.perf_counter() - start
    (setup.out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def run_dance(setup: Setup, hardware, constraints, workers: int, progress: bool,
              on_epoch: Callable[[dict], None] | None = None) -> dict:  # fmt: skip
    """Search, derive, retrain and simulate into ``setup.out_dir`` (emptied first); the metrics."""
    clear_dir(setup.out_dir)
    start = time.perf_counter()
    arch, accel, facts = search_design(setup, hardware, constraints, workers, progress, on_epoch)
    return finish(setup, arch, accel, {"method": "dance", **facts}, start, workers, progress)


def run_baseline(
    setup: Setup, method: str, workers: int, top_k: int, budget_s: float, progress: bool
) -> dict:
    """A baseline (``search.baselines``) on the same budget into ``setup.out_dir``; the metrics."""
    baseline = BASELINES.get(method)
    clear_dir(setup.out_dir)
    ctx = BaselineContext(setup.space, setup.splits, setup.cfg, setup.evaluator, setup.template,
                          setup.weights, setup.out_dir / "trajectory.csv", workers, top_k, budget_s,
                          progress=progress, deploy=setup.deploy)  # fmt: skip
    start = time.perf_counter()
    arch, accel, facts = baseline(ctx)
    return finish(setup, arch, accel, {"method": method, **facts}, start, workers, progress)
