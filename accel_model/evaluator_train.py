"""Training the evaluator on the simulator dataset, with reports on held-out accelerators, held-out
layer shapes and random rows.

Each split holds out ``test_fraction`` of the groups (accelerators, layer shapes or rows); a further
``val_fraction`` of the remaining accelerators picks the epoch. The committed model is trained the same way on
all rows (a random validation part picks its epoch); its test is the held-out networks
(``evaluator_report``), which no split here has seen.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from accel_model.dataset import read_table, row_to_pair
from accel_model.domain import Accelerator, LayerShape
from accel_model.evaluator import CostEvaluator, save_evaluator
from accel_model.layer_features import layer_batch
from accel_model.metrics import error_summary
from accel_model.space import DesignSpace

METRICS = ("latency", "energy")


@dataclass(frozen=True)
class EvaluatorSettings:
    hidden: int = 128
    depth: int = 6
    members: int = 5
    epochs: int = 200
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 1e-5
    val_fraction: float = 0.1
    test_fraction: float = 0.15
    seed: int = 0
    mapper: bool = True  # the loop mapper's outputs as inputs (``accel_model.loop_mapper``)
    mapper_base: bool = True  # latency as a residual over the mapper's latency (False: the analytic base)


@dataclass
class Samples:
    """The ok rows of a dataset table: pairs and log targets ``[N, 2]`` (cycles, pJ)."""

    layers: list[LayerShape]
    accels: list[Accelerator]
    log_targets: torch.Tensor

    def __len__(self) -> int:
        return len(self.layers)


def load_samples(paths: str | Path | Sequence[str | Path], space: DesignSpace) -> Samples:
    """The ok rows of one or more tables (a pair present in several is kept once)."""
    seen, layers, accels, targets = set(), [], [], []
    for path in [paths] if isinstance(paths, (str, Path)) else paths:
        for row in read_table(path):
            if row["status"] != "ok":
                continue
            layer, accel = row_to_pair(row)
            if (layer, accel) in seen:
                continue
            seen.add((layer, accel))
            space.check(accel)
            layers.append(layer)
            accels.append(accel)
            targets.append([float(row["latency_cycles"]), float(row["energy_pj"])])
    if not layers:
        raise ValueError(f"{paths}: no successful simulations in the table")
    return Samples(layers, accels, torch.tensor(targets).log())


def new_evaluator(space: DesignSpace, settings: EvaluatorSettings) -> CostEvaluator:
    """An untrained evaluator of the settings' shape, seeded by ``settings.seed``."""
    torch.manual_seed(settings.seed)
    return CostEvaluator(
        space, settings.hidden, settings.depth, settings.members, settings.mapper, settings.mapper_base
    )


def _group_split(keys: list, fraction: float, seed: int) -> torch.Tensor:
    groups = sorted(set(keys), key=repr)
    random.Random(seed).shuffle(groups)
    held = set(groups[: max(1, round(fraction * len(groups)))])
    return torch.tensor([k in held for k in keys])


SPLITS: dict[str, Callable[[Samples, float, int], torch.Tensor]] = {
    "unseen_accelerators": lambda s, f, seed: _group_split(s.accels, f, seed),
    "unseen_layers": lambda s, f, seed: _group_split(s.layers, f, seed),
    "random": lambda s, f, seed: _group_split(list(range(len(s))), f, seed),
}


def fit(
    model: CostEvaluator,
    samples: Samples,
    train_idx: torch.Tensor,
    settings: EvaluatorSettings,
    progress: bool = True,
    desc: str = "evaluator",
) -> dict[str, Any]:
    """Train on ``train_idx`` less a validation part (``val_fraction`` of its accelerators, so the epoch
    kept is the one that generalizes best to accelerators not trained on)."""
    gen = torch.Generator().manual_seed(settings.seed)
    accels = [samples.accels[i] for i in train_idx.tolist()]
    held = _group_split(accels, settings.val_fraction, settings.seed + 1)
    val_idx, fit_idx = train_idx[held], train_idx[~held]
    probs = model.relax.hard(samples.accels)
    x, base = model.pair_features(layer_batch(samples.layers, model.space), probs)
    with torch.no_grad():
        model.feature_mean.copy_(x[fit_idx].mean(0))
        model.feature_std.copy_(x[fit_idx].std(0).clamp_min(1e-3))
    y = samples.log_targets
    opt = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    steps = settings.epochs * -(-len(fit_idx) // settings.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, settings.lr, total_steps=steps, pct_start=0.05)
    best = (float("inf"), None, -1)
    bar = tqdm(range(settings.epochs), desc=desc, disable=not progress, leave=False)
    for epoch in bar:
        model.train()
        order = fit_idx[torch.randperm(len(fit_idx), generator=gen)]
        for batch in order.split(settings.batch_size):
            # each member fits the targets on its own (independent members make a useful ensemble)
            loss = (model.member_outputs(x[batch], base[batch]) - y[batch]).pow(2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        model.eval()
        with torch.no_grad():
            val = float(torch.nn.functional.mse_loss(model._head(x[val_idx], base[val_idx]), y[val_idx]))
        if val < best[0]:
            best = (val, {k: v.clone() for k, v in model.state_dict().items()}, epoch)
        bar.set_postfix(val_rmse_log=f"{val**0.5:.4f}", best_epoch=best[2])
    model.load_state_dict(best[1])
    model.eval()
    return {
        "best_epoch": best[2],
        "val_rmse_log": best[0] ** 0.5,
        "fit_rows": len(fit_idx),
        "val_rows": len(val_idx),
    }


def predict_rows(model: CostEvaluator, samples: Samples, idx: torch.Tensor) -> torch.Tensor:
    """``[len(idx), 2]`` predicted cycles and pJ for rows ``idx``."""
    lb = layer_batch([samples.layers[i] for i in idx.tolist()], model.space)
    with torch.no_grad():
        return model.pairs(lb, model.relax.hard([samples.accels[i] for i in idx.tolist()])).double().exp()


def row_errors(model: CostEvaluator, samples: Samples, idx: torch.Tensor) -> dict[str, dict]:
    pred, actual = predict_rows(model, samples, idx), samples.log_targets[idx].double().exp()
    return {m: error_summary(pred[:, k], actual[:, k]) for k, m in enumerate(METRICS)}


def split_report(
    samples: Samples,
    space: DesignSpace,
    settings: EvaluatorSettings,
    progress: bool = True,
    names: tuple[str, ...] = tuple(SPLITS),
) -> dict[str, Any]:
    """Per split: train on the rest, per-layer errors on the held-out part."""
    report = {}
    for name in names:
        split = SPLITS[name]
        held = split(samples, settings.test_fraction, settings.seed)
        model = new_evaluator(space, settings)
        info = fit(model, samples, torch.nonzero(~held).squeeze(1), settings, progress, desc=name)
        report[name] = info | {"test": row_errors(model, samples, torch.nonzero(held).squeeze(1))}
    return report


def train_evaluator(
    dataset: str | Path | Sequence[str | Path],
    settings: EvaluatorSettings = EvaluatorSettings(),
    space: DesignSpace | None = None,
    splits: bool = True,
    progress: bool = True,
    samples: Samples | None = None,
) -> tuple[CostEvaluator, dict[str, Any]]:
    """The final model (all rows) and its metadata (settings, split reports, timings). ``samples``: the
    rows of ``dataset`` already loaded (``load_samples``), e.g. to refuse a bad table before any work."""
    space = space or DesignSpace()
    start = time.time()
    samples = samples if samples is not None else load_samples(dataset, space)
    report = split_report(samples, space, settings, progress) if splits else {}
    model = new_evaluator(space, settings)
    info = fit(model, samples, torch.arange(len(samples)), settings, progress, desc="final")
    metadata = {
        "dataset": [str(p) for p in ([dataset] if isinstance(dataset, (str, Path)) else dataset)],
        "rows": len(samples),
        "settings": asdict(settings),
        "final": info,
        "splits": report,
        "train_seconds": round(time.time() - start, 1),
    }
    return model, metadata


def train_evaluator_file(
    samples: Samples,
    tables: Sequence[str | Path],
    out: str | Path,
    settings: EvaluatorSettings,
    splits: bool = True,
) -> tuple[Path, dict[str, Any]]:
    """``train_evaluator`` on ``tables`` (their rows loaded as ``samples``), then the evaluator written to
    ``out`` and its metadata beside it as JSON; returns (that JSON's path, the metadata)."""
    model, metadata = train_evaluator(list(tables), settings, splits=splits, samples=samples)
    save_evaluator(model, out, metadata)
    report = Path(out).with_suffix(".json")
    report.write_text(json.dumps(metadata, indent=1) + "\n")
    return report, metadata
