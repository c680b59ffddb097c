"""Data-free quantization commands: ``quantize`` (one run), ``quantize-table`` and ``dfq table|report``
(the method tables). Every run goes through ``dfq.api``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from search.cli.common import (
    DATA_DIR_OPTION,
    QUIET_OPTION,
    InputError,
    check_data_fits,
    check_out_dir,
    input_errors,
    lazy_choice,
    load_splits,
    option_group,
    out_dir_options,
    parse_floats,
    parse_non_negative,
)

SOURCE_HELP = (
    "noise: Gaussian images; zeroq: images optimized to match the BatchNorm statistics; gdfq: a "
    "class-conditional generator trained on the teacher (CE + BN statistics); dsg: the generator with DSG's "
    "per-sample slack BN alignment and layerwise enhancement; clusterq: with ClusterQ's class-centroid "
    "alignment; qimera: with Qimera's superposed embeddings and soft labels; real: training images "
    "(a reference, not data-free)."
)
FINETUNE_HELP = (
    "none: calibrate only (PTQ); kd: distil the FP teacher on the source; ait: KL-only distillation with "
    "gradient inundation (AIT); qat: CE on real labels (source real only). Default: kd for the generator "
    "sources (gdfq, dsg, clusterq, qimera), none otherwise."
)
COMMON_OPTIONS = option_group(
    "common",
    click.option("--checkpoint", type=click.Path(),
                 help="Full-precision checkpoint written by `coexplore train` (e.g. runs/default/best.pt), "
                 "or a search run folder (its model.pt). Required (`quantize`: or --model)."),
    click.option("--profile", type=lazy_choice("dfq.api", "PROFILES"),
                 help="Step counts: quick (minutes on 2 cores at 28-32 px), large (for inputs from 96 px: a "
                 "smaller pool, shorter optimisations), full (longer), smoke (seconds, for tests). "
                 "[default: quick, or large for inputs from 96 px; the command says which]"),
    click.option("--finetune-steps", type=click.IntRange(min=0), help="Override the profile's steps."),
    click.option("--finetune-lr", type=click.FloatRange(min=0, min_open=True),
                 help="Override the profile's fine-tuning learning rate (Adam, cosine decay; quick: 1e-4)."),
    click.option("--act-scale-lr", type=click.FloatRange(min=0),
                 help="Also learn the calibrated activation scales while fine-tuning, at this peak learning "
                 "rate (log space, LSQ-style). Default 0: the ranges stay as calibrated."),
    click.option("--feature-kd-weight", type=click.FloatRange(min=0),
                 help="Add this weight times a feature distillation to the fine-tuning loss: every quantized "
                 "layer's output against the teacher's, normalized by its variance. Default 0: none."),
    click.option("--freeze-weight-grid", is_flag=True,
                 help="Fix each layer's per-channel weight grid when fine-tuning starts (saved with the "
                 "student) instead of reading it from the moving weights at every step."),
    click.option("--weight-clipping", type=click.Choice(["minmax", "mse"]), default="minmax",
                 show_default=True, help="Per-channel weight range: min/max, or the MSE-optimal clipping."),
    click.option("--observer", type=click.Choice(["mse", "ema", "percentile"]), default="mse",
                 show_default=True,
                 help="Per-tensor activation range from the calibration batches: the min/max range shrunk to "
                 "the least squared quantization error, the bias-corrected EMA of batch min/max, or the "
                 "99.99th percentiles."),
    click.option("--keep-first-last-8bit/--no-keep-first-last-8bit", default=True, show_default=True,
                 help="Quantize the first conv and the classifier at 8 bits."),
    click.option("--threads", type=click.IntRange(min=0), default=0, help="Torch CPU threads (0: default)."),
    click.option("--device", default="cpu", show_default=True,
                 help="Where teacher, generator and student run: cpu, cuda[:N] or auto (CUDA when present). "
                 "Random draws stay on the CPU, so a seed gives the same draws on every device."),
    DATA_DIR_OPTION,
    QUIET_OPTION,
)  # fmt: skip
TUNING = ("finetune_steps", "finetune_lr", "act_scale_lr", "feature_kd_weight", "freeze_weight_grid")
SPEC = ("weight_clipping", "observer", "keep_first_last_8bit")


class Loaded:
    """What every DFQ command checks and loads before any work, from its ``common`` options: settings,
    quantizer options, teacher, data (exit 2 with one line on bad input). ``user``: the options of a
    network brought as ``--model`` (``quantize`` only) instead of a checkpoint."""

    def __init__(self, common: dict, user: dict | None = None):
        import torch

        from dfq.api import dfq_profile, profile_for_input
        from nas.device import resolve_device
        from nas.train import load_checkpoint

        chosen = {k: common[k] for k in TUNING} | {"freeze_weight_grid": common["freeze_weight_grid"] or None}
        with input_errors("settings"):
            dfq_profile(common["profile"] or "quick", **chosen)  # the knobs checked before any loading
        self.spec = {k: common[k] for k in SPEC}
        with input_errors("--device"):
            where = resolve_device(common["device"])
        if user is not None and user["model"]:
            teacher, self.meta, self.splits = load_user_inputs(user)
        elif not common["checkpoint"]:
            raise InputError("--checkpoint: required" + (" (or --model: your own network)" if user else ""))
        else:
            with input_errors():
                teacher, self.meta = load_checkpoint(common["checkpoint"])
            self.splits = load_splits(common["data_dir"])
            check_data_fits(common["checkpoint"], self.meta, self.splits)
        self.teacher = teacher.to(where)
        self.quiet = common["quiet"]
        self.profile = common["profile"] or profile_for_input(self.meta["image_size"])
        if not common["profile"] and not self.quiet:
            size = self.meta["image_size"]
            click.echo(f"profile: {self.profile} (for {size}-px inputs; --profile to choose)", err=True)
        self.settings = dfq_profile(self.profile, **chosen)
        if common["threads"]:
            torch.set_num_threads(common["threads"])


USER_MODEL_OPTIONS = option_group(
    "user",
    click.option("--model", help="Your own network instead of --checkpoint: a saved nn.Module file "
                 "(torch.save(model, path)) or pkg.module:factory (called without arguments). Loading runs "
                 "its code: give only files you trust. TorchScript is refused."),
    click.option("--weights", type=click.Path(), help="A state_dict file for --model pkg.module:factory."),
    click.option("--input-size", help="With --model: its input, CxHxW (square), e.g. 3x224x224; H alone "
                 "means 3 channels. Required with --model."),
    click.option("--num-classes", type=click.IntRange(min=2),
                 help="With --model: its class count [default: read from one forward pass]."),
    click.option("--mean", callback=parse_non_negative,
                 help="With --model: comma-separated per-channel mean the model subtracts from [0, 1] "
                 "images, e.g. 0.485,0.456,0.406 [default: 0]."),
    click.option("--std", callback=parse_floats,
                 help="With --model: comma-separated per-channel std [default: 1]."),
    click.option("--eval-data", type=click.Path(),
                 help="With --model: labelled images that only score the result (no training data is "
                 "used): an .npz or IDX folder as for --data-dir (its test split), or a folder of images "
                 "with labels.csv (file,label per line). Need not hold every class. Default: not scored."),
)  # fmt: skip


def load_user_inputs(user: dict):
    """The network of ``--model``, its metadata, and the splits that score it (None without
    --eval-data): exit 2 with one line on anything wrong, before any work."""
    from nas.data import eval_splits, load_eval_images
    from nas.user_model import load_user_model, user_meta

    if not user["input_size"]:
        raise InputError("--input-size: required with --model (CxHxW, e.g. 3x224x224)")
    with input_errors():
        net, reference = load_user_model(user["model"], user["weights"])
    with input_errors():
        meta = user_meta(net, reference, user["input_size"], user["num_classes"], user["mean"], user["std"])
    splits = None
    if user["eval_data"]:
        with input_errors("--eval-data"):
            x, y = load_eval_images(user["eval_data"], meta["in_channels"], meta["image_size"])
            splits = eval_splits(x, y, meta)
    return net, meta, splits


def register(main: click.Group) -> None:
    main.add_command(quantize)
    main.add_command(quantize_table)
    main.add_command(dfq)


@click.command()
@COMMON_OPTIONS
@click.option("--source", type=lazy_choice("dfq.sources", "SOURCES"), default="gdfq", show_default=True,
              help=SOURCE_HELP)  # fmt: skip
@click.option("--finetune", type=lazy_choice("dfq.finetunes", "FINETUNES"), help=FINETUNE_HELP)
@click.option(
    "--w-bits",
    type=click.IntRange(2, 16),
    help="Weight bits [default: the bits of the run folder's accelerator.json, else 4].",
)
@click.option(
    "--a-bits",
    type=click.IntRange(2, 16),
    help="Activation bits [default: the bits of the run folder's accelerator.json, else 4].",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the source and fine-tuning.")
@USER_MODEL_OPTIONS
@out_dir_options("runs/quantized", "Folder for quantized.pt and metrics.json.")
def quantize(common, source, finetune, w_bits, a_bits, seed, user, out, overwrite):
    """Quantize a trained network without its training data; write quantized.pt and metrics.json.

    On a search run folder (or its model.pt) the bit widths default to its accelerator's: the network
    runs at what the accelerator computes. metrics.json holds full-precision and quantized test
    accuracy, top-1 agreement with the FP network, the method, every setting and the wall-clock of
    each phase."""
    from accel_model.files import clear_dir
    from dfq.api import quantize as run_quantize
    from dfq.finetunes import check_finetune
    from dfq.pipeline import save_quantized
    from dfq.quant_model import QuantSpec
    from dfq.sources import SOURCES
    from search.design_accuracy import checkpoint_and_bits

    out_dir = check_out_dir(out, overwrite)
    with input_errors("--finetune"):
        check_finetune(finetune or SOURCES.get(source).default_finetune, SOURCES.get(source))
    accel_bits = None
    if user["model"]:
        if common["checkpoint"]:
            raise InputError("--model: give either --checkpoint or --model, not both")
        if SOURCES.get(source).uses_real_data:
            raise InputError(f"--source {source}: needs the training images, which --model has none of")
    else:
        given = {k: v for k, v in user.items() if v not in (None, ()) and k != "model"}
        if given:
            raise InputError(f"--{next(iter(given)).replace('_', '-')}: only with --model")
        if common["checkpoint"]:
            with input_errors("--checkpoint"):
                common["checkpoint"], accel_bits = checkpoint_and_bits(common["checkpoint"])
    w_bits, a_bits = w_bits or accel_bits or 4, a_bits or accel_bits or 4
    run = Loaded(common, user)
    spec = QuantSpec(w_bits, a_bits, **run.spec)
    student, metrics = run_quantize(run.teacher, spec, run.meta, source, finetune, run.settings, seed,
                                    run.splits, progress=not run.quiet)  # fmt: skip
    metrics["checkpoint"] = str(common["checkpoint"] or user["model"])
    clear_dir(out_dir)
    run_facts = {k: v for k, v in metrics.items() if k != "spec"}
    save_quantized(out_dir / "quantized.pt", student, spec, run.meta, run_facts)
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    if metrics.get("generator_retries"):
        collapsed = [c for c in metrics["generator_checks"] if c["problems"]]
        seeds = ", ".join(str(c["seed"]) for c in collapsed)
        click.echo(
            f"note: the generator collapsed with seed(s) {seeds} ({collapsed[0]['problems'][0]}); "
            f"trained again with seed {metrics['generator_seed']}"
        )
    scored = "not scored (no --eval-data)"
    if "quant_test_acc" in metrics:
        scored = (f"test accuracy {metrics['quant_test_acc'] * 100:.2f}% "
                  f"(FP {metrics['fp_test_acc'] * 100:.2f}%, "
                  f"top-1 agreement {metrics['top1_agreement'] * 100:.2f}%)")  # fmt: skip
    seconds = metrics["total_time_s"]
    click.echo(f"W{w_bits}A{a_bits} {metrics['method']}: {scored} in {seconds:.0f} s -> {out_dir}")


@click.command("quantize-table")
@COMMON_OPTIONS
@click.option("--seeds", type=click.IntRange(1, 10), default=3, show_default=True, help="Seeds per row.")
@click.option("--out", type=click.Path(dir_okay=False), default="results/tables/dfq_fashion.csv",
              show_default=True, help="Summary CSV (mean and std over seeds); each run goes to "
              "<out>_runs.csv, which a rerun resumes.")  # fmt: skip
def quantize_table(common, seeds, out):
    """Table of W8A8/W4A4/W3A3/W2A4 x {noise PTQ, ZeroQ PTQ, ZeroQ+KD, GDFQ} with real-data PTQ and
    QAT as references, over several seeds; resumable."""
    from dfq.table import TABLE_BITS, TABLE_METHODS

    run_table_command(Loaded(common), TABLE_METHODS, TABLE_BITS, seeds, out)


@click.group()
def dfq():
    """Data-free quantization method grids."""


@dfq.command("table")
@COMMON_OPTIONS
@click.option("--sources", default="gdfq,dsg,clusterq,qimera", show_default=True,
              help="Comma-separated synthetic sources (see `coexplore quantize --help`).")  # fmt: skip
@click.option("--finetunes", default="kd,ait", show_default=True, help="Comma-separated fine-tunings.")
@click.option("--bits", "bits_spec", default="W4A4,W3A3,W2A4", show_default=True,
              help="Comma-separated bit widths as W<weight bits>A<activation bits>.")  # fmt: skip
@click.option("--seeds", type=click.IntRange(1, 10), default=3, show_default=True, help="Seeds per row.")
@click.option("--out", type=click.Path(dir_okay=False), default="results/tables/dfq_methods.csv",
              show_default=True,
              help="Summary CSV; each run goes to <out>_runs.csv, which a rerun resumes.")  # fmt: skip
def dfq_table(common, sources, finetunes, bits_spec, seeds, out):
    """Every source x fine-tuning x bit width over several seeds (resumable): the method comparison."""
    from dfq.table import method_grid, parse_bits

    with input_errors():
        grid = method_grid(sources.split(","), finetunes.split(","))
        bits = parse_bits(bits_spec)
    run_table_command(Loaded(common), grid, bits, seeds, out)


@dfq.command("report")
@click.option(
    "--runs",
    "runs_specs",
    multiple=True,
    metavar="NAME=FILE",
    help="A teacher's name and one of its runs files (*_runs.csv of `dfq table` or "
    "`quantize-table`); repeat, also with the same NAME.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default="results/tables/dfq_methods.csv",
    show_default=True,
    help="Merged summary CSV; claims go to <out>_claims.csv.",
)
def dfq_report(runs_specs, out):
    """Merge method tables of several teachers and check the papers' claims (Qimera > GDFQ,
    ClusterQ > GDFQ, DSG > ZeroQ, +AIT helps) on them; prints the Markdown tables."""
    from accel_model.files import write_rows
    from dfq.report import check_claims, claims_path, markdown_tables, merge, parse_runs_option

    with input_errors("--runs"):
        summary = merge(parse_runs_option(runs_specs))
    if not summary:
        raise InputError("--runs: the files hold no runs")
    claims = check_claims(summary)
    write_rows(out, summary)
    if claims:
        write_rows(claims_path(out), claims)
    click.echo(markdown_tables(summary, claims), nl=False)
    click.echo(f"-> {out}" + (f", {claims_path(out)}" if claims else ""))


def run_table_command(run: Loaded, methods, bits, seeds: int, out: str) -> None:
    """Check the runs file, run the resumable table and print it (``quantize-table`` and ``dfq table``)."""
    from dfq.table import check_resumable, run_table

    with input_errors():
        check_resumable(run.teacher, run.settings, run.spec, Path(out))

    def show(row):
        click.echo(
            f"{row['method']:<22} W{row['w_bits']}A{row['a_bits']} seed {row['seed']}: "
            f"{float(row['quant_test_acc']) * 100:.2f}% ({float(row['total_time_s']):.0f} s)"
        )

    summary = run_table(
        run.teacher,
        run.meta,
        run.splits,
        run.settings,
        Path(out),
        seeds,
        methods,
        bits,
        spec_overrides=run.spec,
        on_row=show,
        progress=not run.quiet,
    )
    for row in summary:
        click.echo(
            f"{row['method']:<22} {row['bits']}: {row['acc_mean']:.2f} +- {row['acc_std']:.2f} "
            f"(drop {row['drop_mean']:.2f}) {row['time_s_mean']:.0f} s"
        )
    click.echo(f"-> {out}")
