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
