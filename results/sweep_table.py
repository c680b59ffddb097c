"""HDX against the soft penalty over a sweep's runs: satisfaction rate, accuracy and EDAP per target.

The penalty's "best weight" is chosen once for the whole sweep, without the test split: the weight whose
runs meet their targets most often, ties broken by mean *validation* accuracy. Per target the table also
gives the best penalty run (any weight) that meets the target, by validation accuracy, so HDX's accuracy
can be compared with the best a tuned penalty reached there.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from accel_model.constraints import Constraint
from accel_model.files import write_rows
from results.pareto import points

COLUMNS = (
    "target",
    "hdx_met",
    "hdx_acc_q",
    "hdx_edap",
    "penalty_weight",
    "penalty_met",
    "penalty_acc_q",
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
        return (sum(p["met"] for p in runs) / len(runs), statistics.fmean(p["acc_q_val"] for p in runs))

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
        best = max(meeting, key=lambda p: p["acc_q_val"], default=None)
        rows.append(
            {
                "target": target_label(dict(key)),
                "hdx_met": met_rate(hdx),
                "hdx_acc_q": mean_std([p["acc_q"] for p in hdx], 100),
                "hdx_edap": mean_std([p["edap"] for p in hdx], fmt=".2e"),
                "penalty_weight": "-" if weight is None else f"{weight:g}",
                "penalty_met": met_rate(pen),
                "penalty_acc_q": mean_std([p["acc_q"] for p in pen], 100),
                "penalty_edap": mean_std([p["edap"] for p in pen], fmt=".2e"),
                "best_penalty_run_meeting": (
                    "none" if best is None else f"{100 * best['acc_q']:.2f} (weight {best['penalty']:g})"
                ),
            }
        )
    return rows


def met_rate(runs: Sequence[dict[str, Any]]) -> str:
    return f"{sum(p['met'] for p in runs)}/{len(runs)}" if runs else "-"


def markdown(rows: Sequence[dict[str, str]]) -> str:
    head = (
        "| target | HDX met | HDX acc_q (%) | HDX EDAP | penalty weight | penalty met | "
        "penalty acc_q (%) | penalty EDAP | best penalty run meeting it (acc_q %) |"
    )
    lines = [head, "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row[c] for c in COLUMNS) + " |" for row in rows]
    return "\n".join(lines)


def plain_table(rows: Sequence[dict[str, str]]) -> str:
    """``summary_rows`` as aligned plain-text columns."""
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in COLUMNS}
    lines = ["  ".join(f"{c:<{widths[c]}}" for c in COLUMNS)]
    lines += ["  ".join(f"{row[c]:<{widths[c]}}" for c in COLUMNS) for row in rows]
    return "\n".join(lines)


def run_line(row: dict[str, Any]) -> str:
    """One finished sweep run as a line: status, test accuracy, each constraint's simulated value."""
    metrics = row["metrics"] or {}
    checks = ", ".join(
        f"{c['constraint']}: {c['simulated']:.4g} {'met' if c['met'] else 'MISSED'}"
        for c in metrics.get("constraints", [])
    )
    acc = f"{metrics['acc_q'] * 100:.2f}% at {metrics['bits']} bits" if "acc_q" in metrics else "-"
    return f"{row['id']}: {row['status']}, test {acc}, {checks}"


def runs_listing(rows: Sequence[dict[str, Any]]) -> str:
    """Every run of a ``runs.db``: status, test accuracy and simulated fps, energy and area."""
    lines = [f"{'id':<44} {'status':<10} {'bits':>4} {'acc_fp':>6} {'acc_q':>6} {'fps':>9} {'energy uJ':>10} "
             f"{'area mm2':>8}"]  # fmt: skip
    for row in rows:
        m = row["metrics"] or {}
        sim = m.get("simulated", {})
        fp = f"{m['acc_fp'] * 100:.2f}" if "acc_fp" in m else "-"
        acc = f"{m.get('bits', '-'):>4} {fp:>6} " + (
            f"{m['acc_q'] * 100:.2f}" if "acc_q" in m else "-"
        ).rjust(6)
        cost = (
            f"{sim['fps']:>9.0f} {sim['energy_uj']:>10.3f} {sim['area_mm2']:>8.3f}"
            if sim
            else f"{'-':>9} {'-':>10} {'-':>8}"
        )
        lines.append(f"{row['id']:<44} {row['status']:<10} {acc} {cost}")
    return "\n".join(lines)


def write_points(rows: Sequence[dict[str, Any]], path: Path) -> None:
    """The finished runs of a ``runs.db`` as CSV (nothing written when none has finished)."""

    finished = points(rows)
    if finished:
        write_rows(path, [{**p, "constraints": json.dumps(p["constraints"])} for p in finished])
