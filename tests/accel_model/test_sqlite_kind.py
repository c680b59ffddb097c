"""The cache and a sweep's runs.db know what they are: neither opens the other's file, a foreign database
or a corrupt file, and a refusal changes nothing on disk."""

import sqlite3

import pytest

from accel_model.cache import SimulationCache
from search.sweep import RunsDB


def _bytes(path):
    return path.read_bytes()


def test_each_kind_refuses_the_others_file_and_leaves_it_untouched(tmp_path):
    cache, runs = tmp_path / "sim_cache.sqlite", tmp_path / "runs.db"
    SimulationCache(cache).close()
    RunsDB(runs).close()
    before = _bytes(cache), _bytes(runs)
    with pytest.raises(ValueError, match="is a coexplore simulation cache, not a coexplore runs database"):
        RunsDB(cache)
    with pytest.raises(ValueError, match="is a coexplore runs database, not a coexplore simulation cache"):
        SimulationCache(runs)
    assert (_bytes(cache), _bytes(runs)) == before
    SimulationCache(cache).close()  # and each still opens as itself
    RunsDB(runs).close()


def test_a_foreign_database_and_garbage_are_refused_in_one_sentence(tmp_path):
    foreign = tmp_path / "other.sqlite"
    db = sqlite3.connect(foreign)
    db.execute("CREATE TABLE photos (id INTEGER)")
    db.commit()
    db.close()
    refusal = r"not a coexplore simulation cache \(it holds the tables photos\); move it aside"
    with pytest.raises(ValueError, match=refusal):
        SimulationCache(foreign)
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not sqlite at all " * 100)
    corrupt = "not a readable coexplore simulation cache, or a corrupt one"
    with pytest.raises(ValueError, match=corrupt) as err:
        SimulationCache(garbage)
    assert str(garbage) in str(err.value) and "\n" not in str(err.value)
    assert garbage.read_bytes() == b"not sqlite at all " * 100


def test_a_cache_written_before_markers_is_adopted(tmp_path):
    from accel_model.cache import SCHEMA

    legacy = tmp_path / "sim_cache.sqlite"
    db = sqlite3.connect(legacy)
    db.executescript(SCHEMA)
    db.close()
    SimulationCache(legacy).close()
    assert sqlite3.connect(legacy).execute("PRAGMA application_id").fetchone()[0] != 0
    with pytest.raises(ValueError, match="not a coexplore runs database"):
        RunsDB(legacy)


def test_processes_creating_one_cache_at_once_all_open_it(tmp_path):
    """SQLite answers "locked" at once (no waiting) when connections race to set up a new file; that is
    retried, not reported as a corrupt file (before: 4 of 36 such opens failed)."""
    import subprocess
    import sys
    import time

    for round_ in range(4):
        path = tmp_path / f"new{round_}.sqlite"
        start = time.time() + 1.5  # every process imports first, then all open the file at this moment
        code = (
            "import time; from accel_model.cache import SimulationCache; "
            f"time.sleep(max(0.0, {start} - time.time())); SimulationCache({str(path)!r})"
        )
        procs = [
            subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
            for _ in range(8)
        ]
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
