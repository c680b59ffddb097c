import csv
import json

import pytest
import torch

from dfq.pipeline import load_quantized


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A smoke-trained checkpoint on a small 1x28x28 .npz, like `coexplore train` writes."""
    from click.testing import CliRunner

    from search.cli import main
    from tests.conftest import _make_npz

    folder = tmp_path_factory.mktemp("trained")
    npz = str(_make_npz(folder / "d.npz", n_train=240, n_test=60, size=28, channels=1, layout="nhw"))
    result = CliRunner().invoke(
        main, ["train", "--data-dir", npz, "--out", str(folder / "run"), "--profile", "smoke", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    return str(folder / "run" / "best.pt"), npz


@pytest.mark.parametrize("source", ["noise", "zeroq", "gdfq", "real"])
def test_quantize_writes_checkpoint_and_metrics(cli, tmp_path, trained, source):
    checkpoint, npz = trained
    out = tmp_path / "q"
    result = cli("quantize", "--checkpoint", checkpoint, "--data-dir", npz, "--source", source,
                 "--w-bits", 4, "--a-bits", 8, "--profile", "smoke", "--finetune-lr", 3e-4, "--out", out,
                 "--quiet")  # fmt: skip
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["settings"]["finetune_lr"] == 3e-4
    assert metrics["source"] == source and metrics["finetune"] == ("kd" if source == "gdfq" else "none")
    assert (metrics["w_bits"], metrics["a_bits"]) == (4, 8)
    for key in ("fp_test_acc", "quant_test_acc", "top1_agreement"):
        assert 0 <= metrics[key] <= 1
    assert metrics["total_time_s"] >= metrics["source_prepare_time_s"]
    model, payload = load_quantized(out / "quantized.pt")
    assert payload["run"]["quant_test_acc"] == metrics["quant_test_acc"]
    assert torch.isfinite(model(torch.randn(2, 1, 28, 28))).all()


def test_quantize_can_freeze_the_weight_grid_and_saves_it(cli, tmp_path, trained):
    checkpoint, npz = trained
    out = tmp_path / "q"
    result = cli("quantize", "--checkpoint", checkpoint, "--data-dir", npz, "--source", "noise", "--finetune",
                 "kd", "--w-bits", 3, "--a-bits", 3, "--profile", "smoke", "--freeze-weight-grid",
                 "--out", out, "--quiet")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads((out / "metrics.json").read_text())["settings"]["freeze_weight_grid"] is True
    model, _ = load_quantized(out / "quantized.pt")
    assert any(k.endswith("weight_scale") for k in model.state_dict())


def test_quantize_refuses_bad_input(cli, tmp_path, trained):
    checkpoint, npz = trained
    base = ("quantize", "--data-dir", npz, "--profile", "smoke", "--quiet", "--out", tmp_path / "q")
    cases = [
        (("--checkpoint", tmp_path / "missing.pt"), "missing.pt"),
        (("--checkpoint", checkpoint, "--source", "noise", "--finetune", "qat"), "real labels"),
        (("--checkpoint", checkpoint, "--w-bits", 1), "w-bits"),
        (("--checkpoint", checkpoint, "--finetune-lr", 0), "finetune-lr"),
        (("--checkpoint", checkpoint, "--source", "nope"), "nope"),
        (("--checkpoint", checkpoint, "--device", "nope"), "--device"),
    ]
    for extra, message in cases:
        result = cli(*base, *extra)
        assert result.exit_code == 2 and message in result.output, result.output
    (tmp_path / "junk.pt").write_text("junk")
    result = cli(*base, "--checkpoint", tmp_path / "junk.pt")
    assert result.exit_code == 2 and "junk.pt" in result.output
    assert not (tmp_path / "q").exists()  # nothing half-written


def test_quantize_table_resumes(cli, tmp_path, trained):
    checkpoint, npz = trained
    out = tmp_path / "t.csv"
    args = ("quantize-table", "--checkpoint", checkpoint, "--data-dir", npz, "--profile", "smoke",
            "--seeds", 1, "--out", out, "--quiet")  # fmt: skip
    first = cli(*args)
    assert first.exit_code == 0, first.output
    runs = (tmp_path / "t_runs.csv").read_text().splitlines()
    assert len(runs) == 1 + 6 * 4  # header + methods x bit widths
    summary = (tmp_path / "t.csv").read_text().splitlines()
    assert summary[0].startswith("method,bits,seeds,fp_acc,acc_mean,acc_std")
    again = cli(*args)
    assert again.exit_code == 0 and "seed 0:" not in again.output  # every row was already there
    assert (tmp_path / "t_runs.csv").read_text().splitlines() == runs
    protocols = json.loads((tmp_path / "t_runs_protocols.json").read_text())
    assert [p["settings"]["finetune_steps"] for p in protocols.values()] == [5]  # smoke profile
    longer = cli(*args, "--finetune-steps", 7)  # other settings: refused, nothing written
    assert longer.exit_code == 2 and "different protocol" in longer.output, longer.output
    assert (tmp_path / "t_runs.csv").read_text().splitlines() == runs
    header, *lines = runs
    column = header.split(",").index("teacher")
    other = [line.split(",") for line in lines]
    other = [",".join([*v[:column], "0123456789abcdef", *v[column + 1 :]]) for v in other]
    (tmp_path / "t_runs.csv").write_text("\n".join([header, *other]) + "\n")  # rows of another teacher
    mixed = cli(*args)
    assert mixed.exit_code == 2 and "different teacher" in mixed.output, mixed.output
    assert (tmp_path / "t_runs.csv").read_text().splitlines() == [header, *other]  # left as it was


def test_dfq_table_composes_sources_and_finetunings(cli, tmp_path, trained):
    checkpoint, npz = trained
    out = tmp_path / "m.csv"
    result = cli("dfq", "table", "--checkpoint", checkpoint, "--data-dir", npz, "--profile", "smoke",
                 "--sources", "qimera,dsg", "--finetunes", "ait", "--bits", "W4A4", "--seeds", 1,
                 "--out", out, "--quiet")  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = out.read_text().splitlines()
    assert [line.split(",")[:2] for line in summary[1:]] == [["qimera+ait", "W4A4"], ["dsg+ait", "W4A4"]]
    runs = list(csv.DictReader((tmp_path / "m_runs.csv").open()))
    for row in runs:  # which generator seed, how many retries, every attempt's BN loss against noise's
        assert row["generator_seed"] == "0" and row["generator_retries"] == "0"
        assert 0 < float(row["generator_bns_to_noise"]) < 10
    for extra, message in [(("--sources", "magic"), "magic"), (("--bits", "W4"), "W4")]:
        bad = cli(
            "dfq", "table", "--checkpoint", checkpoint, "--data-dir", npz, *extra, "--out", tmp_path / "b.csv"
        )
        assert bad.exit_code == 2 and message in bad.output, bad.output
    assert not (tmp_path / "b.csv").exists()


@pytest.mark.parametrize(("given", "expected"), [((), (16, 16)), (("--w-bits", 4), (4, 16))])
def test_quantize_on_a_search_run_folder_takes_its_accelerators_bits(cli, tmp_path, trained, given, expected):
    import shutil

    checkpoint, npz = trained
    run = tmp_path / "run"
    run.mkdir()
    shutil.copyfile(checkpoint, run / "model.pt")
    accel = {"pe_rows": 16, "pe_cols": 16, "rf_bytes": 64, "glb_kib": 64, "dataflow": "WS", "bits": 16}
    (run / "accelerator.json").write_text(json.dumps(accel))
    result = cli("quantize", "--checkpoint", run, "--data-dir", npz, "--source", "noise", *given,
                 "--profile", "smoke", "--out", tmp_path / "q", "--quiet")  # fmt: skip
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "q" / "metrics.json").read_text())
    assert (metrics["w_bits"], metrics["a_bits"]) == expected
    (run / "accelerator.json").write_text('{"bits": 6}')
    bad = cli("quantize", "--checkpoint", run, "--data-dir", npz, "--out", tmp_path / "q2", "--quiet")
    assert bad.exit_code == 2 and "accelerator.json" in bad.output and not (tmp_path / "q2").exists()


def test_quantize_takes_your_own_model_and_scores_it_on_the_eval_data_only(
    cli, tmp_path, user_package, make_npz
):
    folder, net = user_package
    npz = make_npz(tmp_path / "eval.npz", n_train=10, n_test=30, size=16, channels=3, classes=5)
    out = tmp_path / "q"
    result = cli("quantize", "--model", "byo_models:tiny", "--weights", folder / "weights.pt",
                 "--input-size", "3x16x16", "--mean", "0.5,0.5,0.5", "--std", "0.25,0.25,0.25",
                 "--eval-data", npz, "--source", "zeroq", "--w-bits", 4, "--a-bits", 8,
                 "--profile", "smoke", "--out", out, "--quiet")  # fmt: skip
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["checkpoint"] == "byo_models:tiny" and 0 <= metrics["top1_agreement"] <= 1
    student, payload = load_quantized(out / "quantized.pt")  # rebuilt from the factory the file names
    assert payload["teacher"]["num_classes"] == 5 and payload["teacher"]["mean"] == [0.5, 0.5, 0.5]
    wrapped = sum(type(m).__name__ == "QuantWrapper" for m in student.modules())
    assert wrapped == sum(isinstance(m, torch.nn.Conv2d | torch.nn.Linear) for m in net.modules()) == 3
    unscored = cli("quantize", "--model", folder / "whole.pt", "--input-size", 16, "--source", "zeroq",
                   "--profile", "smoke", "--out", tmp_path / "q2", "--quiet")  # fmt: skip
    assert unscored.exit_code == 0 and "not scored (no --eval-data)" in unscored.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "byo_models:tiny"], "--input-size: required with --model"),
        (["--input-size", "16"], "--input-size: only with --model"),
        (["--model", "byo_models:tiny", "--input-size", "16", "--checkpoint", "x.pt"], "not both"),
        (["--model", "byo_models:tiny", "--input-size", "16", "--source", "real"], "needs the training"),
        (["--model", "byo_models:tiny", "--input-size", "16", "--mean", "a,b,c"], "'--mean': 'a,b,c' is not"),
        (["--model", "byo_models:tiny", "--input-size", "16", "--eval-data", "missing.npz"], "--eval-data"),
        ([], "--checkpoint: required (or --model"),
    ],
)
def test_quantize_refuses_bad_model_options_in_one_line(cli, tmp_path, user_package, args, message):
    result = cli("quantize", *args, "--profile", "smoke", "--out", tmp_path / "q")
    assert result.exit_code == 2 and message in result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "q").exists()


def test_without_a_profile_a_large_input_gets_the_large_profile_and_says_so(cli, tmp_path, user_package):
    from dfq.api import profile_for_input

    assert (profile_for_input(28), profile_for_input(95), profile_for_input(96)) == (
        "quick",
        "quick",
        "large",
    )
    folder, _ = user_package
    result = cli("quantize", "--model", folder / "whole.pt", "--input-size", 96, "--source", "noise",
                 "--out", tmp_path / "q")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "profile: large (for 96-px inputs; --profile to choose)" in result.output
    settings = json.loads((tmp_path / "q" / "metrics.json").read_text())["settings"]
    assert (settings["pool_size"], settings["reconstruct_iters"]) == (64, 100)
