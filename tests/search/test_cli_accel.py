import gzip
import json

import pytest

HW = {
    "pe_rows": 8,
    "pe_cols": 8,
    "rf_bytes": 64,
    "glb_kib": 32,
    "dataflow": "RS",
    "bits": 8,
    "clock_mhz": 200,
}
LAYERS = [
    {
        "in_channels": 8,
        "out_channels": 16,
        "kernel": 3,
        "stride": 1,
        "groups": 1,
        "in_hw": [8, 8],
        "batch": 1,
    },
    {
        "in_channels": 16,
        "out_channels": 10,
        "kernel": 1,
        "stride": 1,
        "groups": 1,
        "in_hw": [1, 1],
        "batch": 1,
    },
]


def test_simulate_json(write_json, cli):
    layers, hw = write_json("l.json", LAYERS), write_json("h.json", HW)
    result = cli("simulate", "--layers", layers, "--hw", hw, "--lpf-limit", 2, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert len(out["layers"]) == 2
    total = out["total"]
    assert total["latency_cycles"] == pytest.approx(sum(x["latency_cycles"] for x in out["layers"]))
    assert total["fps"] == pytest.approx(200e6 / total["latency_cycles"])
    assert total["area_mm2"] > 0


def test_simulate_table_for_a_search_space_net(write_json, cli):
    result = cli("simulate", "--net", "default", "--hw", write_json("h.json", HW), "--lpf-limit", 2)
    assert result.exit_code == 0, result.output
    assert "total:" in result.output and "fps" in result.output


@pytest.mark.parametrize("hw,layers,message", [
    ("{bad", LAYERS, "error: --hw: "),
    (HW | {"pe_rows": 10}, LAYERS, "error: --hw: {hw}: pe_rows=10 is outside the design space"),
    (HW | {"colour": 1}, LAYERS, "error: --hw: {hw}: Accelerator: unknown field(s) ['colour']"),
    (HW, [{"in_channels": 8}], "error: --layers: {layers}: LayerShape: missing field(s) ['out_"),
    (HW, {"not": "a list"}, "error: --layers: {layers} must hold a non-empty JSON list"),
])  # fmt: skip
def test_simulate_bad_input_exit_2(hw, layers, message, write_json, cli):
    hw_path, layers_path = write_json("h.json", hw), write_json("l.json", layers)
    result = cli("simulate", "--layers", layers_path, "--hw", hw_path)
    assert result.exit_code == 2, result.output
    assert result.output.startswith(message.format(hw=hw_path, layers=layers_path))
    assert len(result.output.strip().splitlines()) == 1


def test_simulate_needs_exactly_one_source(write_json, cli):
    result = cli("simulate", "--hw", write_json("h.json", HW))
    assert result.exit_code == 2 and "exactly one of --layers" in result.output


def test_dataset_build_small_and_resume(tmp_path, cli):
    out = tmp_path / "d.csv.gz"
    args = ("dataset", "build", "--samples", 3, "--workers", 1, "--lpf-limit", 2, "--out", out,
            "--cache", tmp_path / "c.sqlite")  # fmt: skip
    first = cli(*args)
    assert first.exit_code == 0, first.output
    with gzip.open(out, "rt") as fh:
        lines = fh.read().splitlines()
    assert len(lines) == 4 and lines[0].startswith("source,in_channels")
    prov = json.loads((tmp_path / "d.provenance.json").read_text())
    assert prov["rows"] == 3 and prov["complete"] and prov["backend"] == "zigzag"
    assert prov["settings"]["lpf_limit"] == 2
    assert "coexplore dataset build --samples 3" in prov["rebuild"]
    second = cli(*args)
    assert second.exit_code == 0 and "0 simulated in this run" in second.output
