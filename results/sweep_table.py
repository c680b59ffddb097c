"""HDX against the soft penalty over a sweep's runs: satisfaction rate, accuracy and EDAP per target.

The penalty's "best weight" is chosen once for the whole sweep, without the test split: the weight whose
runs meet their targets most often, ties broken by mean *validation* accuracy. Per target the table also
gives the best penalty run (any weight) that meets the target, by validation accuracy, so HDX's accuracy
can be compared with the best a tuned penalty reached there.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from search.hdx import Constraint

COLUMNS = (
    "target",
    "hdx_met",
    "hdx_test_acc",
    "hdx_edap",
    "penalty_weight",
    "penalty_met",
    "penalty_test_acc",
    "penalty_edap",
    "best_penalty_run_meeting",
)


def target_label(constraints: dict[str, float]) -> str:
    return ", ".join(Constraint(name, value).label() for name, value in sorted(constraints.items()))


def mean_std(values: Sequence[float], scale: float = 1.0, fmt: str = ".2f") -> str:
    if not values:
        return "-"
    mean = statistics.fmean(values) * scale
    if len(values) == 1:
        return f"{mean:{fmt}}"
    return f"{mean:{fmt}} ± {statistics.stdev(values) * scale:{fmt}}"


def best_penalty_weight(pts: Sequence[dict[str, Any]]) -> float | None:
    """The weight meeting the targets most often; ties: the higher mean validation accuracy."""
    by_weight = defaultdict(list)
    for p in pts:
        if p["mode"] == "penalty":
            by_weight[p["penalty"]].append(p)

    def score(weight):
        runs = by_weight[weight]
        return (sum(p["met"] for p in runs) / len(runs), statistics.fmean(p["val_acc"] for p in runs))

    return max(by_weight, key=score) if by_weight else None


def summary_rows(pts: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """One row per target (sorted by constraint values): HDX vs the penalty at its best weight."""
    weight = best_penalty_weight(pts)
    groups = defaultdict(list)
    for p in pts:
        groups[tuple(sorted(p["constraints"].items()))].append(p)
    rows = []
    for key in sorted(groups):
        runs = groups[key]
        hdx = [p for p in runs if p["mode"] == "hdx"]
        pen = [p for p in runs if p["mode"] == "penalty" and p["penalty"] == weight]
        meeting = [p for p in runs if p["mode"] == "penalty" and p["met"]]
        best = max(meeting, key=lambda p: p["val_acc"], default=None)
        rows.append(
            {
                "target": target_label(dict(key)),
                "hdx_met": met_rate(hdx),
                "hdx_test_acc": mean_std([p["test_acc"] for p in hdx], 100),
                "hdx_edap": mean_std([p["edap"] for p in hdx], fmt=".2e"),
                "penalty_weight": "-" if weight is None else f"{weight:g}",
                "penalty_met": met_rate(pen),
                "penalty_test_acc": mean_std([p["test_acc"] for p in pen], 100),
                "penalty_edap": mean_std([p["edap"] for p in pen], fmt=".2e"),
                "best_penalty_run_meeting": (
                    "none" if best is None else f"{100 * best['test_acc']:.2f} (weight {best['penalty']:g})"
                ),
            }
        )
    return rows


def met_rate(runs: Sequence[dict[str, Any]]) -> str:
    return f"{sum(p['met'] for p in runs)}/{len(runs)}" if runs else "-"


def markdown(rows: Sequence[dict[str, str]]) -> str:
    head = (
        "| target | HDX met | HDX test acc (%) | HDX EDAP | penalty weight | penalty met | "
        "penalty test acc (%) | penalty EDAP | best penalty run meeting it (test acc %) |"
    )
    lines = [head, "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row[c] for c in COLUMNS) + " |" for row in rows]
    return "\n".join(lines)
