"""``coexplore cache check|forget|vacuum`` on a cache the real simulator wrote."""

import json

import pytest

from accel_model.cache import Record, SimulationCache, cache_key
from accel_model.domain import Accelerator, LayerShape

HW = {"pe_rows": 8, "pe_cols": 8, "rf_bytes": 64, "glb_kib": 32, "dataflow": "RS", "bits": 8,
      "clock_mhz": 200}  # fmt: skip
LAYER = {"in_channels": 8, "out_channels": 16, "kernel": 3, "stride": 1, "groups": 1, "in_hw": [8, 8],
         "batch": 1}  # fmt: skip


@pytest.fixture
def cache_file(cli, tmp_path, write_json):
    """A cache holding one real ZigZag simulation and one failed row as a sweep records it."""
    path = tmp_path / "sim.sqlite"
    done = cli("simulate", "--layers", write_json("l.json", [LAYER]), "--hw", write_json("h.json", HW),
               "--lpf-limit", 2, "--cache", path, "--json")  # fmt: skip
    assert done.exit_code == 0, done.output
    layer, accel = LayerShape.from_dict({**LAYER, "out_channels": 32}), Accelerator.from_dict(HW)
    with SimulationCache(path) as db:
        failed = Record(layer, accel, "failed", error="ZigZag found no valid mapping\nmore text")
        db.put(cache_key(layer, accel, "zigzag", "test", {}), "zigzag", "test", {}, failed)
    return path


def test_check_counts_rows_and_failures(cli, cache_file):
    result = cli("cache", "check", "--cache", cache_file, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["ok"], report["failed"], report["integrity"]) == (1, 1, "ok")
    assert report["common_failures"] == [{"error": "ZigZag found no valid mapping", "rows": 1}]


def test_forget_needs_failed_and_then_drops_only_failed_rows(cli, cache_file):
    before = cache_file.read_bytes()
    refused = cli("cache", "forget", "--cache", cache_file)
    assert refused.exit_code == 2 and refused.output.count("\n") == 1 and "--failed" in refused.output
    assert cache_file.read_bytes() == before
    result = cli("cache", "forget", "--failed", "--cache", cache_file)
    assert result.exit_code == 0 and "forgot 1 failed" in result.output
    with SimulationCache(cache_file) as db:
        assert (db.count("ok"), db.count("failed")) == (1, 0)
    assert cli("cache", "vacuum", "--cache", cache_file).exit_code == 0
    with SimulationCache(cache_file) as db:
        assert db.count("ok") == 1


def test_a_missing_or_foreign_file_is_refused_in_one_line_and_not_created(cli, tmp_path):
    missing = tmp_path / "none.sqlite"
    result = cli("cache", "check", "--cache", missing)
    assert result.exit_code == 2 and result.output.count("\n") == 1 and "no simulation cache" in result.output
    assert not missing.exists()
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not a database at all" * 100)
    result = cli("cache", "check", "--cache", garbage)
    assert result.exit_code == 2 and result.output.count("\n") == 1 and str(garbage) in result.output
    assert garbage.read_bytes() == b"not a database at all" * 100
