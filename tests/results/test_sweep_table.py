from results.sweep_table import best_penalty_weight, markdown, summary_rows


def run(mode, fps_target, met, acc_q, acc_q_val, weight=None, edap=1e-9):
    """A sweep point as ``results.pareto.points`` makes it: accuracy at the design's bits."""
    return {"mode": mode, "penalty": weight, "constraints": {"min_fps": fps_target}, "met": met,
            "acc_q": acc_q, "acc_q_val": acc_q_val, "edap": edap}  # fmt: skip


SWEEP = [
    run("hdx", 8000, True, 0.88, 0.89),
    run("hdx", 8000, True, 0.90, 0.91),
    run("hdx", 12000, True, 0.86, 0.87),
    run("penalty", 8000, True, 0.89, 0.95, weight=1),  # best validation accuracy, but misses elsewhere
    run("penalty", 12000, False, 0.91, 0.95, weight=1),
    run("penalty", 8000, True, 0.87, 0.88, weight=10),
    run("penalty", 12000, True, 0.85, 0.86, weight=10),
]


def test_best_penalty_weight_meets_targets_most_often_then_validation_accuracy():
    assert best_penalty_weight(SWEEP) == 10
    assert best_penalty_weight([p for p in SWEEP if p["penalty"] != 10]) == 1
    assert best_penalty_weight([p for p in SWEEP if p["mode"] == "hdx"]) is None


def test_summary_compares_hdx_with_the_chosen_weight_and_the_best_meeting_run():
    rows = summary_rows(SWEEP)
    assert [r["target"] for r in rows] == ["fps >= 8000", "fps >= 12000"]
    low, high = rows
    assert low["hdx_met"] == "2/2" and low["hdx_acc_q"] == "89.00 ± 1.41"
    assert (low["penalty_weight"], low["penalty_met"], low["penalty_acc_q"]) == ("10", "1/1", "87.00")
    assert low["best_penalty_run_meeting"] == "89.00 (weight 1)"  # chosen by validation accuracy
    assert high["best_penalty_run_meeting"] == "85.00 (weight 10)"  # the weight-1 run missed the target
    table = markdown(rows)
    assert table.count("\n") == 3 and "| fps >= 12000 | 1/1 | 86.00 |" in table
