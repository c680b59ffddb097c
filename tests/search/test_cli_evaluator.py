import json

import pytest

from accel_model.dataset import read_table, write_table
from accel_model.evaluator import DEFAULT_EVALUATOR, load_evaluator
from accel_model.training_tables import DEFAULT_DATASET

HW = {
    "pe_rows": 16,
    "pe_cols": 12,
    "rf_bytes": 64,
    "glb_kib": 108,
    "dataflow": "WS",
    "bits": 8,
    "clock_mhz": 200,
}
LAYERS = [{"in_channels": 8, "out_channels": 16, "kernel": 3, "stride": 1, "groups": 1, "in_hw": [8, 8]}]


@pytest.mark.skipif(not DEFAULT_EVALUATOR.exists(), reason="no committed evaluator")
def test_predict_json_matches_simulate_format(write_json, cli):
    result = cli("predict", "--net", "default", "--hw", write_json("h.json", HW), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["predicted"] is True
    assert set(out["total"]) == {"latency_cycles", "energy_pj", "area_mm2", "fps", "clock_mhz"}
    assert out["total"]["latency_cycles"] == pytest.approx(sum(x["latency_cycles"] for x in out["layers"]))
    table = cli("predict", "--layers", write_json("l.json", LAYERS), "--hw", write_json("h.json", HW))
    assert table.exit_code == 0 and "predicted by the evaluator" in table.output


def test_predict_bad_input_exit_2(write_json, cli):
    hw = write_json("h.json", HW)
    junk = write_json("junk.pt", "garbage")
    result = cli("predict", "--net", "default", "--hw", hw, "--evaluator", junk)
    assert result.exit_code == 2 and "not a readable evaluator file" in result.output
    result = cli("predict", "--net", "default", "--hw", write_json("bad.json", HW | {"bits": 5}))
    assert result.exit_code == 2 and "bits" in result.output
    result = cli("predict", "--hw", hw)
    assert result.exit_code == 2 and "exactly one of --layers" in result.output


def test_evaluator_train_on_a_small_table(tmp_path, write_json, cli):
    table = tmp_path / "small.csv.gz"
    write_table(table, read_table(DEFAULT_DATASET)[:300])
    out = tmp_path / "ev.pt"
    result = cli("evaluator", "train", "--dataset", table, "--out", out, "--epochs", 2, "--depth", 2,
                 "--members", 2, "--no-splits")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out.exists() and json.loads(out.with_suffix(".json").read_text())["rows"] > 250
    model = load_evaluator(out)
    assert (model.depth, model.n_members, len(model.members)) == (2, 2, 2)
    hw = write_json("h.json", HW)
    assert cli("predict", "--net", "default", "--hw", hw, "--evaluator", out).exit_code == 0


def test_evaluator_train_bad_dataset_exit_2(tmp_path, write_json, cli):
    result = cli("evaluator", "train", "--dataset", tmp_path / "missing.csv.gz", "--out", tmp_path / "e.pt")
    assert result.exit_code == 2 and "no such file" in result.output
    bad = write_json("bad.csv", "a,b\n1,2\n")
    result = cli("evaluator", "train", "--dataset", bad, "--out", tmp_path / "e.pt")
    assert result.exit_code == 2 and "missing columns" in result.output
    assert not (tmp_path / "e.pt").exists()


def test_hwgen_bad_input_exit_2(tmp_path, write_json, cli):
    junk = write_json("junk.pt", "garbage")
    result = cli("hwgen", "check", "--generator", junk, "--evaluator", junk)
    assert result.exit_code == 2 and "not a readable evaluator file" in result.output
    result = cli("hwgen", "train", "--objective", "speed=1", "--out", tmp_path / "g.pt")
    assert result.exit_code == 2 and "unknown metric 'speed'" in result.output
    assert not (tmp_path / "g.pt").exists()


def test_evaluator_report_bad_baseline_exit_2_before_simulating(tmp_path, write_json, cli):
    junk = write_json("junk.pt", "garbage")
    result = cli("evaluator", "report", "--baseline", junk, "--out", tmp_path / "r")
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "--baseline" in result.output and "not a readable evaluator file" in result.output
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
@pytest.mark.skipif(not DEFAULT_EVALUATOR.exists(), reason="no committed evaluator")
def test_evaluator_report_scores_a_baseline_on_the_same_draw(tmp_path, cli):
    result = cli("evaluator", "report", "--accels", 1, "--archs", 1, "--baseline", DEFAULT_EVALUATOR,
                 "--out", tmp_path / "r")  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["baseline"]["resnet18"] == summary["resnet18"]  # the same file scores the same
    assert "baseline resnet18" in result.output and (tmp_path / "r" / "parity.png").exists()
