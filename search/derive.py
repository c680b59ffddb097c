"""Derive and verify a searched design: train the argmax child from scratch, simulate it on the
derived accelerator with ZigZag, and write a complete, reloadable run folder.

Run folder: ``arch.json``, ``accelerator.json``, ``trajectory.csv`` (+ ``trajectory.png``),
``model.pt`` (the retrained child, ``nas.train`` checkpoint format), ``train/`` (its per-epoch
metrics), ``metrics.json`` (val/test accuracy; latency, fps, energy, area and EDAP both predicted by
the evaluator and simulated by ZigZag; the search settings and wall-clock).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from accel_model.area import accelerator_area
from accel_model.domain import Accelerator, Cost, LayerShape
from accel_model.evaluator import CostEvaluator
from accel_model.simulators import DEFAULT_BACKEND
from accel_model.sweep import sweep
from nas.arch import Arch
from nas.data import Splits
from nas.deployment import InputSize, deployed_layers
from nas.space import SearchSpace
from nas.train import TrainConfig, train_child
from search.design_accuracy import score_design

RUN_FILES = ("arch.json", "accelerator.json", "trajectory.csv", "model.pt", "metrics.json")


def cost_summary(cost: Cost) -> dict[str, float]:
    return {
        "latency_ms": cost.latency_s * 1e3,
        "fps": cost.fps,
        "energy_uj": cost.energy_pj * 1e-6,
        "area_mm2": cost.area_mm2,
        "edap": cost.edap,
    }


def predicted_cost(evaluator: CostEvaluator, layers: Sequence[LayerShape], accel: Accelerator) -> Cost:
    costs = evaluator.predict_layers(layers, accel)
    return sum(costs[1:], costs[0])


def simulated_cost(layers: Sequence[LayerShape], accel: Accelerator, workers: int = 2,
                   progress: bool = False) -> Cost:  # fmt: skip
    """ZigZag (cached) per layer, summed; area is the exact analytic area. RuntimeError if a layer fails."""
    report = sweep(
        [(layer, accel) for layer in layers], DEFAULT_BACKEND, None, None, workers, progress=progress
    )
    failed = [r.error for r in report.records if r.status != "ok"]
    if failed:
        raise RuntimeError(f"ZigZag failed on {len(failed)} layer(s): {failed[0]}")
    total = Cost(0.0, 0.0, accelerator_area(accel), accel.clock_mhz)
    for record in report.records:
        total = total + Cost(record.cost.latency_cycles, record.cost.energy_pj, 0.0, accel.clock_mhz)
    return total


def verify_design(
    out_dir: Path,
    space: SearchSpace,
    splits: Splits,
    arch: Arch,
    accel: Accelerator,
    evaluator: CostEvaluator,
    train_cfg: TrainConfig,
    extra: dict[str, Any],
    workers: int = 2,
    progress: bool = True,
    reuse: Path | None = None,
    dfq_profile: str | None = "design",
    deploy: InputSize | None = None,
) -> dict[str, Any]:
    """Retrain, simulate, quantize to the accelerator's bits and write the run folder's files; returns
    ``metrics.json``'s content.

    ``reuse``: a run folder whose child has the same arch and was trained with the same ``train_cfg``
    (seed included); its trained model is copied instead of training again (the table uses this).
    ``dfq_profile``: the DFQ profile the design's quantized accuracy is measured with (None: not here, the
    caller quantizes it itself, as ``codesign`` does); ``deploy``: the input the costs are of (None: the
    proxy dataset's)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "arch.json").write_text(arch.to_json() + "\n")
    (out_dir / "accelerator.json").write_text(json.dumps(accel.to_dict(), indent=1) + "\n")
    if reuse is None:
        result = train_child(space, arch, splits, train_cfg, out_dir / "train", progress=progress)
        os.replace(out_dir / "train" / "best.pt", out_dir / "model.pt")
    else:
        result = json.loads((reuse / "metrics.json").read_text())
        if result["arch"] != arch.to_dict():
            raise ValueError(f"{reuse} holds another arch than {arch.ops}")
        shutil.copyfile(reuse / "model.pt", out_dir / "model.pt")
        shutil.copytree(reuse / "train", out_dir / "train", dirs_exist_ok=True)
        extra = {**extra, "retrain_reused_from": str(reuse)}
    deploy = deploy or InputSize.of_splits(splits)
    layers = deployed_layers(space, arch, deploy, splits.num_classes)
    plot_trajectory(out_dir / "trajectory.csv", out_dir / "trajectory.png")
    metrics = {
        "arch": arch.to_dict(),
        "accelerator": accel.to_dict(),
        "proxy_data": {"image_size": splits.image_size, "channels": splits.channels},
        "deployment_input": deploy.to_dict(),
        "val_acc": result["val_acc"],
        "test_acc": result["test_acc"],
        "params": result["params"],
        "macs": result["macs"],
        "train_time_s": result["train_time_s"],
        "predicted": cost_summary(predicted_cost(evaluator, layers, accel)),
        "simulated": cost_summary(simulated_cost(layers, accel, workers, progress)),
        **(
            score_design(out_dir, accel, splits, train_cfg.seed, progress, dfq_profile)
            if dfq_profile
            else {"bits": accel.bits}
        ),
        **extra,
    }
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def load_run(run_dir: str | Path) -> dict[str, Any]:
    """Reload a run folder: the metrics, the Arch, the Accelerator and the trained model."""
    from nas.train import load_checkpoint

    run_dir = Path(run_dir)
    missing = [name for name in RUN_FILES if not (run_dir / name).is_file()]
    if missing:
        raise ValueError(f"{run_dir}: not a complete run folder (missing {', '.join(missing)})")
    model, meta = load_checkpoint(run_dir / "model.pt")
    return {
        "metrics": json.loads((run_dir / "metrics.json").read_text()),
        "arch": Arch.load(run_dir / "arch.json"),
        "accelerator": Accelerator.from_dict(json.loads((run_dir / "accelerator.json").read_text())),
        "model": model,
        "meta": meta,
    }


def plot_trajectory(csv_path: Path, png_path: Path) -> None:
    """Alpha entropy, supernet validation accuracy of the derived arch and its predicted log objective
    per epoch (nothing when the CSV is missing)."""
    import csv

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not csv_path.is_file():
        return
    with csv_path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    epochs = [int(r["epoch"]) for r in rows]
    panels = (("alpha_entropy", "alpha entropy (nats)"), ("val_acc_supernet", "val accuracy (supernet)"),
              ("pred_log_objective", "predicted log objective"))  # fmt: skip
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    for ax, (key, label) in zip(axes, panels, strict=True):
        ax.plot(epochs, [float(r[key]) for r in rows], marker="o")
        ax.set_xlabel("epoch")
        ax.set_title(label)
        ax.grid(alpha=0.3)
    warm = [e for e, r in zip(epochs, rows, strict=True) if r["phase"] == "warmup"]
    for ax in axes:
        if warm:
            ax.axvspan(min(warm) - 0.5, max(warm) + 0.5, color="0.9", label="warm-up")
    axes[0].legend(loc="best")
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)
    plt.close(fig)
