"""``coexplore sweep`` (constraint sweeps into ``runs.db``), ``runs list`` and ``pareto``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from search.cli_util import InputError, bad_input_is_exit_2


def parse_floats(ctx, param, value: str | None) -> tuple[float, ...]:
    if value is None:
        return ()
    try:
        values = tuple(float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of numbers") from None
    if any(v <= 0 for v in values):
        raise click.BadParameter("values must be > 0")
    return values


def open_db(sweep_dir: str, must_exist: bool = True):
    from search.sweep import RunsDB

    path = Path(sweep_dir) / "runs.db"
    if must_exist and not path.is_file():
        raise InputError(f"{path} not found (run `coexplore sweep --out {sweep_dir}` first)")
    with bad_input_is_exit_2():
        return RunsDB(path)


def register(main: click.Group) -> None:
    from search.dance import SEARCH_PROFILES

    @main.command()
    @click.option("--min-fps", callback=parse_floats, help="Comma-separated targets, e.g. 6000,8000,9000.")
    @click.option("--max-latency-ms", callback=parse_floats, help="Comma-separated targets.")
    @click.option("--max-energy-mj", callback=parse_floats, help="Comma-separated targets.")
    @click.option("--max-area-mm2", callback=parse_floats, help="Comma-separated targets.")
    @click.option("--seeds", type=click.IntRange(1, 10), default=2, show_default=True)
    @click.option("--modes", type=click.Choice(["hdx", "penalty", "both"]), default="both", show_default=True)
    @click.option(
        "--penalties",
        callback=parse_floats,
        default="0.1,1,10",
        show_default=True,
        help="Soft-penalty weights swept for the penalty baseline.",
    )
    @click.option("--profile", type=click.Choice(sorted(SEARCH_PROFILES)), default="quick", show_default=True)
    @click.option("--objective", default="edap", show_default=True)
    @click.option(
        "--lam",
        type=click.FloatRange(min=0),
        default=0.0,
        show_default=True,
        help="Weight of the hardware cost; 0: the best accuracy under the constraints alone.",
    )
    @click.option(
        "--hw",
        type=click.Choice(["generator", "free"]),
        default="generator",
        show_default=True,
        help="generator: DANCE's hardware-generation network (the constraint moves the architecture, the "
        "accelerator follows it); free: accelerator logits the constraint's gradient moves directly.",
    )
    @click.option(
        "--jobs",
        type=click.IntRange(min=1),
        default=1,
        show_default=True,
        help="Searches at once (local processes).",
    )
    @click.option("--scheduler", help="Dask scheduler address (tcp://host:port): run the searches there.")
    @click.option("--data-dir", help="As for `coexplore search`.")
    @click.option(
        "--out",
        type=click.Path(file_okay=False),
        default="runs/sweep",
        show_default=True,
        help="Sweep folder: run folders and runs.db. Rerun the same command to resume.",
    )
    def sweep(
        min_fps,
        max_latency_ms,
        max_energy_mj,
        max_area_mm2,
        seeds,
        modes,
        penalties,
        profile,
        objective,
        lam,
        hw,
        jobs,
        scheduler,
        data_dir,
        out,
    ):
        """Constrained searches over targets x seeds, HDX and/or the soft-penalty baseline, each a run folder
        recorded in <out>/runs.db. Resumable; see `coexplore runs list|summary` and `coexplore pareto`."""
        from search.sweep import plan, run_sweep

        targets = {
            "min_fps": min_fps,
            "max_latency_ms": max_latency_ms,
            "max_energy_mj": max_energy_mj,
            "max_area_mm2": max_area_mm2,
        }
        common = ["--profile", profile, "--objective", objective, "--lam", f"{lam:g}", "--hw", hw]
        if data_dir:
            common += ["--data-dir", data_dir]
        with bad_input_is_exit_2():
            runs = plan(targets, seeds, ["hdx", "penalty"] if modes == "both" else [modes], penalties, common)
        root = Path(out)
        root.mkdir(parents=True, exist_ok=True)
        db = open_db(out, must_exist=False)

        def show(row):
            metrics = row["metrics"] or {}
            checks = ", ".join(
                f"{c['constraint']}: {c['simulated']:.4g} {'met' if c['met'] else 'MISSED'}"
                for c in metrics.get("constraints", [])
            )
            acc = f"{metrics['test_acc'] * 100:.2f}%" if "test_acc" in metrics else "-"
            click.echo(f"{row['id']}: {row['status']}, test {acc}, {checks}")

        click.echo(f"{len(runs)} runs in {root / 'runs.db'}")
        try:
            rows = run_sweep(db, runs, root, jobs, scheduler, on_done=show)
        finally:
            db.close()
        done = sum(r["status"] in ("done", "infeasible") for r in rows)
        click.echo(f"{done}/{len(rows)} finished -> {root}")

    @main.group()
    def runs():
        """Runs recorded by `coexplore sweep`."""

    @runs.command("list")
    @click.argument("sweep_dir", default="runs/sweep")
    @click.option(
        "--csv", "csv_out", type=click.Path(dir_okay=False), help="Also write the finished runs as CSV."
    )
    def runs_list(sweep_dir, csv_out):
        """One line per run of SWEEP_DIR/runs.db: status, constraints, accuracy and simulated cost."""
        from accel_model.files import write_rows
        from results.pareto import points

        db = open_db(sweep_dir)
        rows = db.rows()
        db.close()
        finished = points(rows) if csv_out else []
        if finished:
            write_rows(Path(csv_out), [{**p, "constraints": json.dumps(p["constraints"])} for p in finished])
        click.echo(f"{'id':<44} {'status':<10} {'test acc':>8} {'fps':>9} {'energy uJ':>10} {'area mm2':>8}")
        for row in rows:
            m = row["metrics"] or {}
            sim = m.get("simulated", {})
            acc = f"{m['test_acc'] * 100:.2f}" if "test_acc" in m else "-"
            cost = (
                f"{sim['fps']:>9.0f} {sim['energy_uj']:>10.3f} {sim['area_mm2']:>8.3f}"
                if sim
                else f"{'-':>9} {'-':>10} {'-':>8}"
            )
            click.echo(f"{row['id']:<44} {row['status']:<10} {acc:>8} {cost}")

    @runs.command("summary")
    @click.argument("sweep_dir", default="runs/sweep")
    @click.option("--markdown", is_flag=True, help="Print the table as Markdown (as in the README).")
    @click.option("--csv", "csv_out", type=click.Path(dir_okay=False), help="Also write the table as CSV.")
    def runs_summary(sweep_dir, markdown, csv_out):
        """HDX against the soft penalty per target: runs meeting it (per the simulator), test accuracy and
        EDAP (mean ± std over seeds). The penalty weight is the one meeting targets most often (ties:
        validation accuracy), chosen once for the sweep."""
        from accel_model.files import write_rows
        from results.pareto import points
        from results.sweep_table import COLUMNS, summary_rows
        from results.sweep_table import markdown as to_markdown

        db = open_db(sweep_dir)
        rows = summary_rows(points(db.rows()))
        db.close()
        if not rows:
            raise InputError(f"{sweep_dir}/runs.db has no finished run yet")
        if csv_out:
            write_rows(Path(csv_out), rows)
        if markdown:
            click.echo(to_markdown(rows))
            return
        widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in COLUMNS}
        click.echo("  ".join(f"{c:<{widths[c]}}" for c in COLUMNS))
        for row in rows:
            click.echo("  ".join(f"{row[c]:<{widths[c]}}" for c in COLUMNS))

    @main.command()
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
        from accel_model.files import write_rows
        from results.pareto import front, plot, points

        db = open_db(sweep_dir)
        pts = points(db.rows())
        db.close()
        if not pts:
            raise InputError(f"{sweep_dir}/runs.db has no finished run yet")
        png = Path(out) if out else Path(sweep_dir) / "pareto.png"
        plot(pts, png)
        best = front([p for p in pts if p["met"]])
        csv_path = png.with_suffix(".csv")
        if best:
            write_rows(csv_path, [{k: v for k, v in p.items() if k != "constraints"} for p in best])
        click.echo(f"{len(pts)} runs, {len(best)} on the front -> {png}" + (f", {csv_path}" if best else ""))
