"""Network commands: ``train``, ``evaluate``, ``layers``, ``space``, ``data``."""

from __future__ import annotations

import json
import sys

import click

from search.cli.common import (
    ARCH_OPTION,
    DATA_DIR_OPTION,
    FIXED_INPUT_SIZE_OPTION,
    QUIET_OPTION,
    check_data_fits,
    check_out_dir,
    input_errors,
    lazy_choice,
    load_splits,
    options,
    out_dir_options,
    parse_arch,
)

TRAIN_OPTIONS = options(
    ARCH_OPTION,
    click.option(
        "--profile",
        type=click.Choice(["quick", "full", "short", "smoke"]),
        default="quick",
        show_default=True,
        help="Preset hyper-parameters: quick (~9 min on 2 cores), full (longer, "
        "more accurate), short, smoke.",
    ),
    click.option(
        "--model",
        type=lazy_choice("nas.zoo", "ZOO"),
        help="Train a fixed network outside the search space instead of --arch (e.g. resnet20 for DFQ).",
    ),
    click.option("--epochs", type=click.IntRange(min=1), help="Override the profile's epochs."),
    click.option("--batch-size", type=click.IntRange(min=1), help="Override the batch size."),
    click.option(
        "--lr", type=click.FloatRange(min=0, min_open=True), help="Override the peak learning rate."
    ),
    click.option(
        "--optimizer", type=click.Choice(["sgd", "adamw"]), help="SGD with Nesterov momentum, or AdamW."
    ),
    click.option(
        "--label-smoothing", type=click.FloatRange(0, 1, max_open=True), help="Cross-entropy smoothing."
    ),
    click.option(
        "--augment/--no-augment",
        default=None,
        help="Random crop with padding, and horizontal flips where the data allows them (`coexplore data` "
        "says which).",
    ),
    click.option("--seed", type=int, default=0, show_default=True, help="Seed for init and batch order."),
    click.option(
        "--threads", type=click.IntRange(min=0), default=0, help="Torch CPU threads (0: torch default)."
    ),
    click.option(
        "--device", default="cpu", show_default=True, help="cpu, cuda[:N] or auto (CUDA when present)."
    ),
    DATA_DIR_OPTION,
    out_dir_options("runs/train", "Run folder: best.pt, metrics.jsonl, result.json, arch.json."),
    QUIET_OPTION,
)


def register(main: click.Group) -> None:
    main.add_command(train)
    main.add_command(evaluate)
    main.add_command(layers)
    main.add_command(space)
    main.add_command(data_info)


@click.command()
@TRAIN_OPTIONS
def train(arch, profile, model, data_dir, out, overwrite, quiet, **overrides):
    """Train a child network from scratch; keep the best-on-validation checkpoint, report test accuracy."""
    from nas.train import profile_config, train_network

    arch_obj = parse_arch(arch) if model is None else None
    with input_errors():
        cfg = profile_config(profile, **overrides)
    out_dir = check_out_dir(out, overwrite)
    splits = load_splits(data_dir)
    result = train_network(arch_obj, model, splits, cfg, out_dir, progress=not quiet)
    click.echo(
        f"test accuracy {result['test_acc'] * 100:.2f}% (val {result['val_acc'] * 100:.2f}%, best epoch "
        f"{result['best_epoch']}/{cfg.epochs}) in {result['train_time_s']:.0f} s -> run folder {out_dir}"
    )


@click.command()
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False))
@DATA_DIR_OPTION
def evaluate(checkpoint, data_dir):
    """Validation and test accuracy of a checkpoint: a trained network (.pt written by train) or a
    quantized one (quantized.pt or quantized.int.pt written by quantize or codesign), scored as such."""
    from dfq.pipeline import load_quantized
    from nas.train import evaluate_splits, load_checkpoint

    with input_errors(checkpoint):
        try:
            model, payload = load_quantized(checkpoint)
            meta = payload["teacher"]
        except ValueError as not_quantized:
            if "not a coexplore quantized checkpoint" not in str(not_quantized):
                raise
            model, meta = load_checkpoint(checkpoint)
    splits = load_splits(data_dir)
    check_data_fits(checkpoint, meta, splits)
    for name, acc in evaluate_splits(model, splits, progress=sys.stderr.isatty()).items():
        click.echo(f"{name} accuracy {acc * 100:.2f}%")


@click.command()
@ARCH_OPTION
@FIXED_INPUT_SIZE_OPTION
@click.option(
    "--batch", type=click.IntRange(min=1), default=1, show_default=True, help="Images per inference."
)
@click.option("--num-classes", type=click.IntRange(min=2), default=10, show_default=True)
def layers(arch, input_size, batch, num_classes):
    """Print the layers file (JSON list of LayerShape) of a child network at the deployment input: what
    the accelerator sees."""
    from nas.model import child_layer_shapes

    shapes = child_layer_shapes(parse_arch(arch), input_size.hw, batch, input_size.channels, num_classes)
    click.echo(json.dumps([s.to_dict() for s in shapes], indent=1))


@click.command()
def space():
    """Show the search space: every searchable layer with its channels, stride and allowed ops."""
    from nas.space import SearchSpace

    click.echo(SearchSpace().describe())


@click.command("data")
@DATA_DIR_OPTION
def data_info(data_dir):
    """Summarize the dataset and its train / validation / test splits."""
    from nas.data import describe_dataset, load_dataset, split_validation
    from nas.train import augmentation_by_profile

    with input_errors("data"):
        data = load_dataset(data_dir)
    click.echo(describe_dataset(data, split_validation(data)))
    click.echo(f"  {augmentation_by_profile(data.flips, data.image_size)}")
