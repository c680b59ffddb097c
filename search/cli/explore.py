"""Search commands: ``search`` (DANCE, HDX with constraints), ``baseline``, ``search-table``, ``sweep``,
``runs list|summary`` and ``pareto``."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import click

from accel_model.paths import DEFAULT_GENERATOR
from search.cli.common import (
    DATA_DIR_OPTION,
    EVALUATOR_OPTION,
    INPUT_SIZE_OPTION,
    OBJECTIVE_OPTION,
    QUIET_OPTION,
    TOP_K_OPTION,
    WORKERS_OPTION,
    InputError,
    check_out_dir,
    input_errors,
    lazy_choice,
    option_group,
    options,
    out_dir_options,
    parse_floats,
    parse_lams,
    search_profile_option,
)

SEARCH_OPTIONS = option_group(
    "common",
    OBJECTIVE_OPTION,
    click.option("--lam", type=click.FloatRange(min=0), default=0.5, show_default=True,
                 help="Weight of the log hardware cost against cross-entropy."),
    search_profile_option("quick"),
    EVALUATOR_OPTION,
    click.option("--epochs", type=click.IntRange(min=2), help="Override the profile's search epochs."),
    click.option("--seed", type=int, default=0, show_default=True),
    DATA_DIR_OPTION,
    INPUT_SIZE_OPTION,
)  # fmt: skip
CONSTRAINT_OPTIONS = option_group(
    "limits",
    click.option("--min-fps", type=float, help="Hard constraint: frames per second at least this."),
    click.option("--max-latency-ms", type=float, help="Hard constraint: latency per image at most this."),
    click.option("--max-energy-mj", type=float, help="Hard constraint: energy per image at most this."),
    click.option("--max-area-mm2", type=float, help="Hard constraint: accelerator area at most this."),
)
MODE_OPTIONS = options(
    click.option("--constraint-mode", type=click.Choice(["hdx", "penalty"]), default="hdx", show_default=True,
                 help="hdx: gradient manipulation; penalty: soft-penalty baseline."),
    click.option("--penalty", type=click.FloatRange(min=0), default=1.0, show_default=True,
                 help="Weight of the soft penalty (--constraint-mode penalty)."),
)  # fmt: skip
GENERATOR_OPTION = click.option(
    "--generator",
    "generator_path",
    default=str(DEFAULT_GENERATOR),
    show_default=True,
    help="DANCE's hardware generator file (its objective must match --objective).",
)
RESULT_ROWS = (  # (label, metrics key, format)
    ("latency (ms)", "latency_ms", "{:.4f}"),
    ("frames/s", "fps", "{:,.0f}"),
    ("energy (uJ)", "energy_uj", "{:.3f}"),
    ("area (mm2)", "area_mm2", "{:.3f}"),
    ("EDAP", "edap", "{:.4g}"),
)


def result_table(metrics: dict, out_dir: Path) -> str:
    """The derived design as a small text table: accuracy, and each cost predicted vs simulated."""
    sim, pred = metrics["simulated"], metrics["predicted"]
    lines = [
        f"arch         {','.join(metrics['arch']['ops'])}",
        f"accelerator  {json.dumps(metrics['accelerator'])}",
        f"accuracy     test {metrics['acc_q'] * 100:.2f}% at {metrics['bits']} bits (data-free quantized; "
        f"full precision {metrics['acc_fp'] * 100:.2f}%, val {metrics['val_acc'] * 100:.2f}%)",
        f"{'':<14}{'predicted':>12}{'simulated':>12}",
    ]
    lines += [
        f"{label:<14}{fmt.format(pred[key]):>12}{fmt.format(sim[key]):>12}" for label, key, fmt in RESULT_ROWS
    ]
    lines.append(
        f"search {metrics['search_time_s']:.0f} s, total {metrics['total_time_s']:.0f} s -> {out_dir}"
    )
    return "\n".join(lines)


def epoch_printer(quiet: bool):
    def show(row):
        if not quiet:
            click.echo(
                f"epoch {row['epoch']} ({row['phase']}): entropy {row['alpha_entropy']:.3f}, "
                f"val acc {row['val_acc_supernet']:.4f}, arch {row['arch']}"
            )

    return show


def register(main: click.Group) -> None:
    for command in (search, baseline, search_table, sweep, runs, pareto):
        main.add_command(command)


@click.command()
@SEARCH_OPTIONS
@WORKERS_OPTION
@QUIET_OPTION
@click.option("--hw", type=click.Choice(["generator", "free"]), default="generator", show_default=True,
              help="generator: the frozen hardware-generation network (DANCE); free: accelerator logits "
              "trained with alpha.")  # fmt: skip
@GENERATOR_OPTION
@click.option("--sampling", type=click.Choice(["binary", "gumbel", "soft"]), default=None,
              help="Path sampling of the supernet (default: the profile's, binary gates).")  # fmt: skip
@CONSTRAINT_OPTIONS
@MODE_OPTIONS
@out_dir_options("runs/search", "Run folder.")
def search(
    common, workers, quiet, hw, generator_path, sampling, limits, constraint_mode, penalty, out, overwrite
):
    """Search a network and its accelerator together (DANCE), then retrain the derived child, simulate
    it on the derived accelerator with ZigZag and write a run folder (see docs/search-and-hdx.md). With
    constraints (--min-fps etc.) the search is HDX's."""
    from search.run import dance_hardware, generator_warnings, prepare_constrained, run_dance

    out_dir = check_out_dir(out, overwrite)
    with input_errors():
        setup, constraints = prepare_constrained(
            **common, out_dir=out_dir, limits=limits, hw=hw, sampling=sampling,
            constraint_mode=constraint_mode, penalty=penalty,
        )  # fmt: skip
    with input_errors("--generator"):
        hardware = dance_hardware(generator_path, setup) if hw == "generator" else None
    for warning in generator_warnings(setup, hardware, constraints) if constraints and hardware else []:
        click.echo(f"warning: {warning}", err=True)
    metrics = run_dance(setup, hardware, constraints, workers, not quiet, epoch_printer(quiet))
    click.echo(result_table(metrics, setup.out_dir))
    if metrics.get("constraint_status") == "infeasible":
        raise click.ClickException("no simulator-verified design met the constraints (see metrics.json)")


@click.command()
@click.argument("method", type=lazy_choice("search.baselines", "BASELINES"))
@SEARCH_OPTIONS
@WORKERS_OPTION
@QUIET_OPTION
@click.option("--budget-s", type=click.FloatRange(min=1), default=300, show_default=True,
              help="optuna: wall-clock of the black-box search (use DANCE's search time).")  # fmt: skip
@TOP_K_OPTION
@out_dir_options("runs/baseline", "Run folder.")
def baseline(method, common, workers, quiet, budget_s, top_k, out, overwrite):
    """Baselines on the same budget: two-stage (accuracy-only NAS, then the best accelerator),
    hw-first (best accelerator for the default network, then NAS on it), optuna (NSGA-II over
    network and accelerator with proxy accuracy and simulated cost). Writes a run folder like search."""
    from search.run import prepare, run_baseline

    out_dir = check_out_dir(out, overwrite)
    with input_errors():
        setup = prepare(**common, out_dir=out_dir)
    metrics = run_baseline(setup, method, workers, top_k, budget_s, not quiet)
    click.echo(result_table(metrics, setup.out_dir))


@click.command("search-table")
@click.option("--objective", default="edap", show_default=True, help="As for `coexplore search`.")
@click.option("--lams", default="0.1,0.5,2", show_default=True, callback=parse_lams,
              help="Comma-separated lam values.")  # fmt: skip
@click.option("--seeds", type=click.IntRange(1, 10), default=2, show_default=True)
@click.option("--methods", default="dance,two-stage,hw-first,optuna", show_default=True,
              help="Comma-separated subset of dance, two-stage, hw-first, optuna.")  # fmt: skip
@search_profile_option("short")
@EVALUATOR_OPTION
@GENERATOR_OPTION
@WORKERS_OPTION
@TOP_K_OPTION
@DATA_DIR_OPTION
@INPUT_SIZE_OPTION
@click.option("--runs-dir", type=click.Path(file_okay=False), default="runs/search_table", show_default=True,
              help="One run folder per (method, lam, seed) goes here.")  # fmt: skip
@click.option("--out", type=click.Path(dir_okay=False), default="results/tables/search_quick.csv",
              show_default=True,
              help="Summary CSV; each run goes to <out>_runs.csv, which a rerun resumes.")  # fmt: skip
@QUIET_OPTION
@click.option("--summary-only", is_flag=True,
              help="Run nothing: rewrite and print the summary of the runs so far.")  # fmt: skip
@click.option("--markdown", is_flag=True, help="Print the summary as a Markdown table.")
def search_table(objective, lams, seeds, methods, profile, evaluator_path, generator_path, workers, top_k,
                 data_dir, input_size, runs_dir, out, quiet, summary_only, markdown):  # fmt: skip
    """Table of DANCE against two-stage, hw-first and optuna over lam values and seeds: test accuracy
    of the retrained child and its simulated latency/energy/area/EDAP, plus search wall-clock.
    Resumable: rerun the same command to continue."""
    from search.run import dance_hardware, prepare
    from search.table import check_methods, run_table, table_setup
    from search.table import markdown as markdown_table

    method_list = tuple(m.strip() for m in methods.split(","))
    with input_errors("--methods"):
        check_methods(method_list)
    if summary_only:
        with input_errors():
            summary = run_table(None, Path(out), lams, seeds, method_list)
        click.echo(markdown_table(summary) if markdown else f"{len(summary)} rows -> {out}")
        return
    with input_errors():
        setup = prepare(objective, lams[0], profile, evaluator_path, None, 0, data_dir, Path(runs_dir),
                        input_size)  # fmt: skip
        hardware = dance_hardware(generator_path, setup)

    def show(row):
        click.echo(
            f"{row['method']:<10} lam {float(row['lam']):g} seed {row['seed']}: "
            f"{float(row['acc_q']) * 100:.2f}% at {row['bits']} bits, EDAP {float(row['edap']):.3e}, "
            f"search {float(row['search_time_s']):.0f} s"
        )

    summary = run_table(
        table_setup(setup, hardware, workers, top_k, not quiet),
        Path(out),
        lams,
        seeds,
        method_list,
        on_row=show,
    )
    for row in summary:
        click.echo(
            f"{row['method']:<10} lam {row['lam']:g} (n={row['seeds']}): "
            f"{row['acc_q']:.2f}% at {row['bits']} bits, EDAP {row['edap']:.3e} "
            f"search {row['search_s']:.0f} s"
        )
    if markdown:
        click.echo(markdown_table(summary))
    click.echo(f"-> {out}")


def open_db(sweep_dir: str, must_exist: bool = True):
    from search.sweep import RunsDB

    path = Path(sweep_dir) / "runs.db"
    if must_exist and not path.is_file():
        raise InputError(f"{path} not found (run `coexplore sweep --out {sweep_dir}` first)")
    with input_errors():
        return RunsDB(path)


@click.command()
@option_group(
    "targets",
    click.option("--min-fps", callback=parse_floats, help="Comma-separated targets, e.g. 6000,8000,9000."),
    click.option("--max-latency-ms", callback=parse_floats, help="Comma-separated targets."),
    click.option("--max-energy-mj", callback=parse_floats, help="Comma-separated targets."),
    click.option("--max-area-mm2", callback=parse_floats, help="Comma-separated targets."),
)
@click.option("--seeds", type=click.IntRange(1, 10), default=2, show_default=True)
@click.option("--modes", type=click.Choice(["hdx", "penalty", "both"]), default="both", show_default=True)
@click.option("--penalties", callback=parse_floats, default="0.1,1,10", show_default=True,
              help="Soft-penalty weights swept for the penalty baseline.")  # fmt: skip
@search_profile_option("quick")
@click.option("--objective", default="edap", show_default=True)
@click.option("--lam", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Weight of the hardware cost; 0: the best accuracy under the constraints "
              "alone.")  # fmt: skip
@click.option("--hw", type=click.Choice(["generator", "free"]), default="generator", show_default=True,
              help="generator: DANCE's hardware-generation network (the constraint moves the architecture, "
              "the accelerator follows it); free: accelerator logits the constraint's gradient moves "
              "directly.")  # fmt: skip
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Searches at once (local processes).")  # fmt: skip
@click.option("--scheduler", help="Dask scheduler address (tcp://host:port): run the searches there.")
@click.option("--data-dir", help="As for `coexplore search`.")
@INPUT_SIZE_OPTION
@click.option("--out", type=click.Path(file_okay=False), default="runs/sweep", show_default=True,
              help="Sweep folder: run folders and runs.db. Rerun the same command to resume.")  # fmt: skip
def sweep(targets, seeds, modes, penalties, profile, objective, lam, hw, jobs, scheduler, data_dir,
          input_size, out):  # fmt: skip
    """Constrained searches over targets x seeds, HDX and/or the soft-penalty baseline, each a run folder
    recorded in <out>/runs.db. Resumable; see `coexplore runs list|summary` and `coexplore pareto`."""
    from results.sweep_table import run_line
    from search.sweep import plan, run_sweep

    common = ["--profile", profile, "--objective", objective, "--lam", f"{lam:g}", "--hw", hw]
    common += ["--data-dir", data_dir] if data_dir else []
    common += ["--input-size", input_size] if input_size else []
    with input_errors("--input-size"):
        if input_size:
            from nas.deployment import InputSize

            InputSize.parse(input_size, default_channels=1)  # the format; each run checks the rest
    with input_errors():
        planned = plan(targets, seeds, ["hdx", "penalty"] if modes == "both" else [modes], penalties, common)
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    db = open_db(out, must_exist=False)
    click.echo(f"{len(planned)} runs in {root / 'runs.db'}")
    signal.signal(signal.SIGTERM, _exit_on_sigterm)  # so that the runs it queued are marked killed
    try:
        rows = run_sweep(db, planned, root, jobs, scheduler, on_done=lambda row: click.echo(run_line(row)))
    finally:
        db.close()
    done = sum(r["status"] in ("done", "infeasible") for r in rows)
    click.echo(f"{done}/{len(rows)} finished -> {root}")


def _exit_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


@click.group()
def runs():
    """Runs recorded by `coexplore sweep`."""


@runs.command("list")
@click.argument("sweep_dir", default="runs/sweep")
@click.option(
    "--csv", "csv_out", type=click.Path(dir_okay=False), help="Also write the finished runs as CSV."
)
def runs_list(sweep_dir, csv_out):
    """One line per run of SWEEP_DIR/runs.db: status, constraints, accuracy and simulated cost."""
    from results.sweep_table import runs_listing, write_points

    db = open_db(sweep_dir)
    rows = db.rows()
    db.close()
    if csv_out:
        write_points(rows, Path(csv_out))
    click.echo(runs_listing(rows))


@runs.command("summary")
@click.argument("sweep_dir", default="runs/sweep")
@click.option("--markdown", is_flag=True, help="Print the table as Markdown (as in docs/results/).")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False), help="Also write the table as CSV.")
def runs_summary(sweep_dir, markdown, csv_out):
    """HDX against the soft penalty per target: runs meeting it (per the simulator), test accuracy and
    EDAP (mean ± std over seeds). The penalty weight is the one meeting targets most often (ties:
    validation accuracy), chosen once for the sweep."""
    from accel_model.files import write_rows
    from results.pareto import points
    from results.sweep_table import markdown as to_markdown
    from results.sweep_table import plain_table, summary_rows

    db = open_db(sweep_dir)
    rows = summary_rows(points(db.rows()))
    db.close()
    if not rows:
        raise InputError(f"{sweep_dir}/runs.db has no finished run yet")
    if csv_out:
        write_rows(Path(csv_out), rows)
    click.echo(to_markdown(rows) if markdown else plain_table(rows))


@click.command()
@click.argument("sweep_dir", default="runs/sweep")
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default=None,
    help="PNG to write (default SWEEP_DIR/pareto.png); the front goes beside it as CSV.",
)
def pareto(sweep_dir, out):
    """Plot accuracy against simulated latency, energy and area of a sweep's runs, with the constraint
    lines, HDX and soft-penalty runs apart and the front marked; write the front as CSV."""
    from results.pareto import plot_sweep, points

    db = open_db(sweep_dir)
    pts = points(db.rows())
    db.close()
    if not pts:
        raise InputError(f"{sweep_dir}/runs.db has no finished run yet")
    png = Path(out) if out else Path(sweep_dir) / "pareto.png"
    front_size, csv_path = plot_sweep(pts, png)
    click.echo(
        f"{len(pts)} runs, {front_size} on the front -> {png}" + (f", {csv_path}" if front_size else "")
    )
