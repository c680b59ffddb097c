"""Data-free quantization commands: ``quantize`` (one run) and ``quantize-table`` (the method table)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from accel_model.files import write_rows
from search.cli_util import (
    DATA_DIR_OPTION,
    InputError,
    bad_input_is_exit_2,
    check_data_fits,
    check_out_dir,
    clear_dir,
    load_splits,
    out_dir_options,
)

SOURCE_HELP = (
    "noise: Gaussian images; zeroq: images optimized to match the BatchNorm statistics; gdfq: a "
    "class-conditional generator trained on the teacher (CE + BN statistics); dsg: the generator with DSG's "
    "per-sample slack BN alignment and layerwise enhancement; clusterq: with ClusterQ's class-centroid "
    "alignment; qimera: with Qimera's superposed embeddings and soft labels; real: training images "
    "(a reference, not data-free)."
)


def load_teacher(checkpoint: str, device: str = "cpu"):
    """The checkpoint's network on ``device`` (auto, cpu, cuda[:N]) and its metadata; exit 2 otherwise."""
    from nas.device import resolve_device
    from nas.train import load_checkpoint

    with bad_input_is_exit_2("--device"):
        where = resolve_device(device)
    with bad_input_is_exit_2():
        teacher, meta = load_checkpoint(checkpoint)
    return teacher.to(where), meta


def settings_from_options(profile: str, **overrides):
    from dfq.settings import dfq_profile

    with bad_input_is_exit_2("settings"):
        return dfq_profile(profile, **overrides)


FINETUNE_OPTIONS = (
    "finetune_steps", "finetune_lr", "act_scale_lr", "feature_kd_weight", "freeze_weight_grid"
)  # fmt: skip


def finetune_overrides(tuning: dict) -> dict:
    """The fine-tuning settings the command line sets, from the commands' ``**tuning`` (None: the
    profile's; an absent flag is None too)."""
    overrides = {k: tuning[k] for k in FINETUNE_OPTIONS}
    overrides["freeze_weight_grid"] = overrides["freeze_weight_grid"] or None
    return overrides


def common_options(fn):
    """Options shared by ``quantize`` and ``quantize-table``."""
    from dfq.settings import PROFILES

    for option in reversed(
        [
            click.option(
                "--checkpoint",
                required=True,
                type=click.Path(dir_okay=False),
                help="Full-precision checkpoint written by `coexplore train` (e.g. runs/default/best.pt).",
            ),
            click.option(
                "--profile",
                type=click.Choice(sorted(PROFILES)),
                default="quick",
                show_default=True,
                help="Step counts: quick (minutes on 2 cores), full (longer), smoke (seconds, for tests).",
            ),
            click.option(
                "--finetune-steps", type=click.IntRange(min=0), help="Override the profile's steps."
            ),
            click.option(
                "--finetune-lr",
                type=click.FloatRange(min=0, min_open=True),
                help="Override the profile's fine-tuning learning rate (Adam, cosine decay; quick: 1e-4).",
            ),
            click.option(
                "--act-scale-lr",
                type=click.FloatRange(min=0),
                help="Also learn the calibrated activation scales while fine-tuning, at this peak learning "
                "rate (log space, LSQ-style). Default 0: the ranges stay as calibrated.",
            ),
            click.option(
                "--feature-kd-weight",
                type=click.FloatRange(min=0),
                help="Add this weight times a feature distillation to the fine-tuning loss: every quantized "
                "layer's output against the teacher's, normalized by its variance. Default 0: none.",
            ),
            click.option(
                "--freeze-weight-grid",
                is_flag=True,
                help="Fix each layer's per-channel weight grid when fine-tuning starts (saved with the "
                "student) instead of reading it from the moving weights at every step.",
            ),
            click.option(
                "--weight-clipping",
                type=click.Choice(["minmax", "mse"]),
                default="minmax",
                show_default=True,
                help="Per-channel weight range: min/max, or the MSE-optimal clipping.",
            ),
            click.option(
                "--observer",
                type=click.Choice(["mse", "ema", "percentile"]),
                default="mse",
                show_default=True,
                help="Per-tensor activation range from the calibration batches: the min/max range shrunk to "
                "the least squared quantization error, the bias-corrected EMA of batch min/max, or the "
                "99.99th percentiles.",
            ),
            click.option(
                "--keep-first-last-8bit/--no-keep-first-last-8bit",
                default=True,
                show_default=True,
                help="Quantize the first conv and the classifier at 8 bits.",
            ),
            click.option(
                "--threads", type=click.IntRange(min=0), default=0, help="Torch CPU threads (0: default)."
            ),
            click.option(
                "--device",
                default="cpu",
                show_default=True,
                help="Where teacher, generator and student run: cpu, cuda[:N] or auto (CUDA when present). "
                "Random draws stay on the CPU, so a seed gives the same draws on every device.",
            ),
            DATA_DIR_OPTION,
            click.option("--quiet", is_flag=True, help="No progress bars."),
        ]
    ):
        fn = option(fn)
    return fn


def register(main: click.Group) -> None:
    from dfq.finetune import finetune_names
    from dfq.sources import source_names

    @main.command()
    @common_options
    @click.option(
        "--source", type=click.Choice(source_names()), default="gdfq", show_default=True, help=SOURCE_HELP
    )
    @click.option(
        "--finetune",
        type=click.Choice(finetune_names()),
        help="none: calibrate only (PTQ); kd: distil the FP teacher on the source; ait: KL-only distillation "
        "with gradient inundation (AIT); qat: CE on real labels (source real only). Default: kd for the "
        "generator sources (gdfq, dsg, clusterq, qimera), none otherwise.",
    )
    @click.option("--w-bits", type=click.IntRange(2, 16), default=4, show_default=True, help="Weight bits.")
    @click.option(
        "--a-bits", type=click.IntRange(2, 16), default=4, show_default=True, help="Activation bits."
    )
    @click.option(
        "--seed", type=int, default=0, show_default=True, help="Seed of the source and fine-tuning."
    )
    @out_dir_options("runs/quantized", "Folder for quantized.pt and metrics.json.")
    def quantize(checkpoint, profile, weight_clipping, observer, keep_first_last_8bit, threads, device,
                 data_dir, quiet, source, finetune, w_bits, a_bits, seed, out, overwrite,
                 **tuning):  # fmt: skip
        """Quantize a trained network without its training data; write quantized.pt and metrics.json.

        metrics.json holds full-precision and quantized test accuracy, top-1 agreement with the FP
        network, the method, every setting and the wall-clock of each phase."""
        import torch

        from dfq.finetune import check_finetune
        from dfq.pipeline import run_method, save_quantized, source_context
        from dfq.quant_model import QuantSpec
        from dfq.sources import get_source

        out_dir = check_out_dir(out, overwrite)
        source_cls = get_source(source)
        finetune = finetune or source_cls.default_finetune
        with bad_input_is_exit_2("--finetune"):
            check_finetune(finetune, source_cls)
        settings = settings_from_options(
            profile,
            **finetune_overrides(tuning),
            ce_weight=source_cls.default_ce_weight,
        )
        spec = QuantSpec(w_bits, a_bits, **spec_options(weight_clipping, observer, keep_first_last_8bit))
        teacher, meta = load_teacher(checkpoint, device)
        splits = load_splits(data_dir)
        check_data_fits(checkpoint, meta, splits)
        if threads:
            torch.set_num_threads(threads)
        ctx = source_context(meta, splits, source_cls, settings, seed, progress=not quiet)
        with bad_input_is_exit_2(f"source {source}"):
            prepared = source_cls(teacher, ctx)
        student, metrics = run_method(
            teacher, meta, splits, prepared, finetune, spec, settings, seed, not quiet
        )
        metrics["checkpoint"] = str(checkpoint)
        clear_dir(out_dir)
        save_quantized(
            out_dir / "quantized.pt", student, spec, meta, {k: v for k, v in metrics.items() if k != "spec"}
        )
        (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        click.echo(
            f"W{w_bits}A{a_bits} {metrics['method']}: test accuracy {metrics['quant_test_acc'] * 100:.2f}% "
            f"(FP {metrics['fp_test_acc'] * 100:.2f}%, "
            f"top-1 agreement {metrics['top1_agreement'] * 100:.2f}%) "
            f"in {metrics['total_time_s']:.0f} s -> {out_dir}"
        )

    @main.command("quantize-table")
    @common_options
    @click.option("--seeds", type=click.IntRange(1, 10), default=3, show_default=True, help="Seeds per row.")
    @click.option(
        "--out",
        type=click.Path(dir_okay=False),
        default="results/tables/dfq_fashion.csv",
        show_default=True,
        help="Summary CSV (mean and std over seeds); each run goes to <out>_runs.csv, which a rerun resumes.",
    )
    def quantize_table(checkpoint, profile, weight_clipping, observer, keep_first_last_8bit, threads, device,
                       data_dir, quiet, seeds, out, **tuning):  # fmt: skip
        """Table of W8A8/W4A4/W3A3/W2A4 x {noise PTQ, ZeroQ PTQ, ZeroQ+KD, GDFQ} with real-data PTQ and
        QAT as references, over several seeds; resumable."""
        from dfq.table import TABLE_BITS, TABLE_METHODS

        spec = spec_options(weight_clipping, observer, keep_first_last_8bit)
        overrides = finetune_overrides(tuning)
        run_table_command(TABLE_METHODS, TABLE_BITS, checkpoint, profile, overrides, spec, (threads, device),
                          data_dir, quiet, seeds, out)  # fmt: skip

    @main.group()
    def dfq():
        """Data-free quantization method grids."""

    @dfq.command("table")
    @common_options
    @click.option(
        "--sources",
        default="gdfq,dsg,clusterq,qimera",
        show_default=True,
        help="Comma-separated synthetic sources (see `coexplore quantize --help`).",
    )
    @click.option("--finetunes", default="kd,ait", show_default=True, help="Comma-separated fine-tunings.")
    @click.option(
        "--bits",
        "bits_spec",
        default="W4A4,W3A3,W2A4",
        show_default=True,
        help="Comma-separated bit widths as W<weight bits>A<activation bits>.",
    )
    @click.option("--seeds", type=click.IntRange(1, 10), default=3, show_default=True, help="Seeds per row.")
    @click.option(
        "--out",
        type=click.Path(dir_okay=False),
        default="results/tables/dfq_methods.csv",
        show_default=True,
        help="Summary CSV; each run goes to <out>_runs.csv, which a rerun resumes.",
    )
    def dfq_table(
        checkpoint,
        profile,
        weight_clipping,
        observer,
        keep_first_last_8bit,
        threads,
        device,
        data_dir,
        quiet,
        sources,
        finetunes,
        bits_spec,
        seeds,
        out,
        **tuning,
    ):
        """Every source x fine-tuning x bit width over several seeds (resumable): the method comparison."""
        from dfq.finetune import finetune_names
        from dfq.sources import source_names
        from dfq.table import TableMethod, parse_bits

        grid = []
        with bad_input_is_exit_2():
            for source in sources.split(","):
                for ft in finetunes.split(","):
                    if source not in source_names() or ft not in finetune_names():
                        raise ValueError(
                            f"unknown source or fine-tuning {source}+{ft}; sources: {source_names()}, "
                            f"fine-tunings: {finetune_names()}"
                        )
                    grid.append(TableMethod(f"{source}+{ft}", source, ft))
            bits = parse_bits(bits_spec)
        spec = spec_options(weight_clipping, observer, keep_first_last_8bit)
        overrides = finetune_overrides(tuning)
        run_table_command(tuple(grid), bits, checkpoint, profile, overrides, spec, (threads, device),
                          data_dir, quiet, seeds, out)  # fmt: skip

    @dfq.command("report")
    @click.option("--runs", "runs_specs", multiple=True, metavar="NAME=FILE",
                  help="A teacher's name and one of its runs files (*_runs.csv of `dfq table` or "
                       "`quantize-table`); repeat, also with the same NAME.")  # fmt: skip
    @click.option("--out", type=click.Path(dir_okay=False), default="results/tables/dfq_methods.csv",
                  show_default=True, help="Merged summary CSV; claims go to <out>_claims.csv.")  # fmt: skip
    def dfq_report(runs_specs, out):
        """Merge method tables of several teachers and check the papers' claims (Qimera > GDFQ,
        ClusterQ > GDFQ, DSG > ZeroQ, +AIT helps) on them; prints the Markdown tables."""
        from dfq.report import check_claims, claims_path, markdown_tables, merge, parse_runs_option

        with bad_input_is_exit_2("--runs"):
            summary = merge(parse_runs_option(runs_specs))
        if not summary:
            raise InputError("--runs: the files hold no runs")
        claims = check_claims(summary)
        write_rows(out, summary)
        if claims:
            write_rows(claims_path(out), claims)
        click.echo(markdown_tables(summary, claims), nl=False)
        click.echo(f"-> {out}" + (f", {claims_path(out)}" if claims else ""))


def spec_options(weight_clipping: str, observer: str, keep_first_last_8bit: bool) -> dict:
    """The ``QuantSpec`` fields the command line sets (beside the bit widths)."""
    return {
        "weight_clipping": weight_clipping,
        "observer": observer,
        "keep_first_last_8bit": keep_first_last_8bit,
    }


def run_table_command(methods, bits, checkpoint, profile, overrides: dict, spec: dict, compute, data_dir,
                      quiet, seeds, out) -> None:  # fmt: skip
    """Load, run the resumable table and print it (``quantize-table`` and ``dfq table``); ``overrides``
    are the profile's settings the command line sets (None: keep), ``compute`` (torch CPU threads, device)."""
    import torch

    from dfq.table import RunsMismatch, run_table

    threads, device = compute
    settings = settings_from_options(profile, **overrides)
    teacher, meta = load_teacher(checkpoint, device)
    splits = load_splits(data_dir)
    check_data_fits(checkpoint, meta, splits)
    if threads:
        torch.set_num_threads(threads)

    def show(row):
        click.echo(
            f"{row['method']:<22} W{row['w_bits']}A{row['a_bits']} seed {row['seed']}: "
            f"{float(row['quant_test_acc']) * 100:.2f}% ({float(row['total_time_s']):.0f} s)"
        )

    try:
        summary = run_table(teacher, meta, splits, settings, Path(out), seeds, methods, bits,
                            spec_overrides=spec, on_row=show, progress=not quiet)  # fmt: skip
    except RunsMismatch as exc:
        raise InputError(str(exc)) from None
    for row in summary:
        click.echo(
            f"{row['method']:<22} {row['bits']}: {row['acc_mean']:.2f} +- {row['acc_std']:.2f} "
            f"(drop {row['drop_mean']:.2f}) {row['time_s_mean']:.0f} s"
        )
    click.echo(f"-> {out}")
