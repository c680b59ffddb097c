"""Pareto fronts and plots of a sweep's runs (``runs.db``): accuracy against simulated latency, energy
and area, HDX and soft-penalty runs apart, each constraint drawn as a line."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from accel_model.constraints import Constraint
from accel_model.files import write_rows

PANELS = (
    ("latency_ms", "simulated latency (ms)"),
    ("energy_uj", "simulated energy (uJ)"),
    ("area_mm2", "accelerator area (mm2)"),
)
# where each constraint is drawn: panel key and its line position from the target
CONSTRAINT_LINES = {
    "min_fps": ("latency_ms", lambda fps: 1e3 / fps),
    "max_latency_ms": ("latency_ms", lambda ms: ms),
    "max_energy_mj": ("energy_uj", lambda mj: mj * 1e3),
    "max_area_mm2": ("area_mm2", lambda mm2: mm2),
}


def points(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One point per finished run: accuracy, simulated costs, mode, constraints and whether they hold."""
    out = []
    for row in rows:
        metrics = row.get("metrics")
        if row["status"] not in ("done", "infeasible") or not metrics:
            continue
        sim = metrics["simulated"]
        met = all(check["met"] for check in metrics.get("constraints", []))
        out.append(
            {
                "id": row["id"],
                "mode": row["mode"],
                "seed": row["seed"],
                "penalty": row["penalty"],
                "constraints": row["constraints"],
                "bits": metrics["bits"],
                "acc_fp": metrics["acc_fp"],
                # accuracy means the network's at the design's bits (nan: a run made before that)
                "acc_q": metrics.get("acc_q", float("nan")),
                "acc_q_val": metrics.get("acc_q_val", float("nan")),
                "met": met,
                **{k: sim[k] for k in ("latency_ms", "fps", "energy_uj", "area_mm2", "edap")},
            }
        )
    return out


def front(pts: Sequence[dict[str, Any]], key: str = "latency_ms") -> list[dict[str, Any]]:
    """The points no other point beats on both accuracy (higher) and ``key`` (lower), by ``key``."""
    best = []
    for p in sorted(pts, key=lambda p: (p[key], -p["acc_q"])):
        if not best or p["acc_q"] > best[-1]["acc_q"]:
            best.append(p)
    return best


def plot(pts: Sequence[dict[str, Any]], out: Path, title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(PANELS), figsize=(15, 5.2))
    targets = sorted({(n, v) for p in pts for n, v in p["constraints"].items()})
    n = len(targets)  # tab10: distinct colours while they last
    colors = {t: plt.cm.tab10(i) if n <= 10 else plt.cm.viridis(i / (n - 1)) for i, t in enumerate(targets)}
    for ax, (key, label) in zip(axes, PANELS, strict=True):
        for mode, marker in (("hdx", "o"), ("penalty", "x")):
            for target in targets:
                sel = [p for p in pts if p["mode"] == mode and target in p["constraints"].items()]
                if sel:
                    ax.scatter(
                        [p[key] for p in sel],
                        [100 * p["acc_q"] for p in sel],
                        marker=marker,
                        color=colors[target],
                        s=45,
                        alpha=0.8,
                        label=f"{mode}, {Constraint(*target).label()}",
                    )
        missed = [p for p in pts if not p["met"]]
        if missed:
            ax.scatter([p[key] for p in missed], [100 * p["acc_q"] for p in missed], marker="o",
                       facecolors="none", edgecolors="red", s=130, lw=1.2,
                       label="misses its constraint (simulator)")  # fmt: skip
        for name, value in targets:
            panel, position = CONSTRAINT_LINES[name]
            if panel == key:
                ax.axvline(position(value), color=colors[(name, value)], ls="--", lw=1)
        best = front([p for p in pts if p["met"]], key)
        if best:
            ax.step(
                [p[key] for p in best],
                [100 * p["acc_q"] for p in best],
                where="post",
                color="0.3",
                lw=1,
                label="front (constraints met)",
            )
        ax.set_xlabel(label)
        ax.set_ylabel("test accuracy at the design's bits (%)")
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    ncol = min(len(labels), 6)
    fig.legend(handles, labels, loc="lower center", ncol=ncol, fontsize=8, frameon=False)
    fig.suptitle(title or "accuracy vs simulated cost (dashed: constraint limits; o HDX, x soft penalty)")
    rows = -(-len(labels) // ncol)
    fig.tight_layout(rect=(0, 0.035 * rows + 0.02, 1, 1))
    fig.savefig(out, dpi=110)
    plt.close(fig)


def plot_sweep(pts: Sequence[dict[str, Any]], png: Path) -> tuple[int, Path]:
    """``plot`` the sweep's runs into ``png`` and write the front of the runs that met their constraints
    beside it as CSV; returns (runs on the front, the CSV's path)."""

    plot(pts, png)
    best = front([p for p in pts if p["met"]])
    csv_path = png.with_suffix(".csv")
    if best:
        write_rows(csv_path, [{k: v for k, v in p.items() if k != "constraints"} for p in best])
    return len(best), csv_path
