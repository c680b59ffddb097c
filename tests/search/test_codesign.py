"""``coexplore codesign``: bad input refused before any work; the whole run (slow) produces the files and
resumes by stage."""

import json

import pytest

SMOKE = ("--profile", "smoke", "--dfq-profile", "smoke", "--quiet")


def test_bad_input_is_refused_before_any_work(tmp_path, cli):
    out = tmp_path / "cd"
    unreachable = cli("codesign", "--min-fps", "10000000", *SMOKE, "--out", out)
    assert unreachable.exit_code == 2 and "fps" in unreachable.output and not out.exists()
    bad_method = cli("codesign", "--min-fps", "8000", "--source", "real", "--finetune", "qat", "--source",
                     "noise", *SMOKE, "--out", out)  # fmt: skip
    assert bad_method.exit_code == 2 and "real labels" in bad_method.output and not out.exists()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    foreign = cli("codesign", "--min-fps", "8000", *SMOKE, "--out", tmp_path / "other")
    assert foreign.exit_code == 2 and "not a codesign run folder" in foreign.output
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"


@pytest.mark.slow
def test_a_codesign_run_writes_every_file_and_resumes_by_stage(tmp_path, cli):
    out = tmp_path / "cd"
    first = cli("codesign", "--min-fps", "8000", *SMOKE, "--out", out)
    assert first.exit_code == 0, first.output
    names = (
        "report.md",
        "accelerator.json",
        "accelerator.zigzag.yaml",
        "mapping.zigzag.yaml",
        "workload.zigzag.yaml",
        "accelerator.timeloop.yaml",
        "model.onnx",
        "designs.png",
    )
    for name in names:
        assert (out / name).is_file(), name
    quant = json.loads((out / "quantized" / "metrics.json").read_text())
    accel = json.loads((out / "accelerator.json").read_text())
    assert quant["w_bits"] == quant["a_bits"] == accel["bits"]  # quantized to the accelerator's bits
    assert not (out / "search" / "quantized.pt").exists()  # quantized once: by the quantize stage
    report = (out / "report.md").read_text()
    assert "fps >= 8000" in report and "met" in report and f"W{accel['bits']}A{accel['bits']}" in report
    again = cli("codesign", "--min-fps", "8000", *SMOKE, "--out", out)
    assert again.exit_code == 0 and again.output.count("skipped") == 4
    other = cli("codesign", "--min-fps", "9000", *SMOKE, "--out", out)
    assert other.exit_code == 2 and "other settings" in other.output
