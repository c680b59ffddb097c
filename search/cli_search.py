"""``coexplore search``: DANCE co-exploration, then derive, retrain and simulate the result."""

from __future__ import annotations

import json
import time
from dataclasses import replace

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


def register(main: click.Group) -> None:
    from search.cli_hwgen import DEFAULT_GENERATOR
    from search.dance import HW_MODES, SEARCH_PROFILES

    @main.command()
    @click.option("--objective", default="edap", show_default=True,
                  help="latency, energy, area, edp, edap or weights like latency=1,energy=0.5.")  # fmt: skip
    @click.option("--lam", type=click.FloatRange(min=0), default=0.5, show_default=True,
                  help="Weight of the log hardware cost against cross-entropy.")  # fmt: skip
    @click.option("--profile", type=click.Choice(sorted(SEARCH_PROFILES)), default="quick", show_default=True,
                  help="Search length; the derived child is retrained with the training profile of "
                  "the same name.")  # fmt: skip
    @click.option("--hw", type=click.Choice(HW_MODES), default="generator", show_default=True,
                  help="generator: the frozen hardware-generation network (DANCE); free: accelerator logits "
                  "trained with alpha.")  # fmt: skip
    @click.option("--generator", "generator_path", default=str(DEFAULT_GENERATOR), show_default=True,
                  help="Hardware generator file (its objective must match --objective).")  # fmt: skip
    @EVALUATOR_OPTION
    @click.option("--sampling", type=click.Choice(["binary", "gumbel", "soft"]), default=None,
                  help="Path sampling of the supernet (default: the profile's, binary gates).")  # fmt: skip
    @click.option("--epochs", type=click.IntRange(min=2), help="Override the profile's search epochs.")
    @click.option("--seed", type=int, default=0, show_default=True)
    @click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True,
                  help="Processes simulating the derived network with ZigZag.")  # fmt: skip
    @DATA_DIR_OPTION
    @out_dir_options("runs/search", "Run folder.")
    @click.option("--quiet", is_flag=True, help="No progress bars.")
    def search(objective, lam, profile, hw, generator_path, evaluator_path, sampling, epochs, seed, workers,
               data_dir, out, overwrite, quiet):  # fmt: skip
        """Search a network and its accelerator together (DANCE), then retrain the derived child, simulate
        it on the derived accelerator with ZigZag and write a run folder (see README)."""
        from accel_model.hwgen import SelectedMember, parse_objective
        from nas.cost_template import cost_template
        from nas.space import SearchSpace
        from nas.train import profile_config
        from search.dance import config_dict, derived_point, run_search
        from search.derive import verify_design

        with bad_input_is_exit_2("--objective"):
            weights = parse_objective(objective)
        with bad_input_is_exit_2():
            overrides = {k: v for k, v in (("sampling", sampling), ("epochs", epochs)) if v is not None}
            cfg = replace(
                SEARCH_PROFILES[profile], objective=objective, lam=lam, hw=hw, seed=seed, **overrides
            )
        out_dir = check_out_dir(out, overwrite)
        evaluator = load_evaluator_or_exit(evaluator_path)
        splits = load_splits(data_dir)
        space = SearchSpace()
        template = cost_template(space, splits.image_size, splits.channels, splits.num_classes)
        hardware = None
        if hw == "generator":
            hardware = load_matching_generator(generator_path, weights, splits.image_size)
            hardware.requires_grad_(False)
            if hasattr(hardware, "members"):
                hardware = SelectedMember(hardware, evaluator, template, weights)
        clear_dir(out_dir)
        start = time.perf_counter()

        def show(row):
            if not quiet:
                click.echo(f"epoch {row['epoch']} ({row['phase']}): entropy {row['alpha_entropy']:.3f}, "
                           f"val acc {row['val_acc_supernet']:.4f}, arch {row['arch']}")  # fmt: skip

        state, rows = run_search(space, splits, cfg, evaluator, template, weights, hardware,
                                 out_dir / "trajectory.csv", not quiet, show)  # fmt: skip
        search_time = time.perf_counter() - start
        point = derived_point(state)
        metrics = verify_design(
            out_dir, space, splits, point["arch"], point["accelerator"], evaluator,
            profile_config(profile, seed=seed), {"search": config_dict(cfg), "search_time_s": search_time,
            "objective_weights": weights}, workers, not quiet,
        )  # fmt: skip
        metrics["total_time_s"] = time.perf_counter() - start
        (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        sim, pred = metrics["simulated"], metrics["predicted"]
        click.echo(
            f"{','.join(point['arch'].ops)} on {point['accelerator'].to_dict()}\n"
            f"test accuracy {metrics['test_acc'] * 100:.2f}%  simulated: {sim['latency_ms']:.3f} ms "
            f"({sim['fps']:.0f} fps), {sim['energy_uj']:.2f} uJ, {sim['area_mm2']:.3f} mm2, "
            f"EDAP {sim['edap']:.3e} "
            f"(predicted EDAP {pred['edap']:.3e})\nsearch {search_time:.0f} s, total "
            f"{metrics['total_time_s']:.0f} s -> {out_dir}"
        )


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
