"""Constraint sweeps: many constrained searches (HDX and the soft-penalty baseline) as one resumable job.

Each run is ``coexplore search`` with its constraint, seed and mode, in its own process, writing its own
run folder under the sweep folder. ``runs.db`` (SQLite, beside the run folders) records every run:
its config, status (pending, queued, done, infeasible, failed, killed), metrics and run folder. A run is
marked done only after its folder is complete, so a killed sweep keeps every finished run; runs it had
queued are marked killed when it is interrupted (Ctrl-C, SIGTERM; a SIGKILL leaves them queued), and the
same command resumes: pending, killed and queued runs start again, finished ones are kept.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any

from accel_model.constraints import CONSTRAINTS
from accel_model.sqlite_kind import open_kind

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    mode TEXT NOT NULL,
    constraints TEXT NOT NULL,
    seed INTEGER NOT NULL,
    penalty REAL,
    args TEXT NOT NULL,
    status TEXT NOT NULL,
    run_dir TEXT NOT NULL,
    metrics TEXT,
    error TEXT,
    started REAL,
    finished REAL
);
"""
FINISHED = ("done", "infeasible")
RUNS_KIND = 0x436F5244  # the runs database's SQLite application_id (accel_model.sqlite_kind)


@dataclass(frozen=True)
class PlannedRun:
    id: str
    mode: str  # hdx or penalty
    constraints: dict[str, float]
    seed: int
    penalty: float | None
    args: tuple[str, ...]  # of `coexplore search`, without --out


def plan(
    targets: dict[str, Sequence[float]],
    seeds: int,
    modes: Sequence[str],
    penalties: Sequence[float],
    common: Sequence[str] = (),
) -> list[PlannedRun]:
    """Every combination of the targets (one value per constraint option) x seed x mode (penalty: x each
    weight). ``common`` are further ``coexplore search`` arguments (profile, objective, ...)."""
    names = [n for n in targets if targets[n]]
    unknown = [n for n in names if n not in CONSTRAINTS]
    if unknown or not names:
        raise ValueError(f"need at least one constraint among {sorted(CONSTRAINTS)}; got {names or 'none'}")
    runs = []
    for values in product(*(targets[n] for n in names)):
        cons = dict(zip(names, values, strict=True))
        cons_args = [a for n, v in cons.items() for a in (f"--{n.replace('_', '-')}", f"{v:g}")]
        tag = "_".join(f"{n}{v:g}" for n, v in cons.items())
        for seed in range(seeds):
            for mode in modes:
                for weight in penalties if mode == "penalty" else [None]:
                    run_id = f"{mode}_{tag}_seed{seed}" + (f"_pen{weight:g}" if weight is not None else "")
                    args = [*common, *cons_args, "--seed", str(seed), "--constraint-mode", mode]
                    if weight is not None:
                        args += ["--penalty", f"{weight:g}"]
                    runs.append(PlannedRun(run_id, mode, cons, seed, weight, tuple(args)))
    return runs


class RunsDB:
    """``runs.db`` of one sweep folder."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.db = open_kind(self.path, RUNS_KIND, SCHEMA, {"runs"})
        self.db.row_factory = sqlite3.Row

    def close(self) -> None:
        self.db.close()

    def add(self, runs: Sequence[PlannedRun], root: Path) -> None:
        with self.db:
            self.db.executemany(
                "INSERT OR IGNORE INTO runs (id, mode, constraints, seed, penalty, args, status, run_dir) "
                "VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)",
                [
                    (
                        r.id,
                        r.mode,
                        json.dumps(r.constraints),
                        r.seed,
                        r.penalty,
                        json.dumps(r.args),
                        str(root / r.id),
                    )
                    for r in runs
                ],
            )

    def set_status(self, run_id: str, status: str, **fields: Any) -> None:
        cols = ", ".join(f"{k} = ?" for k in ("status", *fields))
        with self.db:
            self.db.execute(f"UPDATE runs SET {cols} WHERE id = ?", (status, *fields.values(), run_id))

    def rows(self, ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
        out = []
        for row in self.db.execute("SELECT * FROM runs ORDER BY id"):
            if ids is None or row["id"] in ids:
                item = dict(row)
                item["constraints"] = json.loads(item["constraints"])
                item["metrics"] = json.loads(item["metrics"]) if item["metrics"] else None
                out.append(item)
        return out


def run_one(args: Sequence[str], run_dir: str, threads: int | None = None) -> dict[str, Any]:
    """One constrained search in a fresh process; its exit code, the run's metrics and any error tail.
    ``threads`` caps the process's torch threads (local pools: the cores shared out between the jobs).
    Module level, so a process pool or Dask can run it."""
    cmd = [sys.executable, "-m", "search.cli", "search", *args, "--out", run_dir, "--overwrite", "--quiet"]
    env = None
    if threads:
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, preexec_fn=_die_with_parent)
    metrics_path = Path(run_dir) / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else None
    return {"returncode": proc.returncode, "metrics": metrics, "error": proc.stderr[-2000:]}


def _die_with_parent() -> None:
    """In the search's process before it runs (Linux): SIGTERM it when the worker that started it dies,
    so that a killed sweep leaves no search running."""
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def outcome_status(result: dict[str, Any]) -> str:
    metrics = result["metrics"]
    if metrics is None or result["returncode"] not in (0, 1):
        return "failed"
    return "infeasible" if metrics.get("constraint_status") == "infeasible" else "done"


def run_sweep(
    db: RunsDB,
    runs: Sequence[PlannedRun],
    root: Path,
    jobs: int = 1,
    scheduler: str | None = None,
    on_done: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Every planned run not finished yet, ``jobs`` at a time (or on Dask); returns the runs' rows."""
    from accel_model.sweep import open_pool

    db.add(runs, root)
    ids = [r.id for r in runs]
    todo = [row for row in db.rows(ids) if row["status"] not in FINISHED]
    if todo:
        pool, client = open_pool(jobs, scheduler)
        threads = None if scheduler else max(1, (os.cpu_count() or 1) // jobs)
        interrupted = False
        try:
            futures = {}
            for row in todo:
                db.set_status(row["id"], "queued", started=time.time())
                futures[pool.submit(run_one, json.loads(row["args"]), row["run_dir"], threads)] = row["id"]
            try:
                _collect(db, pool, futures, on_done)
            except BaseException:  # interrupted: what it had queued and not finished is killed
                interrupted = True
                for row in db.rows(list(futures.values())):
                    if row["status"] == "queued":
                        db.set_status(row["id"], "killed", finished=time.time())
                raise
        finally:
            pool.close(kill=interrupted)
            if client is not None:
                client.close()
    return db.rows(ids)


def _collect(db: RunsDB, pool, futures: dict, on_done: Callable[[dict], None] | None) -> None:
    """Record each run's outcome as it finishes."""
    for future in pool.as_completed(list(futures)):
        run_id, result = futures[future], future.result()
        db.set_status(
            run_id,
            outcome_status(result),
            metrics=json.dumps(result["metrics"]),
            error=result["error"] if result["returncode"] not in (0, 1) else None,
            finished=time.time(),
        )
        if on_done:
            on_done(db.rows([run_id])[0])
