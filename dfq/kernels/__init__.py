"""Implementations of the DFQ hot paths (fake quantization, BN statistics), chosen by device.

``IMPLEMENTATIONS`` holds ``torch`` (the reference, ``reference.py``) and, where Triton imports,
``triton`` (``triton_ops.py``). ``fake_quant`` and ``bn_stats`` pick one per call: with the choice
``auto`` (the default), Triton for a CUDA tensor of at least ``AUTO_MIN_ELEMENTS[op]`` elements and the
reference otherwise; ``use("torch")`` or ``use("triton")`` (or ``$COEXPLORE_KERNELS``) forces one, e.g. to
compare them. Triton on CPU tensors runs only in its interpreter (``TRITON_INTERPRET=1``), which the tests
use. The thresholds are the crossovers measured on an H200 (``benchmarks/kernels.py``,
docs/results/kernels.md): fake quantization was faster than eager at every size, the BN statistics
(several launches: the kernel, then the merge of its partials) only at the 77M-element activation.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from accel_model.registry import Registry
from dfq.kernels import reference


@dataclass(frozen=True)
class Kernels:
    fake_quant: Callable[[torch.Tensor, torch.Tensor, torch.Tensor, int], torch.Tensor]
    bn_stats: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


IMPLEMENTATIONS: Registry[Kernels] = Registry("kernel implementation")
IMPLEMENTATIONS.add("torch", Kernels(reference.fake_quant, reference.bn_stats))
try:
    from dfq.kernels import triton_ops
except ImportError:  # no Triton here: the reference serves every device
    triton_ops = None
else:
    IMPLEMENTATIONS.add("triton", Kernels(triton_ops.fake_quant, triton_ops.bn_stats))

AUTO_MIN_ELEMENTS = {"fake_quant": 0, "bn_stats": 64_000_000}
_choice = {"name": os.environ.get("COEXPLORE_KERNELS", "auto")}


@contextmanager
def use(name: str) -> Iterator[None]:
    """Within: every call takes implementation ``name`` (or ``auto``); ``ValueError`` for another name."""
    if name != "auto":
        IMPLEMENTATIONS.get(name)
    before, _choice["name"] = _choice["name"], name
    try:
        yield
    finally:
        _choice["name"] = before


def for_tensor(x: torch.Tensor, op: str = "fake_quant") -> Kernels:
    """The implementation of ``op`` for ``x`` under the current choice."""
    name = _choice["name"]
    if name == "auto":
        fast = x.is_cuda and "triton" in IMPLEMENTATIONS and x.numel() >= AUTO_MIN_ELEMENTS[op]
        name = "triton" if fast else "torch"
    return IMPLEMENTATIONS.get(name)


def fake_quant(x: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor, bits: int) -> torch.Tensor:
    return for_tensor(x, "fake_quant").fake_quant(x, scale, zero_point, bits)


def bn_stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return for_tensor(x, "bn_stats").bn_stats(x)
