from results.pareto import front, plot, points


def point(acc, latency, mode="hdx", met=True):
    return {
        "id": f"{mode}{acc}",
        "mode": mode,
        "seed": 0,
        "penalty": None,
        "constraints": {"min_fps": 5000.0},
        "bits": 4,
        "acc_fp": acc + 0.01,
        "acc_q": acc,
        "met": met,
        "latency_ms": latency,
        "fps": 1e3 / latency,
        "energy_uj": 20.0,
        "area_mm2": 0.5,
        "edap": 1e-9,
    }


def test_front_keeps_only_undominated_points_by_cost():
    pts = [point(0.90, 0.2), point(0.85, 0.1), point(0.88, 0.3), point(0.91, 0.25), point(0.84, 0.15)]
    assert [(p["acc_q"], p["latency_ms"]) for p in front(pts)] == [(0.85, 0.1), (0.90, 0.2), (0.91, 0.25)]
    assert front([]) == []


def test_points_take_finished_runs_and_their_constraint_checks():
    metrics = {
        "acc_fp": 0.9,
        "acc_q": 0.85,
        "bits": 4,
        "simulated": {"latency_ms": 0.1, "fps": 1e4, "energy_uj": 2.0, "area_mm2": 0.4, "edap": 1e-9},
        "constraints": [{"constraint": "fps >= 5000", "simulated": 1e4, "met": True}],
    }
    rows = [
        {
            "id": "a",
            "mode": "hdx",
            "seed": 0,
            "penalty": None,
            "constraints": {"min_fps": 5000},
            "status": "done",
            "metrics": metrics,
        },
        {
            "id": "b",
            "mode": "hdx",
            "seed": 1,
            "penalty": None,
            "constraints": {"min_fps": 5000},
            "status": "running",
            "metrics": None,
        },
    ]
    pts = points(rows)
    assert [p["id"] for p in pts] == ["a"] and pts[0]["met"] and pts[0]["latency_ms"] == 0.1
    assert (pts[0]["acc_q"], pts[0]["acc_fp"], pts[0]["bits"]) == (0.85, 0.9, 4)  # accuracy at the bits


def test_plot_writes_a_png(tmp_path):
    out = tmp_path / "p.png"
    plot([point(0.9, 0.2), point(0.85, 0.1, "penalty", met=False)], out)
    assert out.stat().st_size > 10_000
