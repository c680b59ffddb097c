from accel_model.files import read_rows, runs_path
from search.derive import load_run


def test_search_table_runs_resumes_and_shares_what_does_not_depend_on_lam(cli, tmp_path, make_npz):
    npz = make_npz(tmp_path / "d.npz", n_train=120, n_test=30, size=28, channels=1, layout="nhw")
    table, runs = tmp_path / "t.csv", tmp_path / "runs"
    args = ("search-table", "--profile", "smoke", "--methods", "dance,two-stage", "--lams", "0,1",
            "--seeds", "1", "--data-dir", npz, "--runs-dir", runs, "--out", table, "--quiet")  # fmt: skip
    result = cli(*args)
    assert result.exit_code == 0, result.output
    rows = read_rows(runs_path(table))
    assert sorted((r["method"], float(r["lam"])) for r in rows) == [
        ("dance", 0.0), ("dance", 1.0), ("two-stage", 0.0), ("two-stage", 1.0)
    ]  # fmt: skip
    two_stage = [r for r in rows if r["method"] == "two-stage"]
    assert {k: v for k, v in two_stage[0].items() if k != "lam"} == {
        k: v for k, v in two_stage[1].items() if k != "lam"
    }
    for row in rows:  # every run folder is complete, and its model is the child it names
        run = load_run(row["run_dir"])
        assert ",".join(run["arch"].ops) == row["arch"]
        assert run["metrics"]["acc_fp"] == float(row["acc_fp"])
        assert run["metrics"]["acc_q"] == float(row["acc_q"]) and run["metrics"]["bits"] == int(row["bits"])
    trained = {}
    for row in [r for r in rows if r is not two_stage[1]]:  # a child is trained once per (arch, seed);
        # later runs reuse it (two-stage's second row is its first, copied: it does not depend on lam)
        key = (row["arch"], row["seed"])
        if key in trained:
            assert row["retrain_reused"] == "True" and row["acc_fp"] == trained[key]
        else:
            assert row["retrain_reused"] == "False"
            trained[key] = row["acc_fp"]
    assert len(read_rows(table)) == 4

    again = cli(*args)  # resumes: nothing left to run
    assert again.exit_code == 0, again.output
    assert "seed 0:" not in again.output and len(read_rows(runs_path(table))) == 4
    shown = cli("search-table", "--summary-only", "--markdown", "--methods", "dance,two-stage",
                "--lams", "0,1", "--out", table)  # fmt: skip
    assert shown.exit_code == 0 and shown.output.count("\n| dance |") == 2, shown.output


def test_search_table_refuses_bad_options(cli, tmp_path):
    out = tmp_path / "t.csv"
    for args, message in [
        (("--methods", "dance,random"), "random"),
        (("--lams", "0.5,x"), "comma-separated"),
        (("--methods", "optuna"), "include dance"),
        (("--summary-only",), "holds no run yet"),
    ]:
        result = cli("search-table", *args, "--out", out, "--runs-dir", tmp_path / "runs")
        assert result.exit_code == 2 and message in result.output, (args, result.output)
    assert not out.exists()
