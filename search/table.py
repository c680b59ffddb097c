"""The search table: DANCE and the three baselines over several lam and seeds, each run a complete run
folder (search -> retrain -> simulate -> quantize to the design's bits), resumable. Accuracy means
``acc_q``: the child's test accuracy quantized data-free to its accelerator's bits.

Each finished run is appended to ``<table>_runs.csv`` at once; a restarted table skips the runs already
there. Two savings keep it affordable, neither changing a result:

- ``two-stage`` searches with lam = 0 and picks its accelerator by the objective alone, so it does not
  depend on lam: it runs once per seed and its row is repeated for the other lam values;
- a derived child already trained for the same seed (same arch, same training settings) is reused
  instead of trained again; the row says ``retrain_reused``.

optuna gets the wall-clock of the DANCE search of the same (lam, seed), which therefore runs first.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from statistics import fmean, stdev
from typing import Any

from torch import nn

from accel_model.files import clear_dir, read_rows, runs_path, write_rows
from nas.train import TrainConfig, profile_config
from search.baselines import BASELINES, BaselineContext
from search.dance import SearchConfig, config_dict, derived_point, run_search
from search.derive import verify_design
from search.design_accuracy import dfq_profile_for

TABLE_METHODS = ("dance", "two-stage", "hw-first", "optuna")
TABLE_LAMS = (0.1, 0.5, 2.0)
LAM_FREE = ("two-stage",)
RUN_FIELDS = (
    "method",
    "lam",
    "seed",
    "arch",
    "accelerator",
    "bits",
    "val_acc",
    "acc_fp",
    "acc_q",
    "acc_q_val",
    "latency_ms",
    "fps",
    "energy_uj",
    "area_mm2",
    "edap",
    "pred_edap",
    "search_time_s",
    "train_time_s",
    "retrain_reused",
    "run_dir",
)


@dataclass
class TableSetup:
    space: Any
    splits: Any
    cfg: SearchConfig
    train_cfg: TrainConfig
    evaluator: Any
    template: Any
    objective: dict[str, float]
    hardware: nn.Module  # DANCE's frozen hardware-generation side
    runs_dir: Path
    workers: int = 2
    top_k: int = 10
    progress: bool = False
    dfq_profile: str = "design"  # how the designs are quantized (search.design_accuracy)
    deploy: Any = None  # nas.deployment.InputSize the costs are of (None: the proxy dataset's)


def table_setup(setup, hardware: nn.Module, workers: int, top_k: int, progress: bool) -> TableSetup:
    """The table's setup from a search ``setup`` (``search.run.prepare``) and DANCE's ``hardware``; the
    children are retrained with the training profile of the search profile's name."""
    return TableSetup(
        setup.space,
        setup.splits,
        setup.cfg,
        profile_config(setup.profile),
        setup.evaluator,
        setup.template,
        setup.weights,
        hardware,
        setup.out_dir,
        workers,
        top_k,
        progress,
        dfq_profile_for(setup.profile),
        setup.deploy,
    )


def _key(row: dict) -> tuple[str, float, int]:
    return row["method"], float(row["lam"]), int(row["seed"])


def search_once(setup: TableSetup, method: str, cfg: SearchConfig, trajectory: Path, budget_s: float):
    """(arch, accelerator, facts) of one search by ``method``."""
    if method == "dance":
        state, _ = run_search(setup.space, setup.splits, cfg, setup.evaluator, setup.template,
                              setup.objective, setup.hardware, trajectory, setup.progress)  # fmt: skip
        point = derived_point(state)
        return point["arch"], point["accelerator"], {}
    ctx = BaselineContext(setup.space, setup.splits, cfg, setup.evaluator, setup.template,
                          setup.objective, trajectory, setup.workers, setup.top_k, budget_s,
                          progress=setup.progress, deploy=setup.deploy)  # fmt: skip
    return BASELINES[method](ctx)


def run_one(setup: TableSetup, method: str, lam: float, seed: int, rows: list[dict]) -> dict:
    cfg = replace(setup.cfg, lam=lam, seed=seed)
    run_dir = setup.runs_dir / f"{method}_lam{lam:g}_seed{seed}"
    clear_dir(run_dir)
    dance = [r for r in rows if _key(r) == ("dance", lam, seed)]
    budget = float(dance[0]["search_time_s"]) if dance else 300.0
    start = time.perf_counter()
    arch, accel, facts = search_once(setup, method, cfg, run_dir / "trajectory.csv", budget)
    search_time = time.perf_counter() - start
    trained = [
        r
        for r in rows
        if int(r["seed"]) == seed and r["arch"] == ",".join(arch.ops) and str(r["retrain_reused"]) == "False"
    ]
    reuse = (
        Path(trained[0]["run_dir"])
        if trained and (Path(trained[0]["run_dir"]) / "model.pt").is_file()
        else None
    )
    extra = {"method": method, "search": config_dict(cfg), "search_time_s": search_time, **facts}
    train_cfg = replace(setup.train_cfg, seed=seed)
    metrics = verify_design(
        run_dir,
        setup.space,
        setup.splits,
        arch,
        accel,
        setup.evaluator,
        train_cfg,
        extra,
        setup.workers,
        setup.progress,
        reuse,
        setup.dfq_profile,
        setup.deploy,
    )
    sim = metrics["simulated"]
    return {
        "method": method,
        "lam": lam,
        "seed": seed,
        "arch": ",".join(arch.ops),
        "accelerator": json.dumps(accel.to_dict()),
        "bits": metrics["bits"],
        "val_acc": metrics["val_acc"],
        "acc_fp": metrics["acc_fp"],
        "acc_q": metrics["acc_q"],
        "acc_q_val": metrics["acc_q_val"],
        **{k: sim[k] for k in ("latency_ms", "fps", "energy_uj", "area_mm2", "edap")},
        "pred_edap": metrics["predicted"]["edap"],
        "search_time_s": round(search_time, 1),
        "train_time_s": round(metrics["train_time_s"], 1),
        "retrain_reused": reuse is not None,
        "run_dir": str(run_dir),
    }


def check_methods(methods: tuple[str, ...]) -> None:
    unknown = [m for m in methods if m not in TABLE_METHODS]
    if unknown or not methods:
        raise ValueError(f"unknown methods {unknown}; allowed: {list(TABLE_METHODS)}")
    if "optuna" in methods and "dance" not in methods:
        raise ValueError("optuna takes DANCE's search time as its budget: include dance")


def run_table(
    setup: TableSetup | None,
    table: Path,
    lams: tuple[float, ...] = TABLE_LAMS,
    seeds: int = 2,
    methods: tuple[str, ...] = TABLE_METHODS,
    on_row: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Every missing (method, lam, seed) run, seed by seed; then the summary ``table``. With ``setup``
    None nothing runs: the summary of the runs so far is rewritten."""
    check_methods(methods)
    rows = read_rows(runs_path(table))
    if setup is None:
        seeds = 0
    order = sorted(methods, key=lambda m: m != "dance")
    for seed in range(seeds):
        for lam in lams:
            for method in order:
                done = {_key(r) for r in rows}
                if (method, lam, seed) in done:
                    continue
                twin = [
                    r for r in rows if method in LAM_FREE and r["method"] == method and int(r["seed"]) == seed
                ]
                row = {**twin[0], "lam": lam} if twin else run_one(setup, method, lam, seed, rows)
                rows.append(row)
                write_rows(runs_path(table), rows)
                if on_row:
                    on_row(row)
    summary = summarize(rows, methods, lams)
    if not summary:
        raise ValueError(f"{runs_path(table)} holds no run yet")
    write_rows(table, summary)
    return summary


def summarize(rows: list[dict], methods=TABLE_METHODS, lams=TABLE_LAMS) -> list[dict]:
    """One row per (method, lam): the bit widths, mean over seeds of the test accuracy in full precision
    and at the design's bits (%), simulated latency, energy, area, EDAP and the search wall-clock."""

    out = []
    for method in methods:
        for lam in lams:
            group = [r for r in rows if r["method"] == method and float(r["lam"]) == lam]
            if not group:
                continue
            acc = [100 * float(r["acc_q"]) for r in group]
            out.append(
                {
                    "method": method,
                    "lam": lam,
                    "seeds": len(group),
                    "bits": "/".join(str(b) for b in sorted({int(r["bits"]) for r in group})),
                    "acc_fp": round(fmean(100 * float(r["acc_fp"]) for r in group), 2),
                    "acc_q": round(fmean(acc), 2),
                    "acc_q_std": round(stdev(acc), 2) if len(acc) > 1 else 0.0,
                    "latency_ms": round(fmean(float(r["latency_ms"]) for r in group), 4),
                    "energy_uj": round(fmean(float(r["energy_uj"]) for r in group), 3),
                    "area_mm2": round(fmean(float(r["area_mm2"]) for r in group), 4),
                    "edap": float(f"{fmean(float(r['edap']) for r in group):.4g}"),
                    "search_s": round(fmean(float(r["search_time_s"]) for r in group), 1),
                }
            )
    return out


def markdown(summary: list[dict]) -> str:
    """The summary as a Markdown table (accuracy at the design's bits mean +- std over seeds, full
    precision, simulated costs)."""
    head = (
        "method",
        "lam",
        "seeds",
        "bits",
        "acc_q (%)",
        "acc_fp (%)",
        "latency (ms)",
        "energy (uJ)",
        "area (mm2)",
        "EDAP",
        "search (s)",
    )
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in summary:
        cells = [
            r["method"],
            f"{float(r['lam']):g}",
            str(r["seeds"]),
            str(r["bits"]),
            f"{float(r['acc_q']):.2f} ± {float(r['acc_q_std']):.2f}",
            f"{float(r['acc_fp']):.2f}",
            f"{float(r['latency_ms']):.4f}",
            f"{float(r['energy_uj']):.2f}",
            f"{float(r['area_mm2']):.3f}",
            f"{float(r['edap']):.3g}",
            f"{float(r['search_s']):.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
