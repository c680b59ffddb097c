"""The ``coexplore`` command line. Every command has ``--help``; bad input exits 2 with one line."""

from __future__ import annotations

import json

import click

from nas.data import load_dataset, split_validation
from nas.space import SearchSpace
from nas.zoo import ZOO
from search import cli_accel, cli_evaluator, cli_hwgen, cli_quantize, cli_search, cli_search_table, cli_sweep
from search.cli_util import (
    DATA_DIR_OPTION,
    bad_input_is_exit_2,
    check_data_fits,
    check_out_dir,
    clear_dir,
    load_splits,
    out_dir_options,
    parse_arch,
)

ARCH_OPTION = click.option(
    "--arch",
    default="default",
    show_default=True,
    help="'default', an Arch JSON file ({\"ops\": [...]}) or comma-separated op names, one per layer.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="coexplore")
def main() -> None:
    """coexplore: co-design a neural network and its accelerator, then quantize it data-free."""


@main.command()
@ARCH_OPTION
@click.option(
    "--profile",
    type=click.Choice(["quick", "full", "short", "smoke"]),
    default="quick",
    show_default=True,
    help="Preset hyper-parameters: quick (~9 min on 2 cores), full (longer, more accurate), short, smoke.",
)
@click.option(
    "--model",
    type=click.Choice(sorted(ZOO)),
    help="Train a fixed network outside the search space instead of --arch (e.g. resnet20 for DFQ).",
)
@click.option("--epochs", type=click.IntRange(min=1), help="Override the profile's epochs.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Override the batch size.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), help="Override the peak learning rate.")
@click.option(
    "--optimizer", type=click.Choice(["sgd", "adamw"]), help="SGD with Nesterov momentum, or AdamW."
)
@click.option(
    "--label-smoothing", type=click.FloatRange(0, 1, max_open=True), help="Cross-entropy smoothing."
)
@click.option("--augment/--no-augment", default=None, help="Random crop with padding + horizontal flip.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for init and batch order.")
@click.option(
    "--threads", type=click.IntRange(min=0), default=0, help="Torch CPU threads (0: torch default)."
)
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda[:N] or auto (CUDA when present).")
@DATA_DIR_OPTION
@out_dir_options("runs/train", "Run folder: best.pt, metrics.jsonl, result.json, arch.json.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def train(
    arch,
    profile,
    model,
    epochs,
    batch_size,
    lr,
    optimizer,
    label_smoothing,
    augment,
    seed,
    threads,
    device,
    data_dir,
    out,
    overwrite,
    quiet,
):
    """Train a child network from scratch; keep the best-on-validation checkpoint, report test accuracy."""
    from nas.train import profile_config, train_child, train_model
    from nas.zoo import build_zoo_model

    space = SearchSpace()
    arch_obj = parse_arch(arch, space) if model is None else None
    with bad_input_is_exit_2():
        cfg = profile_config(
            profile,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            optimizer=optimizer,
            label_smoothing=label_smoothing,
            augment=augment,
            seed=seed,
            threads=threads,
            device=device,
        )
    out_dir = check_out_dir(out, overwrite)
    splits = load_splits(data_dir)
    clear_dir(out_dir)
    if model is None:
        (out_dir / "arch.json").write_text(arch_obj.to_json() + "\n")
        result = train_child(space, arch_obj, splits, cfg, out_dir, progress=not quiet)
    else:
        import torch

        torch.manual_seed(cfg.seed)
        net = build_zoo_model(model, splits.channels, splits.num_classes)
        result = train_model(net, splits, cfg, out_dir, progress=not quiet)
    click.echo(
        f"test accuracy {result['test_acc'] * 100:.2f}% (val {result['val_acc'] * 100:.2f}%, best epoch "
        f"{result['best_epoch']}/{cfg.epochs}) in {result['train_time_s']:.0f} s -> run folder {out_dir}"
    )


@main.command()
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False))
@DATA_DIR_OPTION
def evaluate(checkpoint, data_dir):
    """Validation and test accuracy of a checkpoint (.pt written by train)."""
    from nas.train import evaluate as evaluate_model
    from nas.train import load_checkpoint

    with bad_input_is_exit_2(checkpoint):
        model, meta = load_checkpoint(checkpoint)
    splits = load_splits(data_dir)
    check_data_fits(checkpoint, meta, splits)
    for name, x, y in (("val", splits.x_val, splits.y_val), ("test", splits.x_test, splits.y_test)):
        click.echo(
            f"{name} accuracy {evaluate_model(model, x, y, splits, channels_last=False)['acc'] * 100:.2f}%"
        )


@main.command()
@ARCH_OPTION
@click.option("--image-size", type=click.IntRange(min=1), default=28, show_default=True, help="Input H = W.")
@click.option(
    "--batch", type=click.IntRange(min=1), default=1, show_default=True, help="Images per inference."
)
@click.option("--in-channels", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--num-classes", type=click.IntRange(min=2), default=10, show_default=True)
def layers(arch, image_size, batch, in_channels, num_classes):
    """Print the layers file (JSON list of LayerShape) of a child network: what the accelerator sees."""
    from nas.model import build_child

    space = SearchSpace()
    model = build_child(space, parse_arch(arch, space), in_channels, num_classes)
    click.echo(json.dumps([s.to_dict() for s in model.layer_shapes(image_size, batch)], indent=1))


@main.command()
def space():
    """Show the search space: every searchable layer with its channels, stride and allowed ops."""
    s = SearchSpace()
    click.echo(f"stem: conv3x3 -> {s.stem_channels} ch, stride {s.stem_stride}; activation {s.act}")
    for slot in s.slots():
        click.echo(
            f"layer {slot.index}: {slot.c_in:>4} -> {slot.c_out:<4} stride {slot.stride}  "
            f"ops: {', '.join(slot.allowed_ops)}"
        )
    click.echo(f"head: conv1x1 -> {s.head_channels} ch, global average pool, linear classifier")
    click.echo(f"default arch: {','.join(s.default_arch().ops)}")


@main.command("data")
@DATA_DIR_OPTION
def data_info(data_dir):
    """Summarize the dataset and its train / validation / test splits."""
    with bad_input_is_exit_2("data"):
        data = load_dataset(data_dir)
    splits = split_validation(data)
    click.echo(
        f"{data.name}: {data.channels}x{data.image_size}x{data.image_size}, {data.num_classes} classes"
    )
    for name, y in (("train", splits.y_train), ("val", splits.y_val), ("test", splits.y_test)):
        counts = y.bincount(minlength=data.num_classes).tolist()
        click.echo(f"  {name:<5} {len(y):>6} images, per class {min(counts)}..{max(counts)}")
    click.echo(f"  mean {[round(m, 4) for m in splits.mean]}, std {[round(s, 4) for s in splits.std]}")


cli_accel.register(main)
cli_evaluator.register(main)
cli_hwgen.register(main)
cli_quantize.register(main)
cli_search.register(main)
cli_search_table.register(main)
cli_sweep.register(main)

if __name__ == "__main__":
    main()
