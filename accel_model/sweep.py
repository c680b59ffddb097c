"""Simulate many (layer, accelerator) pairs: cache first, then a local process pool or a Dask cluster.

Results are written to the SQLite cache by this (the submitting) process as they arrive, so a sweep
that is interrupted resumes where it stopped. A simulation that raises, times out, or whose worker
process dies is recorded as 'failed' with its error and the sweep goes on.
"""

from __future__ import annotations

import json
import multiprocessing
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import as_completed as futures_as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from tqdm import tqdm

from accel_model.cache import Record, SimulationCache, cache_key
from accel_model.domain import Accelerator, Cost, LayerShape
from accel_model.paths import default_cache_path
from accel_model.simulators import DEFAULT_BACKEND, make_simulator

Pair = tuple[LayerShape, Accelerator]


@dataclass
class SweepReport:
    records: list[Record]
    simulated: int = 0
    from_cache: int = 0
    failed: int = 0
    seconds: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)


class SimulationTimeout(Exception):
    pass


@contextmanager
def time_limit(seconds: float | None):
    """SIGALRM-based limit; only possible in a process's main thread (process-pool workers are)."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    expired = []

    def expire(signum, frame):
        expired.append(True)
        raise SimulationTimeout(f"simulation exceeded {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    if expired:  # the simulator caught the exception itself (ZigZag has broad excepts) and went on
        raise SimulationTimeout(f"simulation exceeded {seconds:g} s")


@lru_cache(maxsize=8)
def _simulator(backend: str, settings_json: str):

    return make_simulator(backend, **json.loads(settings_json))


def simulate_task(
    backend: str, settings_json: str, layer: dict, accel: dict, timeout_s: float | None
) -> dict:
    """Worker entry point (plain data in and out, so it pickles for any executor)."""
    start = time.perf_counter()
    try:
        with time_limit(timeout_s):
            cost = _simulator(backend, settings_json).simulate(
                LayerShape.from_dict(layer), Accelerator.from_dict(accel)
            )
        return {"status": "ok", "cost": [cost.latency_cycles, cost.energy_pj, cost.area_mm2],
                "seconds": time.perf_counter() - start}  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - any simulator failure is recorded, never raised
        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}"[:500],
                "seconds": time.perf_counter() - start}  # fmt: skip


def _to_record(layer: LayerShape, accel: Accelerator, result: dict) -> Record:
    if result["status"] == "ok":
        cost = Cost(*result["cost"], clock_mhz=accel.clock_mhz)
        return Record(layer, accel, "ok", cost, None, result["seconds"])
    return Record(layer, accel, "failed", None, result["error"], result["seconds"])


class LocalPool:
    """Worker processes (spawned); ``submit(fn, *args)`` with a picklable module-level ``fn``."""

    def __init__(self, workers: int):
        # spawn, not fork: the parent may hold torch/OpenMP threads, which a forked child can inherit
        # in a locked state.
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))

    def submit(self, fn, *args):
        return self.pool.submit(fn, *args)

    def as_completed(self, futures):
        return futures_as_completed(futures)

    def close(self, kill: bool = False):
        """Wait for the running work (``kill``: cancel everything and terminate the workers now)."""
        if not kill:
            self.pool.shutdown(cancel_futures=True)
            return
        processes = list(getattr(self.pool, "_processes", {}).values())
        self.pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()


class DaskPool:
    """The same interface on a Dask client."""

    def __init__(self, client):
        from distributed import as_completed

        self.client, self._as_completed = client, as_completed

    def submit(self, fn, *args):
        return self.client.submit(fn, *args, pure=False)

    def as_completed(self, futures):
        return self._as_completed(futures)

    def close(self, kill: bool = False):
        pass


def open_pool(workers: int, scheduler: str | None = None, client=None):
    """(pool, the Dask client opened here or None): a Dask pool when given a client or a scheduler
    address, else ``workers`` local processes."""
    if client is not None:
        return DaskPool(client), None
    if scheduler:
        from distributed import Client

        own = Client(scheduler)
        return DaskPool(own), own
    return LocalPool(workers), None


def sweep(
    pairs: Sequence[Pair],
    backend: str = DEFAULT_BACKEND,
    settings: dict[str, Any] | None = None,
    cache: SimulationCache | str | Path | None = None,
    workers: int = 2,
    scheduler: str | None = None,
    client=None,
    timeout_s: float | None = 600,
    retry_failed: bool = False,
    progress: bool = True,
    on_result: Callable[[int, Record], None] | None = None,
) -> SweepReport:
    """Simulate ``pairs``; returns records in input order. ``scheduler`` (tcp://host:port) or a Dask
    ``client`` runs on Dask; otherwise a local process pool of ``workers``."""

    start = time.perf_counter()
    sim = make_simulator(backend, **(settings or {}))
    settings_full, settings_json = sim.settings(), json.dumps(settings or {}, sort_keys=True)
    own_cache = not isinstance(cache, SimulationCache)
    db = SimulationCache(cache or default_cache_path()) if own_cache else cache
    report = SweepReport(records=[None] * len(pairs))  # type: ignore[list-item]
    keys = [cache_key(layer, accel, backend, sim.version, settings_full) for layer, accel in pairs]
    todo: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        hit = db.get(key)
        if hit is not None and (hit.status == "ok" or not retry_failed):
            report.records[i] = hit
            report.from_cache += 1
            if on_result:
                on_result(i, hit)
        else:
            todo.setdefault(key, []).append(i)
    bar = tqdm(total=len(todo), desc=f"simulate ({backend})", disable=not progress or not todo, unit="sim")
    pool, own_client = open_pool(workers, scheduler, client) if todo else (None, None)
    try:
        futures = {}
        for key, idx in todo.items():
            layer, accel = pairs[idx[0]]
            futures[
                pool.submit(
                    simulate_task, backend, settings_json, layer.to_dict(), accel.to_dict(), timeout_s
                )
            ] = key
        for future in pool.as_completed(list(futures)) if todo else ():
            key = futures[future]
            layer, accel = pairs[todo[key][0]]
            transient = True  # a lost worker says nothing about the pair: report it, do not cache it
            try:
                result = future.result()
                transient = False
            except BrokenProcessPool:
                result = {
                    "status": "failed",
                    "error": "worker process died (BrokenProcessPool)",
                    "seconds": 0.0,
                }
            except Exception as exc:  # noqa: BLE001 - e.g. a Dask worker lost mid-task
                result = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"[:500], "seconds": 0.0}
            record = _to_record(layer, accel, result)
            if not transient:
                db.put(key, backend, sim.version, settings_full, record)
            for i in todo[key]:
                report.records[i] = record
                if on_result:
                    on_result(i, record)
            report.simulated += 1
            bar.update()
    finally:
        bar.close()
        if pool is not None:
            pool.close()
        if own_client is not None:
            own_client.close()
        if own_cache:
            db.close()
    for record in report.records:
        if record.status == "failed":
            report.failed += 1
            kind = (record.error or "").split(":")[0]
            report.errors[kind] = report.errors.get(kind, 0) + 1
    report.seconds = time.perf_counter() - start
    return report
