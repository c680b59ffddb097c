"""Which torch device a command runs on: ``auto`` (CUDA when present, else CPU), ``cpu``, ``cuda[:N]``."""

from __future__ import annotations

import torch
from torch import nn


def resolve_device(name: str = "auto") -> torch.device:
    """The device for ``name``; ValueError naming the problem when it cannot be used here."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"unknown device {name!r}; use auto, cpu or cuda[:N]") from None
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"unsupported device {name!r}; use auto, cpu or cuda[:N]")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but this machine has no usable CUDA GPU")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"device {name!r}: there are only {torch.cuda.device_count()} CUDA devices")
    return device


def module_device(module: nn.Module) -> torch.device:
    """Where a module's parameters (or, without parameters, buffers) live; CPU for an empty module."""
    for tensor in (*module.parameters(), *module.buffers()):
        return tensor.device
    return torch.device("cpu")
