import pytest

from accel_model.files import read_rows, write_rows
from dfq.report import RERUN_NOISE, Claim, check_claims, markdown_tables, merge, parse_runs_option
from dfq.table import RUN_FIELDS, ProtocolMismatch, TeacherMismatch


def runs(path, teacher, accs, protocol="p1"):
    """A runs file: ``accs`` maps (method, bits, seed) to test accuracy; FP accuracy 0.90."""
    rows = []
    for (method, (wb, ab), seed), acc in accs.items():
        values = [method, teacher, protocol, wb, ab, seed, 0.90, acc, 0.95, 10.0, 1.0, 5.0, 16.0]
        rows.append(dict(zip(RUN_FIELDS, values, strict=True)))
    write_rows(path, rows)
    return path


def test_merge_averages_each_teachers_seeds_across_files(tmp_path):
    a = runs(tmp_path / "a.csv", "f1", {("gdfq+kd", (4, 4), 0): 0.88, ("gdfq+kd", (4, 4), 1): 0.86})
    b = runs(tmp_path / "b.csv", "f1", {("ZeroQ + KD", (4, 4), 0): 0.85, ("ZeroQ + KD", (8, 8), 0): 0.9})
    c = runs(tmp_path / "c.csv", "f2", {("gdfq+kd", (4, 4), 0): 0.70})
    summary = merge({"child": [a, b], "resnet20": [c]})
    key = {(r["teacher"], r["method"], r["bits"]): r for r in summary}
    gdfq = key["child", "gdfq+kd", "W4A4"]
    assert (gdfq["acc_mean"], gdfq["acc_std"], gdfq["seeds"]) == (87.0, pytest.approx(1.41, abs=0.01), 2)
    assert gdfq["drop_mean"] == 3.0 and gdfq["fingerprint"] == "f1"
    assert key["resnet20", "gdfq+kd", "W4A4"]["acc_mean"] == 70.0
    assert len(summary) == 4


def test_one_name_never_mixes_two_teachers(tmp_path):
    a = runs(tmp_path / "a.csv", "f1", {("gdfq+kd", (4, 4), 0): 0.88})
    b = runs(tmp_path / "b.csv", "f2", {("dsg+kd", (4, 4), 0): 0.88})
    with pytest.raises(TeacherMismatch, match="different teacher"):
        merge({"child": [a, b]})


def test_one_name_never_mixes_two_protocols(tmp_path):
    a = runs(tmp_path / "a.csv", "f1", {("gdfq+kd", (3, 3), 0): 0.88})
    b = runs(tmp_path / "b.csv", "f1", {("gdfq+kd", (3, 3), 1): 0.80}, protocol="p2")
    with pytest.raises(ProtocolMismatch, match="different protocol"):
        merge({"child": [a, b]})
    assert len(merge({"child": [a], "child-long": [b]})) == 2  # two names: fine


def test_claim_verdicts_follow_the_means_and_the_spread(tmp_path):
    accs = {("a", (4, 4), s): v for s, v in enumerate((0.90, 0.92))}  # 91 ± 1.41
    accs |= {("b", (4, 4), s): v for s, v in enumerate((0.88, 0.88))}  # 88 ± 0: a better by 3
    accs |= {("c", (4, 4), s): v for s, v in enumerate((0.90, 0.91))}  # 90.5 ± 0.71: within a's spread
    summary = merge({"t": [runs(tmp_path / "r.csv", "f", accs)]})
    claims = [
        Claim("a > b", "a", ("b",)),
        Claim("b > a", "b", ("a",)),
        Claim("c > a", "c", ("a",)),
        Claim("x", "a", ("z",)),
    ]
    verdicts = {r["claim"]: (r["verdict"], r["diff"]) for r in check_claims(summary, claims)}
    assert verdicts == {
        "a > b": ("holds", 3.0),
        "b > a": ("does not hold", -3.0),
        "c > a": ("within noise", -0.5),
    }
    text = markdown_tables(summary, check_claims(summary, claims))
    assert "| a | 91.00 ± 1.41 (+1.00, n=2) |" in text and "| t | a > b | W4A4 |" in text


def test_a_difference_within_the_rerun_noise_is_not_a_finding_even_without_spread(tmp_path):
    accs = {("a", (4, 4), s): 0.9015 for s in range(2)}  # 90.15 ± 0
    accs |= {("b", (4, 4), s): 0.9000 for s in range(2)}  # 90.00 ± 0: 0.15 below, under RERUN_NOISE
    accs |= {("c", (4, 4), s): 0.8970 for s in range(2)}  # 89.70 ± 0: 0.45 below, above it
    summary = merge({"t": [runs(tmp_path / "r.csv", "f", accs)]})
    claims = [Claim("a > b", "a", ("b",)), Claim("a > c", "a", ("c",))]
    verdicts = {r["claim"]: r["verdict"] for r in check_claims(summary, claims)}
    assert RERUN_NOISE == 0.21 and verdicts == {"a > b": "within noise", "a > c": "holds"}


def test_runs_option_names_the_bad_entry(tmp_path):
    good = runs(tmp_path / "a.csv", "f", {("a", (4, 4), 0): 0.9})
    assert parse_runs_option([f"child={good}", f"child={good}"]) == {"child": [good, good]}
    for spec, message in (
        ("child", "NAME=FILE"),
        ("=x.csv", "NAME=FILE"),
        ("child=nope.csv", "no such file"),
    ):
        with pytest.raises(ValueError, match=message):
            parse_runs_option([spec])


def test_report_command_writes_summary_and_claims(cli, tmp_path):
    accs = {("gdfq+kd", (4, 4), s): 0.88 for s in (0, 1)} | {("qimera+kd", (4, 4), s): 0.89 for s in (0, 1)}
    good = runs(tmp_path / "a_runs.csv", "f", accs)
    out = tmp_path / "m.csv"
    result = cli("dfq", "report", "--runs", f"child={good}", "--out", out)
    assert result.exit_code == 0, result.output
    assert "Qimera > GDFQ" in result.output and len(read_rows(out)) == 2
    claims = read_rows(tmp_path / "m_claims.csv")
    assert [(c["claim"], c["verdict"]) for c in claims] == [("Qimera > GDFQ", "holds")]
    for args in (("--runs", "child"), ("--runs", "child=missing.csv"), ()):
        bad = cli("dfq", "report", *args, "--out", tmp_path / "x.csv")
        assert bad.exit_code == 2 and "--runs" in bad.output, bad.output
    assert not (tmp_path / "x.csv").exists()


def test_a_claim_takes_the_first_alternative_label_with_runs(tmp_path):
    accs = {("dsg+kd", (4, 4), 0): 0.90, ("zeroq+kd", (4, 4), 0): 0.88}
    summary = merge({"t": [runs(tmp_path / "r.csv", "f", accs)]})
    (claim,) = check_claims(summary, [Claim("DSG > ZeroQ", "dsg+kd", ("ZeroQ + KD", "zeroq+kd"))])
    assert (claim["worse"], claim["diff"], claim["verdict"]) == ("zeroq+kd", 2.0, "too few seeds")
    accs[("ZeroQ + KD", (4, 4), 0)] = 0.91
    summary = merge({"t": [runs(tmp_path / "r.csv", "f", accs)]})
    (claim,) = check_claims(summary, [Claim("DSG > ZeroQ", "dsg+kd", ("ZeroQ + KD", "zeroq+kd"))])
    assert (claim["worse"], claim["diff"]) == ("ZeroQ + KD", -1.0)


def test_one_seed_is_too_few_to_judge_a_claim(tmp_path):
    accs = {("a", (4, 4), 0): 0.95, ("b", (4, 4), 0): 0.80, ("b", (4, 4), 1): 0.80}
    summary = merge({"t": [runs(tmp_path / "r.csv", "f", accs)]})
    (claim,) = check_claims(summary, [Claim("a > b", "a", ("b",))])
    assert (claim["diff"], claim["seeds"], claim["verdict"]) == (15.0, "1/2", "too few seeds")
