"""Baselines for the co-exploration, on the same data, evaluator and budget as DANCE (a registry).

- ``two-stage``: accuracy-only NAS (the same supernet search with lam = 0, in full precision), then the
  best accelerator for the found network, bits included: enumerate the design space with the evaluator,
  simulate the top k, keep the simulator's best. The design is then scored at those bits like any other
  (the classic two-stage failure: the network was chosen for an accuracy it does not keep).
- ``hw-first``: the best accelerator (same procedure, bits included) for the default network, then
  hardware-aware NAS with that accelerator and its bit width fixed.
- ``optuna``: black-box co-search, Optuna's NSGA-II over (Arch, Accelerator) with a short-training proxy
  accuracy measured at the trial's bits and the simulated log objective, for a wall-clock budget (by
  default the DANCE search time); the trial that maximizes ``log(proxy accuracy) - lam * log objective``
  is returned (DANCE's loss with -log accuracy standing in for the cross-entropy).

Each returns ``(arch, accelerator, facts)``; ``search.derive.verify_design`` then retrains and simulates.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from accel_model.area import accelerator_area
from accel_model.domain import Accelerator
from accel_model.evaluator import CostEvaluator
from accel_model.expected_cost import CostTemplate
from accel_model.hwgen import FixedAccelerator, enumerate_space
from accel_model.registry import Registry
from accel_model.space import FIELDS
from nas.arch import Arch
from nas.data import Splits, iterate_batches
from nas.deployment import InputSize, deployed_layers
from nas.model import build_child
from nas.space import SearchSpace
from nas.train import evaluate, lr_at, make_optimizer, profile_config
from search.dance import SearchConfig, run_search
from search.derive import simulated_cost
from search.precision import at_precision, make_quantization_aware


@dataclass
class BaselineContext:
    space: SearchSpace
    splits: Splits
    cfg: SearchConfig
    evaluator: CostEvaluator
    template: CostTemplate
    objective: dict[str, float]
    trajectory: Path | None = None
    workers: int = 2
    top_k: int = 10
    budget_s: float = 300.0  # optuna's wall-clock
    proxy_steps: int = 60
    progress: bool = False
    deploy: InputSize | None = None  # the input the costs are of (None: the proxy dataset's)


Baseline = Callable[[BaselineContext], tuple[Arch, Accelerator, dict[str, Any]]]
BASELINES: Registry[Baseline] = Registry("baseline")
register_baseline = BASELINES.register


def simulated_log_objective(ctx: BaselineContext, arch: Arch, accel: Accelerator) -> float:
    deploy = ctx.deploy or InputSize.of_splits(ctx.splits)
    layers = deployed_layers(ctx.space, arch, deploy, ctx.splits.num_classes)
    cost = simulated_cost(layers, accel, ctx.workers)
    totals = {"latency": cost.latency_cycles, "energy": cost.energy_pj, "area": accelerator_area(accel)}
    return sum(w * math.log(totals[m]) for m, w in ctx.objective.items())


def best_verified_accelerator(ctx: BaselineContext, arch: Arch) -> tuple[Accelerator, dict[str, Any]]:
    """The evaluator's top k accelerators for ``arch`` over the whole design space, re-ranked by ZigZag."""
    probs = ctx.template.one_hot([arch.ops])
    top = [a for a, _ in enumerate_space(ctx.evaluator, ctx.template, probs, ctx.objective, ctx.top_k)]
    scores = {accel: simulated_log_objective(ctx, arch, accel) for accel in top}
    best = min(scores, key=scores.get)
    return best, {"verified_top_k": len(top), "evaluator_rank_of_best": top.index(best) + 1}


@register_baseline("two-stage")
def two_stage(ctx: BaselineContext):
    cfg = replace(ctx.cfg, lam=0.0, hw="free", quantization_aware=False)
    state, _ = run_search(ctx.space, ctx.splits, cfg, ctx.evaluator,
                          ctx.template, ctx.objective, None, ctx.trajectory, ctx.progress)  # fmt: skip
    arch = state.alpha.derive()
    accel, facts = best_verified_accelerator(ctx, arch)
    return arch, accel, facts


@register_baseline("hw-first")
def hardware_first(ctx: BaselineContext):
    accel, facts = best_verified_accelerator(ctx, ctx.space.default_arch())
    fixed = FixedAccelerator(ctx.evaluator.relax, accel)
    state, _ = run_search(ctx.space, ctx.splits, replace(ctx.cfg, hw="generator"), ctx.evaluator,
                          ctx.template, ctx.objective, fixed, ctx.trajectory, ctx.progress)  # fmt: skip
    return state.alpha.derive(), accel, facts


def proxy_accuracy(ctx: BaselineContext, arch: Arch, seed: int, bits: int | None = None) -> float:
    """Validation accuracy after ``proxy_steps`` SGD steps from scratch (a cheap, noisy ranking signal),
    fake-quantized at ``bits`` (weights per channel, activations per batch tensor) when given."""
    torch.manual_seed(seed)
    splits, cfg = ctx.splits, profile_config("quick", seed=seed)
    model = build_child(ctx.space, arch, splits.channels, splits.num_classes)
    opt = make_optimizer(model, cfg)
    batches = iterate_batches(splits.x_train, splits.y_train, cfg.batch_size, splits.mean, splits.std,
                              shuffle=True, augment=True, flip=splits.flips, seed=seed,
                              drop_last=True)  # fmt: skip
    model.train()
    for step, (xb, yb) in zip(range(ctx.proxy_steps), batches, strict=False):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, ctx.proxy_steps, max(1, ctx.proxy_steps // 10), cfg.lr)
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    if bits is None:
        return evaluate(model, splits.x_val, splits.y_val, splits, channels_last=False)["acc"]
    choices = ctx.evaluator.space.choices("bits")
    make_quantization_aware(model, choices)
    with at_precision(model, F.one_hot(torch.tensor(choices.index(bits)), len(choices)).float()):
        return evaluate(model, splits.x_val, splits.y_val, splits, channels_last=False)["acc"]


def pick_trial(trials: list[dict[str, Any]], lam: float) -> dict[str, Any]:
    """DANCE's trade-off on measured values: maximize ``log(acc) - lam * log objective``."""
    return max(trials, key=lambda t: math.log(max(t["proxy_acc"], 1e-6)) - lam * t["log_objective"])


@register_baseline("optuna")
def optuna_search(ctx: BaselineContext):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    design = ctx.evaluator.space
    study = optuna.create_study(directions=["maximize", "minimize"],
                                sampler=optuna.samplers.NSGAIISampler(seed=ctx.cfg.seed))  # fmt: skip
    trials: list[dict[str, Any]] = []

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        ops = tuple(trial.suggest_categorical(f"layer{s.index}", s.allowed_ops) for s in ctx.space.slots())
        idx = tuple(
            trial.suggest_categorical(name, list(range(len(design.choices(name))))) for name in FIELDS
        )
        arch, accel = Arch(ops), design.from_indices(idx)
        acc = proxy_accuracy(ctx, arch, ctx.cfg.seed + trial.number, accel.bits)
        log_obj = simulated_log_objective(ctx, arch, accel)
        trials.append({"arch": arch, "accel": accel, "proxy_acc": acc, "log_objective": log_obj})
        return acc, log_obj

    start = time.perf_counter()
    study.optimize(objective, timeout=ctx.budget_s, show_progress_bar=ctx.progress)
    if not trials:
        raise RuntimeError("optuna finished no trial within the budget")
    best = pick_trial(trials, ctx.cfg.lam)
    return best["arch"], best["accel"], {"trials": len(trials), "optuna_time_s": time.perf_counter() - start}
