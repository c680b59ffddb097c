"""What the exit codes promise: 2 for bad input (one line), 1 with a traceback for a failure inside a run;
and building the command line imports no torch."""

import subprocess
import sys

import pytest


def test_building_the_command_line_imports_no_torch():
    code = "import sys, search.cli; assert 'torch' not in sys.modules, 'torch imported'"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


def test_bad_input_is_one_line_and_exit_2(tmp_path, cli):
    result = cli("simulate", "--net", "defualt", "--hw", tmp_path / "missing.json")
    assert result.exit_code == 2 and result.output.count("\n") == 1 and result.output.startswith("error:")


@pytest.mark.parametrize("error", [ValueError("a bug deep inside"), KeyError("field"), TypeError("bad call")])
def test_an_error_inside_a_long_run_is_not_reported_as_bad_input(monkeypatch, cli, tmp_path, error):
    """Source preparation (a generator's training) fails: exit 1 with the exception, not exit 2."""
    import dfq.api

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(dfq.api, "quantize", fail)
    result = cli("quantize", "--checkpoint", "results/teachers/default_child.pt", "--profile", "smoke",
                 "--out", tmp_path / "q")  # fmt: skip
    assert result.exit_code == 1 and result.exception is error
    assert not (tmp_path / "q").exists()


@pytest.mark.parametrize(
    "args", [("simulate", "--bogus"), ("no-such-command",), ("search", "--lam", "abc"), ("simulate",)]
)
def test_clicks_usage_errors_are_one_line_and_exit_2(cli, args):
    result = cli(*args)
    assert result.exit_code == 2 and result.output.count("\n") == 1 and result.output.startswith("error:")


def test_evaluate_reads_back_what_quantize_writes(tmp_path, cli):
    q = cli("quantize", "--checkpoint", "results/teachers/default_child.pt", "--source", "noise",
            "--profile", "smoke", "--out", tmp_path / "q", "--quiet")  # fmt: skip
    assert q.exit_code == 0, q.output
    metrics = __import__("json").loads((tmp_path / "q" / "metrics.json").read_text())
    scored = cli("evaluate", tmp_path / "q" / "quantized.pt")
    assert scored.exit_code == 0, scored.output
    assert f"test accuracy {metrics['quant_test_acc'] * 100:.2f}%" in scored.output  # scored as quantized


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (("search", "--input-size", "3x224"), "input"),  # 2 numbers: H x W, fine; the generator refuses it
        (("search", "--input-size", "huge"), "input size"),
        (("sweep", "--min-fps", "30", "--input-size", "1x2x3x4"), "--input-size"),
    ],
)
def test_a_deployment_input_the_run_cannot_use_is_refused_before_any_work(cli, tmp_path, args, names):
    result = cli(*args, "--out", tmp_path / "run")
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert result.output.startswith("error:") and names in result.output
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_a_cache_option_pointing_at_a_runs_db_is_refused_and_the_file_unchanged(cli, tmp_path, write_json):
    from search.sweep import RunsDB

    runs = tmp_path / "sweep" / "runs.db"
    runs.parent.mkdir()
    RunsDB(runs).close()
    before = runs.read_bytes()
    hw = write_json("hw.json", {"pe_rows": 8, "pe_cols": 8, "rf_bytes": 64, "glb_kib": 64, "dataflow": "WS",
                                "bits": 8})  # fmt: skip
    result = cli("simulate", "--net", "default", "--hw", hw, "--cache", runs)
    assert result.exit_code == 2 and result.output.count("\n") == 1 and "runs database" in result.output
    assert runs.read_bytes() == before
    cache_folder = tmp_path / "cache_folder"
    cache_folder.mkdir()
    from accel_model.cache import SimulationCache

    SimulationCache(cache_folder / "runs.db").close()
    listing = cli("runs", "list", cache_folder)
    assert listing.exit_code == 2 and listing.output.count("\n") == 1 and "simulation cache" in listing.output


def test_a_collapsed_generator_fails_the_run_in_one_line(monkeypatch, cli, tmp_path):
    from dfq.sources import generator_check

    monkeypatch.setattr(generator_check, "MIN_STEPS_JUDGED", 0)
    monkeypatch.setattr(generator_check, "MAX_BNS_TO_NOISE", 0.0)  # no generator can pass
    result = cli("quantize", "--checkpoint", "results/teachers/default_child.pt", "--source", "gdfq",
                 "--profile", "smoke", "--out", tmp_path / "q", "--quiet")  # fmt: skip
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    collapsed = "error: gdfq: the generator collapsed with every seed tried (0, 1000, 2000, 3000):"
    assert result.output.startswith(collapsed)
    assert not (tmp_path / "q").exists()
