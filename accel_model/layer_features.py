"""Per-layer inputs of the evaluator network: shape features and analytic tables.

Besides log-scaled dims, each layer carries tables over every (pe_rows, pe_cols, dataflow) of the design
space (``TABLES``, from ``accel_model.mapping``): its ideal compute cycles and the operand words the
array needs per step. The evaluator takes their expectation under the accelerator's probabilities, so
this exact, hand-derived part of the cost stays differentiable in soft accelerators and exact at the
vertices.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import torch

from accel_model.domain import LayerShape
from accel_model.mapping import ideal_compute_cycles, spatial_operand_words
from accel_model.space import DesignSpace

LAYER_FEATURES = (
    "log_in_channels", "log_out_channels", "log_kernel_h", "log_kernel_w", "log_stride", "log_groups",
    "depthwise", "log_in_h", "log_in_w", "log_out_h", "log_out_w", "log_batch",
    "log_macs", "log_weights", "log_inputs", "log_outputs",
)  # fmt: skip


# Tables over (pe_rows, pe_cols, dataflow), all logs: ideal compute cycles, and the distinct weight /
# input / output / total words the PE array touches per step (the global-buffer bandwidth it needs).
TABLES = ("compute_cycles", "step_weight_words", "step_input_words", "step_output_words", "step_words")


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
    tables = torch.zeros(len(TABLES), len(space.pe_rows), len(space.pe_cols), len(space.dataflow))
    for i, r in enumerate(space.pe_rows):
        for j, c in enumerate(space.pe_cols):
            for k, d in enumerate(space.dataflow):
                words = spatial_operand_words(layer, r, c, d)
                tables[:, i, j, k] = torch.tensor(
                    [log(ideal_compute_cycles(layer, r, c, d)), *(log(w) for w in words), log(sum(words))]
                )
    return torch.tensor(feats, dtype=torch.float32), tables


@dataclass(frozen=True)
class LayerBatch:
    """``feats [L, len(LAYER_FEATURES)]``, ``log_tables [L, len(TABLES), rows, cols, dataflows]`` and the
    layers themselves (for inputs tabulated on demand, such as ``loop_mapper``'s)."""

    feats: torch.Tensor
    log_tables: torch.Tensor
    layers: tuple[LayerShape, ...] = ()

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
        """The layers at ``index`` (positions, or a boolean mask)."""
        index = torch.as_tensor(index)
        if index.dtype == torch.bool:
            index = torch.nonzero(index).reshape(-1)
        picked = index.reshape(-1).tolist()
        layers = tuple(self.layers[i] for i in picked) if self.layers else ()
        return LayerBatch(self.feats[index], self.log_tables[index], layers)


def layer_batch(layers: Sequence[LayerShape], space: DesignSpace | None = None) -> LayerBatch:
    space = space or DesignSpace()
    if not layers:
        raise ValueError("no layers given")
    entries = [_layer_entry(layer, space) for layer in layers]
    return LayerBatch(
        torch.stack([f for f, _ in entries]), torch.stack([c for _, c in entries]), tuple(layers)
    )
