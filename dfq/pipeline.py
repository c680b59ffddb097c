"""One data-free quantization run: quantize a teacher, calibrate on a source, optionally fine-tune,
compare with the teacher on held-out images; save and reload the quantized network.

File format (``torch.save`` of a dict, ``weights_only`` loadable): ``format``, ``state_dict`` of the
fake-quantized student (with each layer's ``weight_scale``/``weight_zero_point`` when fine-tuning froze
its weight grid), ``spec`` (QuantSpec fields), ``teacher`` (the checkpoint metadata that
``nas.train.load_checkpoint`` stores: arch, space, input facts) and ``run`` (method, settings, seed).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from accel_model.files import atomic_write_bytes, load_torch_file
from dfq.finetune import finetune
from dfq.quant_model import QuantSpec, calibrate, quantize_model
from dfq.settings import DFQSettings
from dfq.sources.base import Source
from nas.data import iterate_batches, num_batches
from nas.device import module_device

QUANTIZED_FORMAT = "coexplore-quantized-v1"


def quantize_with_source(
    teacher: nn.Module,
    spec: QuantSpec,
    source: Source,
    finetune_name: str,
    settings: DFQSettings,
    seed: int = 0,
    progress: bool = False,
    on_step: Callable[[nn.Module, int, float], None] | None = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """The quantized student and timings/loss facts of the run (source preparation not included).
    ``on_step(student, k, loss)`` is called after each fine-tuning step k."""
    start = time.perf_counter()
    student = quantize_model(teacher, spec)
    gen = torch.Generator().manual_seed(seed + 104729)
    device = module_device(student)
    batches = (source.sample(settings.batch_size, gen)[0].to(device) for _ in range(settings.calib_batches))
    calibrate(student, batches)
    calibrated = time.perf_counter()
    history = finetune(student, teacher, source, finetune_name, settings, seed, progress, on_step)
    done = time.perf_counter()
    student.eval()
    info = {
        "calibrate_time_s": calibrated - start,
        "finetune_time_s": done - calibrated,
        "finetune_loss_first": history[0] if history else None,
        "finetune_loss_last": sum(history[-20:]) / len(history[-20:]) if history else None,
    }
    return student, info


@torch.no_grad()
def compare_with_teacher(
    student: nn.Module,
    teacher: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    batch_size: int = 500,
    progress: bool = False,
) -> dict[str, float]:
    """Top-1 accuracy of teacher and student on uint8 ``images`` and how often their top-1 agree
    (``progress``: a bar on stderr)."""
    student.eval()
    teacher.eval()
    fp = q = agree = 0
    device = module_device(teacher)
    batches = iterate_batches(images, labels, batch_size, mean, std)
    total = num_batches(len(labels), batch_size)
    for xb, yb in tqdm(batches, total=total, desc="evaluate", disable=not progress, leave=False):
        xb, yb = xb.to(device), yb.to(device)
        t_pred, s_pred = teacher(xb).argmax(1), student(xb).argmax(1)
        fp += (t_pred == yb).sum().item()
        q += (s_pred == yb).sum().item()
        agree += (t_pred == s_pred).sum().item()
    n = len(labels)
    return {"fp_acc": fp / n, "quant_acc": q / n, "top1_agreement": agree / n}


def save_quantized(path: Path, student: nn.Module, spec: QuantSpec, teacher_meta: dict, run: dict) -> None:
    payload = {
        "format": QUANTIZED_FORMAT,
        "state_dict": {k: v.cpu() for k, v in student.state_dict().items()},
        "spec": spec.to_dict(),
        "teacher": teacher_meta,
        "run": run,
    }
    atomic_write_bytes(Path(path), lambda fh: torch.save(payload, fh))


def load_quantized(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the fake-quantized network from the file alone (eval mode): this format, or the compact
    integer one (``dfq.int_checkpoint``); returns (model, payload without the tensors). ValueError naming
    the file when it is neither."""
    from dfq.int_checkpoint import INTEGER_FORMAT, from_payload
    from nas.train import build_from_meta

    payload = load_torch_file(path, "checkpoint")
    if isinstance(payload, dict) and payload.get("format") == INTEGER_FORMAT:
        return from_payload(payload)
    if not isinstance(payload, dict) or payload.get("format") != QUANTIZED_FORMAT:
        raise ValueError(f"{path}: not a coexplore quantized checkpoint")
    teacher = build_from_meta(payload["teacher"])
    model = quantize_model(teacher, QuantSpec(**payload["spec"]))
    model.load_state_dict(payload["state_dict"])
    return model.eval(), {k: v for k, v in payload.items() if k != "state_dict"}
