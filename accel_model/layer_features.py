"""Per-layer inputs of the evaluator network: shape features and analytic tables.

Besides log-scaled dims, each layer carries ``log_cycles[r, c, d]``: the log of its ideal compute cycles
on every (pe_rows, pe_cols, dataflow) of the design space (``accel_model.mapping``). The evaluator
takes its expectation under the accelerator's probabilities, so this exact, hand-derived part of the
cost stays differentiable in soft accelerators and exact at the vertices.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import torch

from accel_model.domain import LayerShape
from accel_model.mapping import ideal_compute_cycles
from accel_model.space import DesignSpace

LAYER_FEATURES = (
    "log_in_channels", "log_out_channels", "log_kernel_h", "log_kernel_w", "log_stride", "log_groups",
    "depthwise", "log_in_h", "log_in_w", "log_out_h", "log_out_w", "log_batch",
    "log_macs", "log_weights", "log_inputs", "log_outputs",
)  # fmt: skip


def _sizes(layer: LayerShape) -> tuple[int, int, int]:
    """Elements of weights, input activations and output activations."""
    (ih, iw), (oh, ow) = layer.in_hw, layer.out_hw
    return (
        layer.weight_count,
        layer.batch * layer.in_channels * ih * iw,
        layer.batch * layer.out_channels * oh * ow,
    )


@lru_cache(maxsize=4096)
def _layer_entry(layer: LayerShape, space: DesignSpace) -> tuple[torch.Tensor, torch.Tensor]:
    weights, inputs, outputs = _sizes(layer)
    (kh, kw), (ih, iw), (oh, ow) = layer.kernel, layer.in_hw, layer.out_hw
    log = math.log
    feats = [
        log(layer.in_channels), log(layer.out_channels), log(kh), log(kw), log(layer.stride),
        log(layer.groups), float(layer.is_depthwise), log(ih), log(iw), log(oh), log(ow), log(layer.batch),
        log(layer.macs), log(weights), log(inputs), log(outputs),
    ]  # fmt: skip
    cycles = [
        [[log(ideal_compute_cycles(layer, r, c, d)) for d in space.dataflow] for c in space.pe_cols]
        for r in space.pe_rows
    ]
    return torch.tensor(feats, dtype=torch.float32), torch.tensor(cycles, dtype=torch.float32)


@dataclass(frozen=True)
class LayerBatch:
    """``feats [L, len(LAYER_FEATURES)]``, ``log_cycles [L, rows, cols, dataflows]``."""

    feats: torch.Tensor
    log_cycles: torch.Tensor

    def __len__(self) -> int:
        return self.feats.shape[0]

    @property
    def log_macs(self) -> torch.Tensor:
        return self.feats[:, LAYER_FEATURES.index("log_macs")]

    @property
    def log_elements(self) -> torch.Tensor:
        """log(weights + inputs + outputs): the least a layer moves from and to DRAM, in elements."""
        i = LAYER_FEATURES.index("log_weights")
        return torch.logsumexp(self.feats[:, i : i + 3], dim=1)

    def select(self, index: torch.Tensor) -> LayerBatch:
        return LayerBatch(self.feats[index], self.log_cycles[index])


def layer_batch(layers: Sequence[LayerShape], space: DesignSpace | None = None) -> LayerBatch:
    space = space or DesignSpace()
    if not layers:
        raise ValueError("no layers given")
    entries = [_layer_entry(layer, space) for layer in layers]
    return LayerBatch(torch.stack([f for f, _ in entries]), torch.stack([c for _, c in entries]))
