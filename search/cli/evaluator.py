"""Evaluator and generator commands: ``predict``, ``evaluator train|report``, ``hwgen train|check``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from accel_model.paths import DEFAULT_EVALUATOR, DEFAULT_GENERATOR
from accel_model.training_tables import (
    DEFAULT_DATASET,
    HELDOUT_ACCELS,
    HELDOUT_SEED,
    existing_training_tables,
)
from search.cli.accel import LAYER_SOURCE_OPTIONS, resolve_layers_and_hw
from search.cli.common import (
    EVALUATOR_OPTION,
    FIXED_INPUT_SIZE_OPTION,
    OBJECTIVE_OPTION,
    InputError,
    input_errors,
)


def load_evaluator_or_exit(path: str, option: str = "--evaluator"):
    from accel_model.evaluator import load_evaluator

    with input_errors(option):
        return load_evaluator(path)


def _check_dataset(path: str) -> str:
    if not Path(path).is_file():
        raise InputError(f"--dataset: no such file: {path}")
    return path


def register(main: click.Group) -> None:
    main.add_command(predict)
    main.add_command(evaluator)
    main.add_command(hwgen)


@click.command()
@LAYER_SOURCE_OPTIONS
@EVALUATOR_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the cost JSON (same as simulate's).")
def predict(layers_path, net, input_size, hw_path, evaluator_path, as_json):
    """Predict layer and network cost with the evaluator network (no simulator; milliseconds)."""
    from accel_model.cost_report import cost_json, cost_table

    layers, accel = resolve_layers_and_hw(layers_path, net, input_size, hw_path)
    model = load_evaluator_or_exit(evaluator_path)
    with input_errors("--hw"):
        model.space.check(accel)
    result = cost_json(model.predict_layers(layers, accel), accel) | {"predicted": True}
    if as_json:
        click.echo(json.dumps(result, indent=1))
    else:
        click.echo(cost_table(layers, result))
        click.echo("(predicted by the evaluator network; `coexplore simulate` gives the simulator's)")


@click.group()
def evaluator():
    """The evaluator network: a differentiable imitation of the simulator."""


@evaluator.command("train")
@click.option("--dataset", "datasets", multiple=True, default=existing_training_tables(), show_default=True,
              help="Simulator table(s); repeat the option for several.")  # fmt: skip
@click.option("--out", default=str(DEFAULT_EVALUATOR), show_default=True, help="Evaluator file (.pt).")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Training epochs.")
@click.option("--hidden", type=click.IntRange(min=4), default=None, help="MLP width.")
@click.option("--depth", type=click.IntRange(min=1), default=None, help="Hidden layers per MLP.")
@click.option("--members", type=click.IntRange(min=1), default=None, help="MLPs in the ensemble.")
@click.option("--mapper/--no-mapper", default=True, show_default=True,
              help="Also feed the evaluator the loop mapper's outputs (loop_mapper.py).")  # fmt: skip
@click.option(
    "--mapper-base/--analytic-base",
    default=True,
    show_default=True,
    help="With the mapper: predict latency as a residual over the mapper's latency, "
    "or over the analytic (compute / DRAM roofline) base.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--splits/--no-splits", default=True, show_default=True,
              help="Also train and report held-out splits: accelerators, layers, rows.")  # fmt: skip
def evaluator_train(datasets, out, epochs, hidden, depth, members, mapper, mapper_base, seed, splits):
    """Train the evaluator on the simulator dataset; write it and a JSON report beside it."""
    from dataclasses import replace

    from accel_model.evaluator_train import EvaluatorSettings, load_samples, train_evaluator_file
    from accel_model.space import DesignSpace

    chosen = {"epochs": epochs, "hidden": hidden, "depth": depth, "members": members}
    with input_errors():
        settings = replace(
            EvaluatorSettings(),
            seed=seed,
            mapper=mapper,
            mapper_base=mapper_base,
            **{k: v for k, v in chosen.items() if v},
        )
    tables = [_check_dataset(path) for path in datasets]
    with input_errors("--dataset"):
        samples = load_samples(tables, DesignSpace())
    report, metadata = train_evaluator_file(samples, tables, out, settings, splits)
    click.echo(f"wrote {out} and {report}")
    for name, split in metadata["splits"].items():
        t = split["test"]
        click.echo(
            f"  {name:<20} latency MAPE {t['latency']['mape_pct']:.2f}%  "
            f"energy MAPE {t['energy']['mape_pct']:.2f}% (per layer)"
        )


@evaluator.command("report")
@EVALUATOR_OPTION
@click.option("--dataset", default=str(DEFAULT_DATASET), show_default=True,
              help="The training table (its accelerators are excluded from the test).")  # fmt: skip
@click.option("--accels", type=click.IntRange(min=1), default=HELDOUT_ACCELS, show_default=True,
              help="Held-out accelerators.")  # fmt: skip
@click.option("--archs", type=click.IntRange(min=1), default=30, show_default=True,
              help="Random search-space networks (besides ResNet-18/20 and MobileNetV2).")  # fmt: skip
@click.option("--seed", type=int, default=HELDOUT_SEED, show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--out", default="results/evaluator", show_default=True, help="Output folder.")
@click.option(
    "--baseline",
    "baseline_path",
    default=None,
    help="Another evaluator file scored on the same draw (summary.json key 'baseline'), "
    "e.g. a previous one: git show REV:accel_model/data/evaluator.pt > old.pt",
)
def evaluator_report(evaluator_path, dataset, accels, archs, seed, workers, out, baseline_path):
    """Simulate held-out networks x accelerators and compare: CSV, summary JSON, parity plot."""
    from search.heldout import heldout_report

    model = load_evaluator_or_exit(evaluator_path)
    baseline = load_evaluator_or_exit(baseline_path, "--baseline") if baseline_path else None
    _check_dataset(dataset)
    summary = heldout_report(model, dataset, accels, archs, seed, workers, out, baseline, baseline_path or "")
    click.echo(f"wrote {out}/networks.csv, summary.json, parity.png")
    for label, part in [("", summary)] + ([("baseline ", summary["baseline"])] if baseline else []):
        for family in [k for k in part if isinstance(part[k], dict) and "latency" in part[k]]:
            lat, en = part[family]["latency"], part[family]["energy"]
            click.echo(
                f"  {label + family:<22} latency MAPE {lat['mape_pct']:.2f}% "
                f"rho {lat['spearman']:.4f} | energy MAPE {en['mape_pct']:.2f}% "
                f"rho {en['spearman']:.4f}"
            )


@click.group()
def hwgen():
    """Hardware generation: architecture -> accelerator, trained through the evaluator."""


@hwgen.command("train")
@EVALUATOR_OPTION
@OBJECTIVE_OPTION
@click.option("--steps", type=click.IntRange(min=1), default=2000, show_default=True)
@FIXED_INPUT_SIZE_OPTION
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", default=str(DEFAULT_GENERATOR), show_default=True, help="Generator file (.pt).")
@click.option(
    "--per-dataflow/--single",
    default=True,
    show_default=True,
    help="One generator per dataflow, the evaluator picks (avoids the shape/dataflow trap).",
)
def hwgen_train(evaluator_path, objective, steps, input_size, seed, out, per_dataflow):
    """Train the generator on random (soft and hard) architectures of the search space, each with a
    random bit width, at the deployment input --input-size."""
    from accel_model.hwgen import parse_objective
    from accel_model.hwgen_io import save_generator, train_generator_file
    from nas.cost_template import cost_template
    from nas.space import SearchSpace

    with input_errors("--objective"):
        weights = parse_objective(objective)
    evaluator = load_evaluator_or_exit(evaluator_path)
    template = cost_template(SearchSpace(), input_size.hw, input_size.channels)
    model, meta = train_generator_file(evaluator, template, weights, steps, input_size.to_dict(), seed,
                                       per_dataflow)  # fmt: skip
    save_generator(model, out, meta)
    click.echo(f"wrote {out} (objective {weights}, final mean log objective per member {meta['final_loss']})")


@hwgen.command("check")
@EVALUATOR_OPTION
@click.option("--generator", default=str(DEFAULT_GENERATOR), show_default=True, help="Generator file.")
@click.option("--archs", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--top-k", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the random archs.")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--out", default="results/tables/hwgen_check.csv", show_default=True)
def hwgen_check_cmd(evaluator_path, generator, archs, top_k, seed, workers, out):
    """Simulated objective of generated accelerators vs. the best of the evaluator's top-k of the same bit
    width (the bit width cycles over the design space's), at the input the generator was trained at."""
    from accel_model.files import write_rows
    from nas.cost_template import cost_template
    from nas.space import SearchSpace
    from search.hwgen_check import check_random_archs, load_checked_generator

    evaluator = load_evaluator_or_exit(evaluator_path)
    with input_errors("--generator"):
        model, weights, deploy = load_checked_generator(generator, cost_template(SearchSpace(), 28))
    rows = check_random_archs(evaluator, model, weights, deploy, archs, top_k, seed, workers)
    write_rows(out, rows)
    ratios = [r["ratio"] for r in rows]
    within = sum(r <= 1.05 for r in ratios)
    click.echo(
        f"wrote {out}: {within}/{len(rows)} generated accelerators within 5% of the best "
        f"verified top-{top_k} (worst ratio {max(ratios):.3f}, mean {sum(ratios) / len(ratios):.3f}); "
        f"{len({r['best_of_top'] for r in rows})} distinct verified optima at input {deploy.label()}"
    )
    click.echo(json.dumps({"objective": weights}))
