"""Train a child network from scratch: best-on-validation checkpoint, test accuracy reported once.

A checkpoint is one ``.pt`` file holding the ``state_dict``, the ``Arch``, the ``SearchSpace``, the
input/normalization facts and the training config, so ``load_checkpoint`` rebuilds the model alone.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from accel_model.files import atomic_write_bytes, clear_dir, load_torch_file
from nas.arch import Arch
from nas.data import Splits, augmentation_label, iterate_batches, num_batches
from nas.device import module_device, resolve_device
from nas.model import ChildNet, build_child
from nas.space import SearchSpace
from nas.user_model import USER_MODEL_KEY, build_user_model
from nas.zoo import build_zoo_model, traced_layer_shapes

OPTIMIZERS = ("sgd", "adamw")


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters. ``lr`` is the peak learning rate of a linear warm-up + cosine schedule."""

    epochs: int = 8
    batch_size: int = 128
    optimizer: str = "sgd"
    lr: float = 0.1
    weight_decay: float = 5e-5
    momentum: float = 0.9
    label_smoothing: float = 0.0
    warmup_epochs: float = 0.3
    augment: bool = True
    max_steps_per_epoch: int = 0  # 0: every batch of the training split; >0: the first that many
    channels_last: bool = True
    seed: int = 0
    threads: int = 0  # 0: leave torch's default
    device: str = "cpu"  # auto, cpu or cuda[:N] (nas.device)

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {list(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be >= 1")
        if self.max_steps_per_epoch < 0:
            raise ValueError(f"max_steps_per_epoch must be >= 0, got {self.max_steps_per_epoch}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        resolve_device(self.device)  # ValueError naming a device this machine cannot use


PROFILES: dict[str, TrainConfig] = {
    "quick": TrainConfig(epochs=7),
    "full": TrainConfig(epochs=30, label_smoothing=0.1),
    "short": TrainConfig(epochs=2),
    # smoke: a pipeline check, not a model (a one-target sweep within 2 minutes on 2 cores)
    "smoke": TrainConfig(epochs=1, batch_size=64, augment=False, max_steps_per_epoch=60),
}


def augmentation_by_profile(flips: bool, image_size: int) -> str:
    """Which training profiles augment, and how, for a dataset (``flips``: its images may be mirrored)."""
    augmenting = [name for name, cfg in PROFILES.items() if cfg.augment]
    plain = [name for name, cfg in PROFILES.items() if not cfg.augment]
    return (f"augmentation: {', '.join(augmenting)}: {augmentation_label(flips, image_size)}; "
            f"{', '.join(plain)}: none")  # fmt: skip


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    # No weight decay on BatchNorm and bias parameters (the usual practice for mobile nets).
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=True)
    return torch.optim.AdamW(groups, lr=cfg.lr)


def lr_at(step: int, total: int, warmup: int, peak: float) -> float:
    """Linear warm-up to ``peak`` over ``warmup`` steps, then cosine decay to 0 at ``total``."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * peak * (1 + math.cos(math.pi * min(1.0, progress)))


@torch.no_grad()
def evaluate(
    model: nn.Module, x, y, splits: Splits, channels_last: bool = True, batch_size: int = 500,
    progress: str | None = None,
) -> dict:  # fmt: skip
    """Accuracy (fraction) and mean cross-entropy of ``model`` on uint8 images ``x`` (``progress``: the
    label of a bar on stderr)."""
    model.eval()
    correct, loss_sum, device = 0, 0.0, module_device(model)
    batches = iterate_batches(x, y, batch_size, splits.mean, splits.std, channels_last=channels_last)
    total = num_batches(len(y), batch_size)
    for xb, yb in tqdm(batches, total=total, desc=progress, disable=progress is None, leave=False):
        xb, yb = xb.to(device), yb.to(device)
        logits = model(xb)
        loss_sum += F.cross_entropy(logits, yb, reduction="sum").item()
        correct += (logits.argmax(1) == yb).sum().item()
    return {"acc": correct / len(y), "loss": loss_sum / len(y)}


def model_identity(model: nn.Module) -> dict[str, Any]:
    """What a checkpoint needs to rebuild ``model``: a search-space child's Arch and space, or a zoo
    model's name."""
    if isinstance(model, ChildNet):
        return {"arch": model.arch.to_dict(), "space": model.space.to_dict()}
    return {"model": model.zoo_name}


def save_checkpoint(
    path: Path, model: nn.Module, splits: Splits, cfg: TrainConfig, extra: dict | None = None
):
    payload = {
        "state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
        **model_identity(model),
        "in_channels": splits.channels,
        "num_classes": splits.num_classes,
        "image_size": splits.image_size,
        "mean": list(splits.mean),
        "std": list(splits.std),
        "config": asdict(cfg),
        **(extra or {}),
    }
    atomic_write_bytes(Path(path), lambda fh: torch.save(payload, fh))


def build_from_meta(meta: dict[str, Any]) -> nn.Module:
    """A freshly built (untrained) model of the kind a checkpoint's metadata names."""
    if USER_MODEL_KEY in meta:
        return build_user_model(meta[USER_MODEL_KEY])
    if "model" in meta:
        return build_zoo_model(meta["model"], meta["in_channels"], meta["num_classes"])
    space = SearchSpace.from_dict(meta["space"])
    return build_child(space, Arch.from_dict(meta["arch"]), meta["in_channels"], meta["num_classes"])


def load_checkpoint(path: str | Path) -> tuple[ChildNet, dict[str, Any]]:
    """Rebuild the model from the checkpoint file alone; returns (model in eval mode, metadata)."""
    payload = load_torch_file(path, "checkpoint")
    if not isinstance(payload, dict) or "state_dict" not in payload or not ({"arch", "model"} & set(payload)):
        raise ValueError(f"{path}: not a coexplore checkpoint (written by `coexplore train`)")
    model = build_from_meta(payload)
    model.load_state_dict(payload["state_dict"])
    model.eval()
    meta = {k: v for k, v in payload.items() if k != "state_dict"}
    return model, meta


def evaluate_splits(model: nn.Module, splits: Splits, progress: bool = False) -> dict[str, float]:
    """Accuracy (fraction) on the validation and the test split (``progress``: bars on stderr)."""
    return {
        name: evaluate(model, x, y, splits, channels_last=False, progress=name if progress else None)["acc"]
        for name, x, y in (("val", splits.x_val, splits.y_val), ("test", splits.x_test, splits.y_test))
    }


def train_network(arch: Arch | None, model_name: str | None, splits: Splits, cfg: TrainConfig,
                  out_dir: str | Path, progress: bool = True) -> dict:  # fmt: skip
    """Train the search-space child ``arch`` (``arch.json`` written beside it) or the zoo model
    ``model_name`` from scratch into the emptied ``out_dir`` (see ``train_model``)."""

    out_dir = Path(out_dir)
    clear_dir(out_dir)
    if model_name is None:
        (out_dir / "arch.json").write_text(arch.to_json() + "\n")
        return train_child(SearchSpace(), arch, splits, cfg, out_dir, progress)
    torch.manual_seed(cfg.seed)
    return train_model(build_zoo_model(model_name, splits.channels, splits.num_classes), splits, cfg, out_dir,
                       progress)  # fmt: skip


def train_child(
    space: SearchSpace,
    arch: Arch,
    splits: Splits,
    cfg: TrainConfig,
    out_dir: str | Path,
    progress: bool = True,
) -> dict:
    """Train the child ``arch`` from scratch (see ``train_model``)."""
    torch.manual_seed(cfg.seed)
    return train_model(
        build_child(space, arch, splits.channels, splits.num_classes), splits, cfg, out_dir, progress
    )


def train_model(
    model: nn.Module, splits: Splits, cfg: TrainConfig, out_dir: str | Path, progress: bool = True
) -> dict:
    """Train ``model`` (a search-space child or a zoo model, freshly built); write ``best.pt`` (best
    validation accuracy), ``metrics.jsonl`` (one line per epoch) and ``result.json`` into ``out_dir``.
    Returns the result dict (test accuracy of best.pt)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    device = resolve_device(cfg.device)
    model = model.to(device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = make_optimizer(model, cfg)
    steps_per_epoch = num_batches(len(splits.y_train), cfg.batch_size, drop_last=True)
    if cfg.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, cfg.max_steps_per_epoch)
    total, warmup = cfg.epochs * steps_per_epoch, max(1, round(cfg.warmup_epochs * steps_per_epoch))
    metrics_path, best_path = out_dir / "metrics.jsonl", out_dir / "best.pt"
    metrics_path.write_text("")
    best, step, start = {"val_acc": -1.0}, 0, time.perf_counter()
    for epoch in range(cfg.epochs):
        model.train()
        batches = iterate_batches(
            splits.x_train, splits.y_train, cfg.batch_size, splits.mean, splits.std,
            shuffle=True, augment=cfg.augment, flip=splits.flips, seed=cfg.seed * 1000 + epoch,
            channels_last=cfg.channels_last, drop_last=True,
        )  # fmt: skip
        bar = tqdm(
            itertools.islice(batches, steps_per_epoch),
            total=steps_per_epoch,
            desc=f"epoch {epoch + 1}/{cfg.epochs}",
            disable=not progress,
        )
        loss_sum = 0.0
        for xb, yb in bar:
            xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
            for group in opt.param_groups:
                group["lr"] = lr_at(step, total, warmup, cfg.lr)
            loss = F.cross_entropy(model(xb), yb, label_smoothing=cfg.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.item()
            step += 1
            bar.set_postfix(loss=f"{loss.item():.3f}")
        val = evaluate(model, splits.x_val, splits.y_val, splits, cfg.channels_last)
        record = {
            "epoch": epoch + 1,
            "steps": steps_per_epoch,
            "train_loss": loss_sum / steps_per_epoch,
            "val_acc": val["acc"],
            "val_loss": val["loss"],
            "lr": opt.param_groups[0]["lr"],
            "elapsed_s": time.perf_counter() - start,
        }
        with metrics_path.open("a") as fh:
            fh.write(json.dumps(record) + "\n")
        if progress:
            tqdm.write(f"epoch {epoch + 1}: train loss {record['train_loss']:.4f}  val acc {val['acc']:.4f}")
        if val["acc"] > best["val_acc"]:
            best = record
            save_checkpoint(best_path, model, splits, cfg, {"epoch": epoch + 1, "val_acc": val["acc"]})
    best_model, _ = load_checkpoint(best_path)
    best_model = best_model.to(device)
    if cfg.channels_last:
        best_model = best_model.to(memory_format=torch.channels_last)
    test = evaluate(best_model, splits.x_test, splits.y_test, splits, cfg.channels_last)
    shapes = (best_model.layer_shapes(splits.image_size) if isinstance(best_model, ChildNet)
              else traced_layer_shapes(best_model, splits.channels, splits.image_size))  # fmt: skip
    result = {
        **{k: v for k, v in model_identity(best_model).items() if k != "space"},
        "best_epoch": best["epoch"],
        "val_acc": best["val_acc"],
        "test_acc": test["acc"],
        "train_time_s": time.perf_counter() - start,
        "params": sum(p.numel() for p in model.parameters()),
        "macs": sum(s.macs for s in shapes),
        "checkpoint": str(best_path),
        "config": asdict(cfg),
    }
    (out_dir / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def profile_config(profile: str, **overrides: Any) -> TrainConfig:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; allowed: {sorted(PROFILES)}")
    return replace(PROFILES[profile], **{k: v for k, v in overrides.items() if v is not None})
