"""``coexplore search`` (DANCE co-exploration) and ``coexplore baseline`` (two-stage, hw-first, optuna):
search, then derive, retrain and simulate the result into a run folder."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click

from search.cli_evaluator import EVALUATOR_OPTION, load_evaluator_or_exit
from search.cli_util import (
    DATA_DIR_OPTION,
    InputError,
    bad_input_is_exit_2,
    check_out_dir,
    clear_dir,
    load_splits,
    out_dir_options,
)


def search_options(fn):
    """Options shared by ``search`` and ``baseline``."""
    from search.dance import SEARCH_PROFILES

    options = [
        click.option("--objective", default="edap", show_default=True,
                     help="latency, energy, area, edp, edap or weights like latency=1,energy=0.5."),
        click.option("--lam", type=click.FloatRange(min=0), default=0.5, show_default=True,
                     help="Weight of the log hardware cost against cross-entropy."),
        click.option("--profile", type=click.Choice(sorted(SEARCH_PROFILES)), default="quick",
                     show_default=True, help="Search length; the derived child is retrained with the "
                     "training profile of the same name."),
        EVALUATOR_OPTION,
        click.option("--epochs", type=click.IntRange(min=2), help="Override the profile's search epochs."),
        click.option("--seed", type=int, default=0, show_default=True),
        click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True,
                     help="Processes simulating with ZigZag."),
        DATA_DIR_OPTION,
        click.option("--quiet", is_flag=True, help="No progress bars."),
    ]  # fmt: skip
    for option in reversed(options):
        fn = option(fn)
    return fn


@dataclass
class Setup:
    cfg: Any
    weights: dict[str, float]
    evaluator: Any
    splits: Any
    space: Any
    template: Any
    out_dir: Path


def prepare(objective, lam, profile, evaluator_path, epochs, seed, data_dir, out, overwrite, **cfg_overrides):
    """Validate everything before any work, so bad input exits 2 with nothing written."""
    from accel_model.hwgen import parse_objective
    from nas.cost_template import cost_template
    from nas.space import SearchSpace
    from search.dance import SEARCH_PROFILES

    with bad_input_is_exit_2("--objective"):
        weights = parse_objective(objective)
    with bad_input_is_exit_2():
        overrides = {k: v for k, v in {"epochs": epochs, **cfg_overrides}.items() if v is not None}
        cfg = replace(SEARCH_PROFILES[profile], objective=objective, lam=lam, seed=seed, **overrides)
    out_dir = check_out_dir(out, overwrite)
    evaluator = load_evaluator_or_exit(evaluator_path)
    splits = load_splits(data_dir)
    space = SearchSpace()
    template = cost_template(space, splits.image_size, splits.channels, splits.num_classes)
    return Setup(cfg, weights, evaluator, splits, space, template, out_dir)


def finish(setup: Setup, profile: str, arch, accel, extra: dict, start: float, workers: int, quiet: bool):
    from nas.train import profile_config
    from search.dance import config_dict
    from search.derive import verify_design

    search_time = time.perf_counter() - start
    extra = {"search": config_dict(setup.cfg), "search_time_s": search_time,
             "objective_weights": setup.weights, **extra}  # fmt: skip
    train_cfg = profile_config(profile, seed=setup.cfg.seed)
    metrics = verify_design(setup.out_dir, setup.space, setup.splits, arch, accel, setup.evaluator,
                            train_cfg, extra, workers, not quiet)  # fmt: skip
    metrics["total_time_s"] = time.perf_counter() - start
    (setup.out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    click.echo(result_table(metrics, search_time, setup.out_dir))
    return metrics


RESULT_ROWS = (  # (label, metrics key, format)
    ("latency (ms)", "latency_ms", "{:.4f}"),
    ("frames/s", "fps", "{:,.0f}"),
    ("energy (uJ)", "energy_uj", "{:.3f}"),
    ("area (mm2)", "area_mm2", "{:.3f}"),
    ("EDAP", "edap", "{:.4g}"),
)


STATUS_TEXT = {
    "final": "the search's final design (the simulator confirms every constraint)",
    "fallback": "the final design missed a constraint: the best verified feasible design of the trajectory",
    "infeasible": "no design the search visited meets the constraints per the simulator",
}


def result_table(metrics: dict, search_time: float, out_dir: Path) -> str:
    """The derived design as a small text table: accuracy, and each cost predicted vs simulated."""
    sim, pred = metrics["simulated"], metrics["predicted"]
    lines = [
        f"arch         {','.join(metrics['arch']['ops'])}",
        f"accelerator  {json.dumps(metrics['accelerator'])}",
        f"accuracy     val {metrics['val_acc'] * 100:.2f}%  test {metrics['test_acc'] * 100:.2f}%",
        f"{'':<14}{'predicted':>12}{'simulated':>12}",
    ]
    lines += [
        f"{label:<14}{fmt.format(pred[key]):>12}{fmt.format(sim[key]):>12}" for label, key, fmt in RESULT_ROWS
    ]
    lines.append(f"search {search_time:.0f} s, total {metrics['total_time_s']:.0f} s -> {out_dir}")
    return "\n".join(lines)


def epoch_printer(quiet: bool):
    def show(row):
        if not quiet:
            click.echo(f"epoch {row['epoch']} ({row['phase']}): entropy {row['alpha_entropy']:.3f}, "
                       f"val acc {row['val_acc_supernet']:.4f}, arch {row['arch']}")  # fmt: skip

    return show


def register(main: click.Group) -> None:
    from search.baselines import BASELINES
    from search.cli_hwgen import DEFAULT_GENERATOR
    from search.dance import HW_MODES

    @main.command()
    @search_options
    @click.option("--hw", type=click.Choice(HW_MODES), default="generator", show_default=True,
                  help="generator: the frozen hardware-generation network (DANCE); free: accelerator logits "
                  "trained with alpha.")  # fmt: skip
    @click.option("--generator", "generator_path", default=str(DEFAULT_GENERATOR), show_default=True,
                  help="Hardware generator file (its objective must match --objective).")  # fmt: skip
    @click.option("--sampling", type=click.Choice(["binary", "gumbel", "soft"]), default=None,
                  help="Path sampling of the supernet (default: the profile's, binary gates).")  # fmt: skip
    @constraint_options
    @out_dir_options("runs/search", "Run folder.")
    def search(objective, lam, profile, evaluator_path, epochs, seed, workers, data_dir, quiet, hw,
               generator_path, sampling, min_fps, max_latency_ms, max_energy_mj, max_area_mm2,
               constraint_mode, penalty, out, overwrite):  # fmt: skip
        """Search a network and its accelerator together (DANCE), then retrain the derived child, simulate
        it on the derived accelerator with ZigZag and write a run folder (see README). With constraints
        (--min-fps etc.) the search is HDX's: see README, "Hard constraints"."""
        limits = {"min_fps": min_fps, "max_latency_ms": max_latency_ms, "max_energy_mj": max_energy_mj,
                  "max_area_mm2": max_area_mm2}  # fmt: skip
        setup, constraints = prepare_constrained(
            objective, lam, profile, evaluator_path, epochs, seed, data_dir, out, overwrite, limits=limits,
            hw=hw, sampling=sampling, constraint_mode=constraint_mode, penalty=penalty,
        )  # fmt: skip
        hardware = dance_hardware(generator_path, setup) if hw == "generator" else None
        if constraints and hardware is not None:
            warn_beyond_generator(setup, hardware, constraints)
        clear_dir(setup.out_dir)
        start = time.perf_counter()
        arch, accel, facts = search_design(setup, hardware, constraints, workers, quiet)
        finish(setup, profile, arch, accel, {"method": "dance", **facts}, start, workers, quiet)
        if facts.get("constraint_status") == "infeasible":
            raise click.ClickException("no simulator-verified design met the constraints (see metrics.json)")

    @main.command()
    @click.argument("method", type=click.Choice(sorted(BASELINES)))
    @search_options
    @click.option("--budget-s", type=click.FloatRange(min=1), default=300, show_default=True,
                  help="optuna: wall-clock of the black-box search (use DANCE's search time).")  # fmt: skip
    @click.option("--top-k", type=click.IntRange(min=1), default=10, show_default=True,
                  help="two-stage, hw-first: evaluator's best accelerators verified by ZigZag.")  # fmt: skip
    @out_dir_options("runs/baseline", "Run folder.")
    def baseline(method, objective, lam, profile, evaluator_path, epochs, seed, workers, data_dir, quiet,
                 budget_s, top_k, out, overwrite):  # fmt: skip
        """Baselines on the same budget: two-stage (accuracy-only NAS, then the best accelerator),
        hw-first (best accelerator for the default network, then NAS on it), optuna (NSGA-II over
        network and accelerator with proxy accuracy and simulated cost). Writes a run folder like search."""
        from search.baselines import BaselineContext

        setup = prepare(objective, lam, profile, evaluator_path, epochs, seed, data_dir, out, overwrite)
        clear_dir(setup.out_dir)
        ctx = BaselineContext(setup.space, setup.splits, setup.cfg, setup.evaluator, setup.template,
                              setup.weights, setup.out_dir / "trajectory.csv", workers, top_k, budget_s,
                              progress=not quiet)  # fmt: skip
        start = time.perf_counter()
        arch, accel, facts = BASELINES[method](ctx)
        finish(setup, profile, arch, accel, {"method": method, **facts}, start, workers, quiet)


def constraint_options(fn):
    """--min-fps, --max-latency-ms, --max-energy-mj, --max-area-mm2 and how they are enforced."""
    from search.dance import CONSTRAINT_MODES

    options = [
        click.option("--min-fps", type=float, help="Hard constraint: frames per second at least this."),
        click.option("--max-latency-ms", type=float, help="Hard constraint: latency per image at most this."),
        click.option("--max-energy-mj", type=float, help="Hard constraint: energy per image at most this."),
        click.option("--max-area-mm2", type=float, help="Hard constraint: accelerator area at most this."),
        click.option("--constraint-mode", type=click.Choice(CONSTRAINT_MODES), default="hdx",
                     show_default=True, help="hdx: gradient manipulation; penalty: soft-penalty baseline."),
        click.option("--penalty", type=click.FloatRange(min=0), default=1.0, show_default=True,
                     help="Weight of the soft penalty (--constraint-mode penalty)."),
    ]  # fmt: skip
    for option in reversed(options):
        fn = option(fn)
    return fn


def prepare_constrained(*args, limits: dict, **cfg_overrides):
    """``prepare`` plus the constraints, checked against what the design space can reach (exit 2)."""
    from dataclasses import replace

    from search.hdx import parse_constraints
    from search.hdx_verify import check_reachable, reachable

    with bad_input_is_exit_2():
        constraints = tuple(parse_constraints(limits))
    setup = prepare(*args, **cfg_overrides, constraints=constraints)
    if constraints:
        with bad_input_is_exit_2():
            check_reachable(constraints, reachable(setup.evaluator, setup.template))
    setup.cfg = replace(setup.cfg, constraints=constraints)
    return setup, constraints


def warn_beyond_generator(setup: Setup, hardware, constraints) -> None:
    """A warning (stderr) for each constraint beyond what the generator's accelerators reach."""
    from search.hdx_verify import generator_reach

    reach = generator_reach(setup.evaluator, setup.template, hardware)
    for c in constraints:
        if reach[c.key] > c.bound:
            click.echo(
                f"warning: --{c.name.replace('_', '-')} {c.target:g}: the hardware generator's accelerators "
                f"reach about {c.in_unit(reach[c.key]):.4g} {c.label().split()[0]} (evaluator); "
                "the search will likely end infeasible (--hw free lets the constraint move the accelerator)",
                err=True,
            )


def search_design(setup: Setup, hardware, constraints, workers: int, quiet: bool):
    """One DANCE search (HDX when there are constraints): (arch, accelerator, facts for metrics.json)."""
    from search.dance import derived_point, run_search
    from search.hdx_verify import TrajectoryVerifier, constrained_outcome

    show = epoch_printer(quiet)
    verifier = TrajectoryVerifier(setup.space, setup.splits, constraints, workers) if constraints else None

    def on_epoch(row):
        if verifier:
            verifier(row)
        show(row)

    state, _ = run_search(
        setup.space,
        setup.splits,
        setup.cfg,
        setup.evaluator,
        setup.template,
        setup.weights,
        hardware,
        setup.out_dir / "trajectory.csv",
        not quiet,
        on_epoch,
    )
    point = derived_point(state)
    if not verifier:
        return point["arch"], point["accelerator"], {}
    return constrained_outcome(verifier, point["arch"], point["accelerator"])


def dance_hardware(generator_path: str, setup: Setup):
    """The frozen hardware-generation side of DANCE for ``setup``'s objective (exit 2 on a mismatch)."""
    from accel_model.hwgen import SelectedMember

    hardware = load_matching_generator(generator_path, setup.weights, setup.splits.image_size)
    hardware.requires_grad_(False)
    if hasattr(hardware, "members"):
        hardware = SelectedMember(hardware, setup.evaluator, setup.template, setup.weights)
    return hardware


def load_matching_generator(path: str, weights: dict, image_size: int):
    from search.cli_hwgen import load_generator

    with bad_input_is_exit_2("--generator"):
        model, trained_for, trained_size = load_generator(path)
    if trained_for != weights or trained_size != image_size:
        raise InputError(
            f"--generator: {path} was trained for objective {trained_for} at {trained_size} px, not "
            f"{weights} at {image_size} px (train one: coexplore hwgen train --objective ... --out FILE, "
            "or use --hw free)"
        )
    return model
