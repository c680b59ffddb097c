from search.derive import load_run


def test_search_smoke_writes_a_complete_run_folder(cli, tmp_path, make_npz):
    npz = make_npz(tmp_path / "d.npz", n_train=120, n_test=2100, size=28, channels=1, layout="nhw")
    out = tmp_path / "run"
    result = cli("search", "--profile", "smoke", "--data-dir", npz, "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    run = load_run(out)
    assert run["metrics"]["method"] == "dance" and run["metrics"]["search"]["hw"] == "generator"
    assert ",".join(run["arch"].ops) in result.output
    assert (out / "trajectory.png").is_file()
    # smoke scores its design with the smoke DFQ profile on the first 2,000 test images (of 2,100 here)
    quantization = run["metrics"]["quantization"]
    assert quantization["profile"] == "smoke" and quantization["scored_images"]["test"] == 2000
    again = cli("search", "--profile", "smoke", "--data-dir", npz, "--out", out, "--quiet")
    assert again.exit_code == 2 and "--overwrite" in again.output


def test_search_and_baseline_refuse_bad_input_before_any_work(cli, tmp_path, write_json):
    out = tmp_path / "never"
    cases = [
        (("search", "--objective", "speed"), "unknown metric 'speed'"),
        (("search", "--objective", "latency", "--profile", "smoke"), "was trained for objective"),
        (("search", "--lam", "-1"), "lam"),
        (("baseline", "random-search"), "random-search"),
        (("search", "--evaluator", write_json("e.pt", "junk")), "not a readable evaluator"),
    ]
    for args, message in cases:
        result = cli(*args, "--out", out)
        assert result.exit_code == 2 and message in result.output, (args, result.output)
    assert not out.exists()
