import gzip
import json


def test_dataset_extend_simulates_a_networks_layers_and_resumes(tmp_path, cli):
    out = tmp_path / "common.csv.gz"
    args = ("dataset", "extend", "--networks", "resnet20", "--samples", 2, "--workers", 1, "--out", out,
            "--cache", tmp_path / "c.sqlite")  # fmt: skip
    first = cli(*args)
    assert first.exit_code == 0, first.output
    with gzip.open(out, "rt") as fh:
        lines = fh.read().splitlines()
    assert len(lines) == 3 and all(line.startswith("resnet20,") for line in lines[1:])
    prov = json.loads((tmp_path / "common.provenance.json").read_text())
    assert prov["complete"] and prov["networks"] == ["resnet20@32px"] and "held-out" in prov["excluded"]
    assert prov["rebuild"].startswith("coexplore dataset extend --networks resnet20 --samples 2")
    assert prov["rebuild"].endswith(f"--out {out}")  # not the default table: the rebuild names it
    assert cli(*args).exit_code == 0  # the second run reads the cache


def test_dataset_extend_rejects_unknown_networks_and_outputs(tmp_path, cli):
    bad = cli("dataset", "extend", "--networks", "resnet18,vgg", "--out", tmp_path / "x.csv.gz")
    assert bad.exit_code == 2 and "unknown network 'vgg'" in bad.output
    bad = cli("dataset", "extend", "--out", tmp_path / "x.json")
    assert bad.exit_code == 2 and "must end in .csv" in bad.output
    assert not list(tmp_path.iterdir())


def test_dataset_disagree_rejects_bad_input_before_simulating(tmp_path, cli):
    bad = cli("dataset", "disagree", "--networks", "vgg", "--out", tmp_path / "x.csv.gz")
    assert bad.exit_code == 2 and "unknown network 'vgg'" in bad.output
    bad = cli("dataset", "disagree", "--out", tmp_path / "x.json")
    assert bad.exit_code == 2 and "must end in .csv" in bad.output
    bad = cli("dataset", "disagree", "--evaluator", tmp_path / "missing.pt", "--out", tmp_path / "x.csv.gz")
    assert bad.exit_code == 2 and "--evaluator" in bad.output
    bad = cli("dataset", "disagree", "--top-fraction", 0, "--out", tmp_path / "x.csv.gz")
    assert bad.exit_code == 2 and "--top-fraction" in bad.output
    assert not list(tmp_path.iterdir())


def test_dataset_disagree_simulates_the_committed_ensembles_most_disputed_pairs(tmp_path, cli):
    out = tmp_path / "disagree.csv.gz"
    result = cli("dataset", "disagree", "--networks", "resnet20", "--samples", 2, "--top-fraction", 0.01,
                 "--workers", 1, "--out", out, "--cache", tmp_path / "c.sqlite")  # fmt: skip
    assert result.exit_code == 0, result.output
    with gzip.open(out, "rt") as fh:
        lines = fh.read().splitlines()
    assert len(lines) == 3 and all(line.startswith("resnet20,") for line in lines[1:])
    prov = json.loads((tmp_path / "disagree.provenance.json").read_text())
    assert prov["complete"] and prov["top_fraction"] == 0.01 and len(prov["evaluator_sha256"]) == 64
    assert "held-out" in prov["excluded"] and prov["rebuild"].endswith(f"--out {out}")


def test_dataset_disagree_needs_an_ensemble(tmp_path, cli):
    from accel_model.evaluator import CostEvaluator, save_evaluator
    from accel_model.space import DesignSpace

    single = tmp_path / "single.pt"
    save_evaluator(CostEvaluator(DesignSpace(), hidden=8, depth=1, members=1), single, {})
    bad = cli("dataset", "disagree", "--evaluator", single, "--out", tmp_path / "x.csv.gz")
    assert bad.exit_code == 2 and "one member" in bad.output
    assert not (tmp_path / "x.csv.gz").exists()
