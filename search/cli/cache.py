"""``coexplore cache check|forget|vacuum``: inspect and repair the simulation cache."""

from __future__ import annotations

import json
from pathlib import Path

import click

from search.cli.common import InputError


def register(main: click.Group) -> None:
    main.add_command(cache)


def existing_cache(ctx, param, value: str | None):
    """The cache file to inspect: it must exist (these commands never create one) and be a simulation
    cache (a runs.db, a foreign or corrupt file is refused in one line)."""
    from accel_model.cache import SimulationCache
    from accel_model.paths import default_cache_path

    path = Path(value) if value else default_cache_path()
    if not path.is_file():
        raise click.BadParameter(f"no simulation cache at {path} (nothing simulated there yet)")
    try:
        return SimulationCache(path)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


CACHE_FILE = click.option(
    "--cache", "db", type=click.Path(dir_okay=False), default=None, callback=existing_cache,
    help="SQLite simulation cache file (default: $COEXPLORE_HOME/sim_cache.sqlite).")  # fmt: skip


@click.group()
def cache():
    """The simulation cache: what it holds (check), drop failed rows (forget), shrink it (vacuum)."""


@cache.command()
@CACHE_FILE
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def check(db, as_json):
    """Rows per backend and status, the commonest failures, SQLite's integrity check. Exit 1 when the
    integrity check finds damage."""
    with db:
        report = db.check()
    if as_json:
        click.echo(json.dumps(report, indent=1))
    else:
        click.echo(f"{report['path']}: {report['bytes'] / 1e6:.1f} MB, {report['ok']} ok, "
                   f"{report['failed']} failed, integrity {report['integrity']}")  # fmt: skip
        for key, n in report["rows"].items():
            click.echo(f"  {key:<24} {n}")
        for failure in report["common_failures"]:
            click.echo(f"  failed x{failure['rows']}: {failure['error']}")
    if report["integrity"] != "ok":
        raise SystemExit(1)


@cache.command()
@CACHE_FILE
@click.option("--failed", is_flag=True, help="Forget the failed simulations (the only rows it forgets).")
@click.option("--backend", default=None, help="Only this backend's rows (e.g. zigzag).")
def forget(db, failed, backend):
    """Delete rows so that the next run simulates those pairs again. Successful simulations are never
    forgotten (they are what the cache is for)."""
    with db:
        if not failed:
            raise InputError("say what to forget: --failed (successful rows are never forgotten)")
        n = db.forget_failed(backend)
    click.echo(f"forgot {n} failed simulations in {db.path}; `coexplore cache vacuum` shrinks the file")


@cache.command()
@CACHE_FILE
def vacuum(db):
    """Rebuild the file without its free pages."""
    with db:
        before, after = db.vacuum()
    click.echo(f"{db.path}: {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB")
