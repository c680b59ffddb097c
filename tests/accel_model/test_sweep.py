import pytest

from accel_model.cache import SimulationCache
from accel_model.domain import Accelerator, LayerShape
from accel_model.sweep import sweep

PAIRS = [
    (LayerShape(8, 16, 3, 1, 1, (8, 8)), Accelerator(8, 8, 64, 32, "WS", 8)),
    (LayerShape(16, 16, 3, 1, 16, (8, 8)), Accelerator(8, 12, 32, 64, "OS", 4)),
    (LayerShape(16, 8, 1, 1, 1, (8, 8)), Accelerator(12, 8, 128, 32, "RS", 16)),
]
FAST = {"lpf_limit": 2}


def test_sweep_caches_and_resumes(tmp_path):
    db = tmp_path / "c.sqlite"
    first = sweep(PAIRS + PAIRS[:1], "zigzag", FAST, db, workers=2, progress=False)
    assert first.simulated == 3 and first.from_cache == 0 and first.failed == 0
    assert first.records[0] == first.records[3]
    second = sweep(PAIRS, "zigzag", FAST, db, workers=2, progress=False)
    assert second.simulated == 0 and second.from_cache == 3
    assert [r.cost for r in second.records] == [r.cost for r in first.records[:3]]
    other = sweep(PAIRS[:1], "zigzag", {"lpf_limit": 3}, db, workers=1, progress=False)
    assert other.simulated == 1  # other settings, other key
    with SimulationCache(db) as cache:
        assert cache.count("ok") == 4


def test_failures_are_recorded_not_dropped_and_retried(tmp_path):
    db = tmp_path / "c.sqlite"
    report = sweep(PAIRS[:2], "zigzag", FAST, db, workers=1, timeout_s=1e-4, progress=False)
    assert report.failed == 2 and all("SimulationTimeout" in r.error for r in report.records)
    again = sweep(PAIRS[:2], "zigzag", FAST, db, workers=1, progress=False)
    assert again.from_cache == 2 and again.failed == 2  # failures are remembered ...
    retried = sweep(PAIRS[:2], "zigzag", FAST, db, workers=1, retry_failed=True, progress=False)
    assert retried.simulated == 2 and retried.failed == 0  # ... and retried on request


def test_dask_local_cluster_equals_process_pool(tmp_path):
    distributed = pytest.importorskip("distributed")
    local = sweep(PAIRS, "zigzag", FAST, tmp_path / "a.sqlite", workers=2, progress=False)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cl:
        with distributed.Client(cl) as client:
            remote = sweep(PAIRS, "zigzag", FAST, tmp_path / "b.sqlite", client=client, progress=False)
        by_address = sweep(PAIRS, "zigzag", FAST, tmp_path / "c.sqlite", scheduler=cl.scheduler_address,
                           progress=False)  # fmt: skip
    assert remote.simulated == 3 and remote.failed == 0 and by_address.simulated == 3
    assert [r.cost for r in remote.records] == [r.cost for r in local.records]
    assert [r.cost for r in by_address.records] == [r.cost for r in local.records]


def test_corrupt_cache_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    message = r"bad.sqlite: not a readable coexplore simulation cache.*move it aside"
    with pytest.raises(ValueError, match=message):
        SimulationCache(bad)


WRITER = """
import sys
from accel_model.domain import Accelerator, LayerShape
from accel_model.sweep import sweep
first, cache = int(sys.argv[1]), sys.argv[2]
pairs = [(LayerShape(8, 8 * (i + 1), 3, 1, 1, (8, 8)), Accelerator(8, 8, 64, 32, "WS", 8)) for i in range(8)]
report = sweep(pairs[first:first + 5], "zigzag", {"lpf_limit": 2}, cache, workers=1, progress=False)
assert report.failed == 0, report
"""


def test_two_processes_write_one_cache_without_losing_or_breaking_anything(tmp_path):
    """Two sweeps in separate processes write the same cache file at once (3 of their 5 pairs are the
    same): both succeed, the file holds each of the 7 pairs once, and SQLite's integrity check passes."""
    import subprocess
    import sys

    db = tmp_path / "shared.sqlite"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(first), str(db)], stderr=subprocess.PIPE, text=True
        )
        for first in (0, 2)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    with SimulationCache(db) as cache:
        report = cache.check()
    assert report["ok"] == 7 and report["failed"] == 0 and report["integrity"] == "ok"
