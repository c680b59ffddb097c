"""Evaluator commands: ``evaluator train``, ``evaluator report`` and ``predict``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from accel_model.evaluator import DEFAULT_EVALUATOR
from search.cli_accel import (
    cost_json,
    layer_source_options,
    print_cost_table,
    resolve_layers_and_hw,
)
from search.cli_dataset import DEFAULT_DATASET, TRAINING_TABLES
from search.cli_util import InputError, bad_input_is_exit_2
from search.heldout import HELDOUT_ACCELS, HELDOUT_SEED

# The uniform sample and, when present, its extensions (``coexplore dataset refine`` / ``extend`` /
# ``disagree``).
DEFAULT_TRAINING_TABLES = tuple(str(p) for p in TRAINING_TABLES if p.exists()) or (str(DEFAULT_DATASET),)

EVALUATOR_OPTION = click.option(
    "--evaluator", "evaluator_path", default=str(DEFAULT_EVALUATOR), show_default=True,
    help="Trained evaluator file (.pt).",
)  # fmt: skip


def load_evaluator_or_exit(path: str, option: str = "--evaluator"):
    from accel_model.evaluator import load_evaluator

    with bad_input_is_exit_2(option):
        return load_evaluator(path)


def _check_dataset(path: str) -> str:
    if not Path(path).is_file():
        raise InputError(f"--dataset: no such file: {path}")
    return path


def register(main: click.Group) -> None:
    @main.command()
    @layer_source_options
    @EVALUATOR_OPTION
    @click.option("--json", "as_json", is_flag=True, help="Print the cost JSON (same as simulate's).")
    def predict(layers_path, net, image_size, hw_path, evaluator_path, as_json):
        """Predict layer and network cost with the evaluator network (no simulator; milliseconds)."""
        layers, accel = resolve_layers_and_hw(layers_path, net, image_size, hw_path)
        model = load_evaluator_or_exit(evaluator_path)
        with bad_input_is_exit_2("--hw"):
            model.space.check(accel)
        result = cost_json(model.predict_layers(layers, accel), accel) | {"predicted": True}
        if as_json:
            click.echo(json.dumps(result, indent=1))
        else:
            print_cost_table(layers, result)
            click.echo("(predicted by the evaluator network; `coexplore simulate` gives the simulator's)")

    @main.group()
    def evaluator():
        """The evaluator network: a differentiable imitation of the simulator."""

    @evaluator.command("train")
    @click.option("--dataset", "datasets", multiple=True, default=DEFAULT_TRAINING_TABLES, show_default=True,
                  help="Simulator table(s); repeat the option for several.")  # fmt: skip
    @click.option("--out", default=str(DEFAULT_EVALUATOR), show_default=True, help="Evaluator file (.pt).")
    @click.option("--epochs", type=click.IntRange(min=1), default=None, help="Training epochs.")
    @click.option("--hidden", type=click.IntRange(min=4), default=None, help="MLP width.")
    @click.option("--depth", type=click.IntRange(min=1), default=None, help="Hidden layers per MLP.")
    @click.option("--members", type=click.IntRange(min=1), default=None, help="MLPs in the ensemble.")
    @click.option("--mapper/--no-mapper", default=True, show_default=True,
                  help="Also feed the evaluator the loop mapper's outputs (loop_mapper.py).")  # fmt: skip
    @click.option("--mapper-base/--analytic-base", default=True, show_default=True,
                  help="With the mapper: predict latency as a residual over the mapper's latency, "
                  "or over the analytic (compute / DRAM roofline) base.")  # fmt: skip
    @click.option("--seed", type=int, default=0, show_default=True)
    @click.option("--splits/--no-splits", default=True, show_default=True,
                  help="Also train and report held-out splits: accelerators, layers, rows.")  # fmt: skip
    def evaluator_train(datasets, out, epochs, hidden, depth, members, mapper, mapper_base, seed, splits):
        """Train the evaluator on the simulator dataset; write it and a JSON report beside it."""
        from dataclasses import replace

        from accel_model.evaluator import save_evaluator
        from accel_model.evaluator_train import EvaluatorSettings, train_evaluator

        settings = replace(EvaluatorSettings(), seed=seed, mapper=mapper, mapper_base=mapper_base)
        chosen = {"epochs": epochs, "hidden": hidden, "depth": depth, "members": members}
        settings = replace(settings, **{k: v for k, v in chosen.items() if v})
        with bad_input_is_exit_2("--dataset"):
            tables = [_check_dataset(path) for path in datasets]
            model, metadata = train_evaluator(tables, settings, splits=splits)
        save_evaluator(model, out, metadata)
        report = Path(out).with_suffix(".json")
        report.write_text(json.dumps(metadata, indent=1) + "\n")
        click.echo(f"wrote {out} and {report}")
        for name, split in metadata["splits"].items():
            t = split["test"]
            click.echo(f"  {name:<20} latency MAPE {t['latency']['mape_pct']:.2f}%  "
                       f"energy MAPE {t['energy']['mape_pct']:.2f}% (per layer)")  # fmt: skip

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
    @click.option("--baseline", "baseline_path", default=None,
                  help="Another evaluator file scored on the same draw (summary.json key 'baseline'), "
                  "e.g. a previous one: git show REV:accel_model/data/evaluator.pt > old.pt")  # fmt: skip
    def evaluator_report(evaluator_path, dataset, accels, archs, seed, workers, out, baseline_path):
        """Simulate held-out networks x accelerators and compare: CSV, summary JSON, parity plot."""
        from accel_model.evaluator_report import network_errors, parity_plot, simulate_networks
        from accel_model.files import write_rows
        from search.heldout import heldout_setup, tables_accelerators

        model = load_evaluator_or_exit(evaluator_path)
        baseline = load_evaluator_or_exit(baseline_path, "--baseline") if baseline_path else None
        tables = [Path(t) if Path(t).exists() else DEFAULT_DATASET.with_name(Path(t).name)
                  for t in getattr(model, "metadata", {}).get("dataset", [])]  # fmt: skip
        # recorded paths are absolute; on another machine look in the data dir
        trained_on = tables_accelerators([t for t in tables if t.exists()])
        with bad_input_is_exit_2("--dataset"):
            networks, accelerators = heldout_setup(_check_dataset(dataset), accels, archs, seed, trained_on)
        simulated = simulate_networks(networks, accelerators, workers=workers)
        rows, summary = network_errors(model, networks, accelerators, simulated)
        summary["training_tables_excluded"] = getattr(model, "metadata", {}).get("dataset", [])
        if baseline is not None:  # the draw is the reported evaluator's, whatever the baseline saw
            _, scored = network_errors(baseline, networks, accelerators, simulated)
            summary["baseline"] = {"evaluator": baseline_path, **scored}
        out = Path(out)
        write_rows(out / "networks.csv", rows)
        (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
        parity_plot(out / "parity.png", rows, f"evaluator vs ZigZag: {len(networks)} networks x "
                    f"{len(accelerators)} held-out accelerators")  # fmt: skip
        click.echo(f"wrote {out}/networks.csv, summary.json, parity.png")
        for label, part in [("", summary)] + ([("baseline ", summary["baseline"])] if baseline else []):
            for family in [k for k in part if isinstance(part[k], dict) and "latency" in part[k]]:
                lat, en = part[family]["latency"], part[family]["energy"]
                click.echo(f"  {label + family:<22} latency MAPE {lat['mape_pct']:.2f}% "
                           f"rho {lat['spearman']:.4f} | energy MAPE {en['mape_pct']:.2f}% "
                           f"rho {en['spearman']:.4f}")  # fmt: skip
