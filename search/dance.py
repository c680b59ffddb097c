"""DANCE co-exploration: a supernet's weights and its architecture parameters alpha are trained in
alternation; alpha's loss adds the evaluator network's differentiable hardware cost of the expected
architecture on the accelerator that the hardware side proposes for it.

    weight step (train split):  CE(supernet_b(x, sampled paths))
    arch step (validation split): CE(supernet_b(x, sampled paths)) + lam * log cost(softmax(alpha), accel_b)

``b`` is the bit width, a search variable of its own (``search.precision.BitsParams``): the supernet
runs fake-quantized at ``b`` in both steps and the accelerator's bits field is ``b``, so a narrower width
is cheaper in the cost and dearer in the cross-entropy, and the bits logits learn from both.

``log cost`` is the weighted sum of log metrics (``accel_model.hwgen.log_objective``), so ``lam`` means
the same for every objective: +1 in log EDAP costs as much as ``1/lam`` nats of cross-entropy. The
accelerator comes from the frozen hardware-generation network (DANCE), or from free accelerator logits
trained with alpha (``hw="free"``); either way a Gumbel-softmax straight-through sample, so the cost is
that of a concrete accelerator for the sampled bit width (the generator proposes the other fields given
the architecture and the bits; free logits search the other fields, the bits logits the bits).
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from accel_model.constraints import Constraint
from accel_model.evaluator import CostEvaluator
from accel_model.expected_cost import CostTemplate, expected_cost
from accel_model.hwgen import FreeAccelerator, hardware_sample, log_objective
from nas.data import Splits, iterate_batches
from nas.space import SearchSpace
from nas.supernet import (
    SAMPLING,
    ArchParams,
    Supernet,
    arch_paths,
    batch_statistics,
    sample_paths,
    uniform_paths,
)
from search.hdx import DeltaSchedule, constrained_gradients, current_margins
from search.precision import BitsParams, at_precision, make_quantization_aware

HW_MODES = ("generator", "free")
CONSTRAINT_MODES = ("hdx", "penalty")


@dataclass(frozen=True)
class SearchConfig:
    objective: str = "edap"
    lam: float = 0.5
    epochs: int = 4
    warmup_epochs: int = 1
    steps_per_epoch: int = 120  # weight steps per epoch; each is followed by one arch step after warm-up
    # (quick: 120, so that `make demo`, whose search pays for precision, stays within 20 minutes on 2 cores)
    batch_size: int = 128
    weight_lr: float = 0.05
    arch_lr: float = 3e-3
    hw: str = "generator"
    hw_lr: float = 0.05
    sampling: str = "binary"
    paths: int = 1
    tau: tuple[float, float] = (2.0, 0.3)  # Gumbel temperature of the accelerator, annealed per epoch
    seed: int = 0
    constraints: tuple[Constraint, ...] = ()  # hard constraints (search.hdx)
    constraint_mode: str = "hdx"  # hdx: gradient manipulation; penalty: lam_c * sum max(0, value/bound - 1)
    penalty: float = 1.0  # lam_c of the soft-penalty baseline
    channels_last: bool = True  # NHWC convolutions: ~1.3x faster on CPU (benchmarks/train_throughput.py)
    quantization_aware: bool = True  # the supernet runs fake-quantized at the searched bit width
    trajectory_val_images: int | None = None  # the first N validation images score each trajectory row
    # (None: all of them; smoke: 1,000, which keeps a one-target smoke sweep within 2 minutes)

    def __post_init__(self) -> None:
        if self.sampling not in SAMPLING:
            raise ValueError(f"sampling must be one of {list(SAMPLING)}, got {self.sampling!r}")
        if self.hw not in HW_MODES:
            raise ValueError(f"hw must be one of {list(HW_MODES)}, got {self.hw!r}")
        if self.lam < 0 or self.epochs < 1 or not 0 <= self.warmup_epochs < self.epochs:
            raise ValueError("need lam >= 0, epochs >= 1 and 0 <= warmup_epochs < epochs")
        if self.constraint_mode not in CONSTRAINT_MODES:
            raise ValueError(
                f"constraint mode must be one of {list(CONSTRAINT_MODES)}, got {self.constraint_mode!r}"
            )
        if self.steps_per_epoch < 1 or self.paths not in (1, 2):
            raise ValueError("need steps_per_epoch >= 1 and paths 1 or 2")
        if self.trajectory_val_images is not None and self.trajectory_val_images < 1:
            raise ValueError("need trajectory_val_images >= 1 (or None: every validation image)")


SEARCH_PROFILES = {
    "quick": SearchConfig(),
    "full": SearchConfig(epochs=30, warmup_epochs=10, steps_per_epoch=430, paths=2),
    "short": SearchConfig(epochs=3, warmup_epochs=1, steps_per_epoch=80),  # the method table's runs
    "smoke": SearchConfig(
        epochs=2, warmup_epochs=1, steps_per_epoch=2, batch_size=16, trajectory_val_images=1000
    ),
}


@dataclass
class SearchState:
    supernet: Supernet
    alpha: ArchParams
    bits: BitsParams
    hardware: nn.Module
    template: CostTemplate
    evaluator: CostEvaluator
    objective: dict[str, float]
    constraints: tuple[Constraint, ...] = ()
    schedule: DeltaSchedule = field(default_factory=DeltaSchedule)
    margins: dict[str, float] = field(default_factory=dict)  # of the last arch step, log units


def hardware_cost(state: SearchState, bits: torch.Tensor, tau: float,
                  gen: torch.Generator) -> tuple[torch.Tensor, dict]:  # fmt: skip
    """Differentiable log objective of softmax(alpha) on a straight-through accelerator sample whose
    bits field is the (straight-through) bit-width sample ``bits``."""
    probs = state.alpha.probs().masked_fill(~state.alpha.allowed, 0.0)[None]
    accel = hardware_sample(state.hardware, state.evaluator, probs, bits[None], tau, gen)
    costs = expected_cost(state.evaluator, state.template, probs, accel)
    return log_objective(costs, state.objective).mean(), costs


@torch.no_grad()
def derived_point(state: SearchState) -> dict:
    """The argmax architecture and bit width on the hardware side's most likely accelerator for them,
    with predicted cost."""
    arch = state.alpha.derive()
    onehot = state.template.one_hot([arch.ops])
    bits = state.bits.one_hot(state.bits.derive())[None]
    accel = state.evaluator.relax.argmax(state.hardware(onehot, bits))[0]
    costs = expected_cost(state.evaluator, state.template, onehot, state.evaluator.relax.hard([accel]))
    lat, energy, area = (float(costs[k][0]) for k in ("latency_cycles", "energy_pj", "area_mm2"))
    return {"arch": arch, "accelerator": accel, "latency_cycles": lat, "energy_pj": energy, "area_mm2": area,
            "log_objective": float(log_objective(costs, state.objective)[0])}  # fmt: skip


@torch.no_grad()
def path_accuracy(supernet: Supernet, paths, x, y, splits: Splits, batch_size: int = 500,
                  channels_last: bool = False, bits: torch.Tensor | None = None) -> float:  # fmt: skip
    """Accuracy of the supernet through ``paths`` (at the one-hot bit width ``bits`` when given)."""
    correct = 0
    with batch_statistics(supernet), at_precision(supernet, bits):
        for xb, yb in iterate_batches(x, y, batch_size, splits.mean, splits.std, channels_last=channels_last):
            correct += (supernet(xb, paths).argmax(1) == yb).sum().item()
    return correct / len(y)


def run_search(
    space: SearchSpace,
    splits: Splits,
    cfg: SearchConfig,
    evaluator: CostEvaluator,
    template: CostTemplate,
    objective: dict[str, float],
    hardware: nn.Module | None,
    trajectory_path: Path | None = None,
    progress: bool = True,
    on_epoch: Callable[[dict], None] | None = None,
) -> tuple[SearchState, list[dict]]:
    """The co-exploration loop; returns the final state and one trajectory row per epoch (also appended
    to ``trajectory_path`` as CSV when given). ``hardware`` None means free accelerator logits."""
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    state, opts = build_search(space, splits.channels, splits.num_classes, cfg, evaluator, template,
                               objective, hardware)  # fmt: skip
    train = endless_batches(splits.x_train, splits.y_train, splits, cfg.batch_size, cfg.seed * 1000, True,
                            cfg.channels_last)  # fmt: skip
    val = endless_batches(splits.x_val, splits.y_val, splits, cfg.batch_size, cfg.seed * 1000 + 500, False,
                          cfg.channels_last)  # fmt: skip
    total = cfg.epochs * cfg.steps_per_epoch
    rows, start, step = [], time.perf_counter(), 0
    for epoch in range(cfg.epochs):
        searching = epoch >= cfg.warmup_epochs
        tau = cfg.tau[0] * (cfg.tau[1] / cfg.tau[0]) ** (epoch / max(cfg.epochs - 1, 1))
        desc = f"{'search' if searching else 'warm-up'} epoch {epoch + 1}/{cfg.epochs}"
        for _ in tqdm(range(cfg.steps_per_epoch), desc=desc, disable=not progress, leave=False):
            with torch.no_grad():
                if searching:
                    paths = sample_paths(state.alpha, cfg.sampling, cfg.paths, tau, gen)
                else:
                    paths = uniform_paths(space, gen)
                bits = state.bits.draw(gen, uniform=not searching) if cfg.quantization_aware else None
            for group in opts.weights.param_groups:
                group["lr"] = 0.5 * cfg.weight_lr * (1 + math.cos(math.pi * step / total))
            weight_step(state, opts.weights, *next(train), paths, bits)
            step += 1
            if searching:
                arch_step(state, cfg, opts.alpha, opts.hardware, *next(val), tau, gen)
        row = trajectory_row(state, splits, epoch, searching, time.perf_counter() - start, cfg.channels_last,
                             cfg.trajectory_val_images)  # fmt: skip
        rows.append(row)
        if on_epoch:
            on_epoch(row)  # may add columns (the same ones every epoch)
        if trajectory_path:
            append_csv(trajectory_path, row)
    return state, rows


@dataclass
class SearchOptimizers:
    weights: torch.optim.Optimizer
    alpha: torch.optim.Optimizer
    hardware: torch.optim.Optimizer | None  # free accelerator logits only


def build_search(space: SearchSpace, in_channels: int, num_classes: int, cfg: SearchConfig,
                 evaluator: CostEvaluator, template: CostTemplate, objective: dict[str, float],
                 hardware: nn.Module | None) -> tuple[SearchState, SearchOptimizers]:  # fmt: skip
    """A fresh supernet, alpha and hardware side with their optimizers (``hardware`` None: free logits)."""
    supernet = Supernet(space, in_channels, num_classes)
    choices = evaluator.relax.space.choices("bits")
    if cfg.quantization_aware:
        make_quantization_aware(supernet, choices)
    if cfg.channels_last:
        supernet = supernet.to(memory_format=torch.channels_last)
    if hardware is None:
        hardware = FreeAccelerator(evaluator.relax.sizes)
    evaluator.requires_grad_(False)
    bits = BitsParams(choices, fixed=getattr(hardware, "fixed_bits", None))
    state = SearchState(
        supernet, ArchParams(space), bits, hardware, template, evaluator, objective, cfg.constraints
    )
    w_opt = torch.optim.SGD(
        supernet.parameters(), lr=cfg.weight_lr, momentum=0.9, nesterov=True, weight_decay=4e-5
    )
    searched = [*state.alpha.parameters(), *(p for p in bits.parameters() if p.requires_grad)]
    a_opt = torch.optim.Adam(searched, lr=cfg.arch_lr, betas=(0.5, 0.999))
    hw_params = [p for p in hardware.parameters() if p.requires_grad] if cfg.hw == "free" else []
    h_opt = torch.optim.Adam(hw_params, lr=cfg.hw_lr) if hw_params else None
    return state, SearchOptimizers(w_opt, a_opt, h_opt)


def weight_step(state: SearchState, opt: torch.optim.Optimizer, xb, yb, paths,
                bits: torch.Tensor | None = None) -> float:  # fmt: skip
    """One SGD step of the supernet's weights on a training batch through ``paths`` (at the one-hot
    bit width ``bits``; None: full precision)."""
    state.supernet.train()
    with at_precision(state.supernet, bits):
        loss = F.cross_entropy(state.supernet(xb, paths), yb)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return float(loss.detach())


def endless_batches(x, y, splits: Splits, batch_size: int, seed: int, augment: bool,
                    channels_last: bool = False):  # fmt: skip
    """Shuffled batches forever, reshuffled (new seed) at every pass over the data. A split smaller than
    a batch gives batches of the whole split (drop_last would otherwise yield nothing, forever)."""
    if len(x) == 0:
        raise ValueError("a data split is empty")
    batch_size = min(batch_size, len(x))
    rounds = 0
    while True:
        yield from iterate_batches(x, y, batch_size, splits.mean, splits.std, shuffle=True,
                                   augment=augment, flip=splits.flips, seed=seed + rounds,
                                   channels_last=channels_last,
                                   drop_last=True)  # fmt: skip
        rounds += 1


def arch_loss(state: SearchState, cfg: SearchConfig, xv, yv, tau, gen,
              bits: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, dict]:  # fmt: skip
    """(cross-entropy, log cost, costs) of the architecture step on a validation batch: sampled paths,
    the supernet and the accelerator both at the bit width ``bits`` (default: a straight-through sample
    of the bits logits)."""
    paths = sample_paths(state.alpha, cfg.sampling, cfg.paths, tau, gen)
    if bits is None:
        bits = state.bits.sample(tau, gen)
    quantized = bits if hasattr(state.supernet, "precision") else None  # cfg.quantization_aware built it
    state.supernet.requires_grad_(False)  # the weights learn on the train split only: skip their grads
    try:
        # BN of the sampled child, not the mix of all paths
        with batch_statistics(state.supernet), at_precision(state.supernet, quantized):
            ce = F.cross_entropy(state.supernet(xv, paths), yv)
    finally:
        state.supernet.requires_grad_(True)
    cost, costs = hardware_cost(state, bits, tau, gen)
    return ce, cost, costs


def arch_step(state: SearchState, cfg: SearchConfig, a_opt, h_opt, xv, yv, tau, gen) -> None:
    """One step of alpha, the bits logits (and free accelerator logits) on a validation batch:
    CE + lam * log cost."""
    ce, cost, costs = arch_loss(state, cfg, xv, yv, tau, gen)
    loss = ce + cfg.lam * cost
    if cfg.constraints and cfg.constraint_mode == "penalty":
        loss = loss + cfg.penalty * sum(F.relu(costs[c.key].mean() / c.bound - 1) for c in cfg.constraints)
    a_opt.zero_grad(set_to_none=True)
    if h_opt:
        h_opt.zero_grad(set_to_none=True)
    if cfg.constraints and cfg.constraint_mode == "hdx":
        params = [
            p for group in a_opt.param_groups + (h_opt.param_groups if h_opt else []) for p in group["params"]
        ]
        derived = derived_point(state)  # the design the search would return now decides "violated"
        margins = {c.name: float(c.margin(derived)) for c in cfg.constraints}
        grads, state.margins = constrained_gradients(
            loss, costs, cfg.constraints, state.schedule, params, margins
        )
        for p, g in zip(params, grads, strict=True):
            p.grad = g
    else:
        loss.backward()
        state.margins = current_margins(costs, cfg.constraints)
    a_opt.step()
    if h_opt:
        h_opt.step()


def trajectory_row(state: SearchState, splits: Splits, epoch: int, searching: bool, elapsed: float,
                   channels_last: bool = False, val_images: int | None = None) -> dict:  # fmt: skip
    point = derived_point(state)
    paths = arch_paths(state.supernet.space, point["arch"])
    bits = state.bits.one_hot(point["accelerator"].bits)
    acc = path_accuracy(state.supernet, paths, splits.x_val[:val_images], splits.y_val[:val_images], splits,
                        channels_last=channels_last,
                        bits=bits if hasattr(state.supernet, "precision") else None)  # fmt: skip
    return {
        "epoch": epoch + 1,
        "phase": "search" if searching else "warmup",
        "alpha_entropy": round(state.alpha.entropy(), 5),
        "bits_probs": ",".join(f"{p:.4f}" for p in state.bits.probs().tolist()),
        "arch": ",".join(point["arch"].ops),
        "accelerator": json.dumps(point["accelerator"].to_dict()),
        "pred_latency_cycles": point["latency_cycles"],
        "pred_energy_pj": point["energy_pj"],
        "pred_area_mm2": point["area_mm2"],
        "pred_log_objective": point["log_objective"],
        "val_acc_supernet": acc,
        **{f"pred_margin_{c.name}": round(float(c.margin(point)), 4) for c in state.constraints},
        "elapsed_s": round(elapsed, 2),
    }


def append_csv(path: Path, row: dict) -> None:
    new = not path.exists()
    with path.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def config_dict(cfg: SearchConfig) -> dict:
    return asdict(cfg)
