"""``coexplore search-table``: DANCE and the baselines over several lam and seeds (``search.table``)."""

from __future__ import annotations

from pathlib import Path

import click

from search.cli_evaluator import EVALUATOR_OPTION
from search.cli_util import DATA_DIR_OPTION, bad_input_is_exit_2


def parse_lams(value: str) -> tuple[float, ...]:
    try:
        lams = tuple(float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of numbers") from None
    if not lams or any(v < 0 for v in lams):
        raise click.BadParameter("needs one or more values >= 0")
    return lams


def register(main: click.Group) -> None:
    from search.cli_hwgen import DEFAULT_GENERATOR
    from search.dance import SEARCH_PROFILES
    from search.table import TABLE_LAMS, TABLE_METHODS

    @main.command("search-table")
    @click.option("--objective", default="edap", show_default=True, help="As for `coexplore search`.")
    @click.option(
        "--lams",
        default=",".join(f"{v:g}" for v in TABLE_LAMS),
        show_default=True,
        callback=lambda ctx, param, value: parse_lams(value),
        help="Comma-separated lam values.",
    )
    @click.option("--seeds", type=click.IntRange(1, 10), default=2, show_default=True)
    @click.option(
        "--methods",
        default=",".join(TABLE_METHODS),
        show_default=True,
        help="Comma-separated subset of dance, two-stage, hw-first, optuna.",
    )
    @click.option(
        "--profile",
        type=click.Choice(sorted(SEARCH_PROFILES)),
        default="short",
        show_default=True,
        help="Search length; children are retrained with the training profile of the same name.",
    )
    @EVALUATOR_OPTION
    @click.option(
        "--generator",
        "generator_path",
        default=str(DEFAULT_GENERATOR),
        show_default=True,
        help="DANCE's hardware generator (its objective must match --objective).",
    )
    @click.option(
        "--workers",
        type=click.IntRange(min=1),
        default=2,
        show_default=True,
        help="Processes simulating with ZigZag.",
    )
    @click.option(
        "--top-k",
        type=click.IntRange(min=1),
        default=10,
        show_default=True,
        help="two-stage, hw-first: evaluator's best accelerators verified by ZigZag.",
    )
    @DATA_DIR_OPTION
    @click.option(
        "--runs-dir",
        type=click.Path(file_okay=False),
        default="runs/search_table",
        show_default=True,
        help="One run folder per (method, lam, seed) goes here.",
    )
    @click.option(
        "--out",
        type=click.Path(dir_okay=False),
        default="results/tables/search_quick.csv",
        show_default=True,
        help="Summary CSV; each run goes to <out>_runs.csv, which a rerun resumes.",
    )
    @click.option("--quiet", is_flag=True, help="No progress bars.")
    @click.option(
        "--summary-only", is_flag=True, help="Run nothing: rewrite and print the summary of the runs so far."
    )
    @click.option("--markdown", is_flag=True, help="Print the summary as a Markdown table.")
    def search_table(objective, lams, seeds, methods, profile, evaluator_path, generator_path, workers, top_k,
                     data_dir, runs_dir, out, quiet, summary_only, markdown):  # fmt: skip
        """Table of DANCE against two-stage, hw-first and optuna over lam values and seeds: test accuracy
        of the retrained child and its simulated latency/energy/area/EDAP, plus search wall-clock.
        Resumable: rerun the same command to continue."""
        from nas.train import profile_config
        from search.cli_search import dance_hardware, prepare
        from search.table import TableSetup, check_methods, run_table
        from search.table import markdown as markdown_table

        method_list = tuple(m.strip() for m in methods.split(","))
        with bad_input_is_exit_2("--methods"):
            check_methods(method_list)
        if summary_only:
            with bad_input_is_exit_2():
                summary = run_table(None, Path(out), lams, seeds, method_list)
            click.echo(markdown_table(summary) if markdown else f"{len(summary)} rows -> {out}")
            return
        setup = prepare(objective, lams[0], profile, evaluator_path, None, 0, data_dir, runs_dir, True)
        table_setup = TableSetup(
            setup.space, setup.splits, setup.cfg, profile_config(profile), setup.evaluator, setup.template,
            setup.weights, dance_hardware(generator_path, setup), Path(runs_dir), workers, top_k, not quiet,
        )  # fmt: skip

        def show(row):
            click.echo(f"{row['method']:<10} lam {float(row['lam']):g} seed {row['seed']}: "
                       f"{float(row['test_acc']) * 100:.2f}%, EDAP {float(row['edap']):.3e}, "
                       f"search {float(row['search_time_s']):.0f} s")  # fmt: skip

        with bad_input_is_exit_2():
            summary = run_table(table_setup, Path(out), lams, seeds, method_list, on_row=show)
        for row in summary:
            click.echo(f"{row['method']:<10} lam {row['lam']:g} (n={row['seeds']}): "
                       f"{row['test_acc_mean']:.2f}% EDAP {row['edap_mean']:.3e} "
                       f"search {row['search_time_s']:.0f} s")  # fmt: skip
        if markdown:
            click.echo(markdown_table(summary))
        click.echo(f"-> {out}")
