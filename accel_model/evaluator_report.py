"""Checking the evaluator against the simulator on whole networks and accelerators it never saw.

``simulate_networks`` runs every (layer, accelerator) pair through a ``sweep`` (cached, parallel);
``network_errors`` compares per-network and per-layer predictions with the simulated sums;
``parity_plot`` draws predicted vs. simulated on log axes, one panel per metric.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch

from accel_model.domain import Accelerator, LayerShape
from accel_model.evaluator import CostEvaluator
from accel_model.files import atomic_write_bytes
from accel_model.layer_features import layer_batch
from accel_model.metrics import error_summary
from accel_model.simulators import DEFAULT_BACKEND
from accel_model.space import DesignSpace
from accel_model.sweep import sweep

METRICS = ("latency", "energy")


def heldout_accelerators(
    space: DesignSpace, exclude: Iterable[Accelerator], n: int, seed: int
) -> list[Accelerator]:
    """``n`` distinct accelerators drawn uniformly from the space, none of them in ``exclude``."""
    seen, rng, out = set(exclude), random.Random(seed), []
    if space.size - len(seen) < n:
        raise ValueError(f"only {space.size - len(seen)} accelerators are left outside the training set")
    while len(out) < n:
        accel = space.sample(rng)
        if accel not in seen:
            seen.add(accel)
            out.append(accel)
    return out


def simulate_networks(
    networks: dict[str, Sequence[LayerShape]],
    accels: Sequence[Accelerator],
    settings: dict[str, Any] | None = None,
    cache=None,
    workers: int = 2,
    progress: bool = True,
) -> dict[tuple[LayerShape, Accelerator], tuple[float, float] | None]:
    """Simulated (cycles, pJ) of every distinct layer of ``networks`` on every accelerator (None: failed)."""
    layers = list(dict.fromkeys(layer for net in networks.values() for layer in net))
    pairs = [(layer, accel) for accel in accels for layer in layers]
    report = sweep(pairs, DEFAULT_BACKEND, settings, cache, workers, progress=progress)
    return {
        pair: (rec.cost.latency_cycles, rec.cost.energy_pj) if rec.status == "ok" else None
        for pair, rec in zip(pairs, report.records, strict=True)
    }


def network_errors(
    model: CostEvaluator,
    networks: dict[str, Sequence[LayerShape]],
    accels: Sequence[Accelerator],
    simulated: dict[tuple[LayerShape, Accelerator], tuple[float, float] | None],
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows (one per network x accelerator) and a summary: per family of networks (the name before
    '#') and overall, network-level errors; per-layer errors over the distinct pairs. Networks with a
    failed layer simulation are left out and counted."""
    names = list(networks)
    pred = model.predict_networks([networks[n] for n in names], accels)  # [N, A, 2]
    rows, skipped = [], 0
    for i, name in enumerate(names):
        for j, accel in enumerate(accels):
            sims = [simulated[(layer, accel)] for layer in networks[name]]
            if any(s is None for s in sims):
                skipped += 1
                continue
            sim = torch.tensor(sims, dtype=torch.float64).sum(0)
            row = {"network": name, "family": name.split("#")[0], **accel.to_dict()}
            for k, metric in enumerate(METRICS):
                simulated_k, predicted_k = float(sim[k]), float(pred[i, j, k])
                row |= {f"{metric}_simulated": simulated_k, f"{metric}_predicted": predicted_k,
                        f"{metric}_ape_pct": abs(predicted_k / simulated_k - 1) * 100}  # fmt: skip
            rows.append(row)
    summary: dict[str, Any] = {"networks": len(names), "accelerators": len(accels), "skipped": skipped}
    for family in ["all"] + sorted({r["family"] for r in rows}):
        summary[family] = family_errors([r for r in rows if family in ("all", r["family"])])
    summary["per_layer"] = layer_errors(model, simulated)
    return rows, summary


def family_errors(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def column(key: str) -> torch.Tensor:
        return torch.tensor([r[key] for r in rows])

    return {m: error_summary(column(f"{m}_predicted"), column(f"{m}_simulated")) for m in METRICS}


def layer_errors(
    model: CostEvaluator, simulated: dict[tuple[LayerShape, Accelerator], tuple[float, float] | None]
) -> dict[str, Any]:
    ok = [(pair, cost) for pair, cost in simulated.items() if cost is not None]
    lb = layer_batch([pair[0] for pair, _ in ok], model.space)
    with torch.no_grad():
        pred = model.pairs(lb, model.relax.hard([pair[1] for pair, _ in ok])).double().exp()
    actual = torch.tensor([cost for _, cost in ok], dtype=torch.float64)
    return {m: error_summary(pred[:, k], actual[:, k]) for k, m in enumerate(METRICS)}


def parity_plot(path: str | Path, rows: list[dict[str, Any]], title: str) -> None:
    """Predicted vs. simulated per metric on log axes, coloured by network family, with the y = x line
    and the +-10% band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    families = sorted({r["family"] for r in rows})
    fig, axes = plt.subplots(1, len(METRICS), figsize=(11, 5))
    for ax, metric in zip(axes, METRICS, strict=True):
        for family in families:
            chosen = [r for r in rows if r["family"] == family]
            ax.scatter([r[f"{metric}_simulated"] for r in chosen], [r[f"{metric}_predicted"] for r in chosen],
                       s=12, alpha=0.7, label=family)  # fmt: skip
        lo = min(min(r[f"{metric}_simulated"], r[f"{metric}_predicted"]) for r in rows) * 0.8
        hi = max(max(r[f"{metric}_simulated"], r[f"{metric}_predicted"]) for r in rows) * 1.25
        ax.plot([lo, hi], [lo, hi], "k-", lw=0.8, label="y = x")
        ax.fill_between([lo, hi], [lo * 0.9, hi * 0.9], [lo * 1.1, hi * 1.1], color="grey", alpha=0.15,
                        label="±10%")  # fmt: skip
        ax.set(xscale="log", yscale="log", xlim=(lo, hi), ylim=(lo, hi),
               xlabel=f"simulated {metric} ({'cycles' if metric == 'latency' else 'pJ'})",
               ylabel=f"predicted {metric}", title=metric)  # fmt: skip
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    atomic_write_bytes(path, lambda fh: fig.savefig(fh, format="png", dpi=110))
    plt.close(fig)
