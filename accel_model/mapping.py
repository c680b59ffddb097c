"""The fixed spatial mapping of each dataflow, as pure Python (no simulator needed).

Shared by the ZigZag backend (which turns it into ZigZag's mapping format) and the evaluator network
(which derives analytic features from it: how many cycles the PE array needs at best).
"""

from __future__ import annotations

import math

import numpy as np

from accel_model.domain import LayerShape

# Per dataflow, the layer dims unrolled over D1 (PE rows) and D2 (PE columns), in priority order; each
# next dim fills what the previous left of the array. "OC" stands for the output-channel dim (K, or
# G for a depthwise conv), "RC" for the reduction channel (C; absent in depthwise convs).
DATAFLOW_UNROLLING: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # weight stationary (TPU/NVDLA-like): output channels x input channels
    "WS": (("OC",), ("RC", "FX", "FY")),
    # output stationary (ShiDianNao-like): output pixels, then output channels / batch
    "OS": (("OX", "OC"), ("OY", "B")),
    # row stationary (Eyeriss): filter rows down the rows, output rows across the columns
    "RS": (("FY", "OC"), ("OY", "B")),
}


def layer_dims(layer: LayerShape) -> dict[str, int]:
    """ZigZag loop dims and sizes of a conv / depthwise / grouped conv / linear layer."""
    (fy, fx), (oy, ox) = layer.kernel, layer.out_hw
    dims = {"B": layer.batch}
    if layer.is_depthwise and layer.out_channels == layer.in_channels:
        dims["G"] = layer.groups
    elif layer.groups > 1:
        dims |= {
            "G": layer.groups,
            "K": layer.out_channels // layer.groups,
            "C": layer.in_channels // layer.groups,
        }
    else:
        dims |= {"K": layer.out_channels, "C": layer.in_channels}
    return dims | {"OY": oy, "OX": ox, "FY": fy, "FX": fx}


def spatial_unrolling(
    layer: LayerShape, pe_rows: int, pe_cols: int, dataflow: str
) -> dict[str, list[tuple[str, int]]]:
    """``{"D1": [(dim, factor), ...], "D2": [...]}``: dims in the dataflow's priority order, each
    unrolled up to what the axis has left."""
    dims = layer_dims(layer)
    alias = {"OC": "G" if "G" in dims and "K" not in dims else "K", "RC": "C"}
    out = {}
    for (axis, size), wanted in zip(
        (("D1", pe_rows), ("D2", pe_cols)), DATAFLOW_UNROLLING[dataflow], strict=True
    ):
        entries, capacity = [], size
        for name in wanted:
            name = alias.get(name, name)
            factor = min(dims.get(name, 1), capacity)
            if factor > 1:
                entries.append((name, factor))
                capacity //= factor
        out[axis] = entries
    return out


def input_span(outputs, taps, stride):
    """Input pixels along one axis that ``outputs`` output pixels x ``taps`` filter taps touch: a
    contiguous window with its halo, or, when the stride skips pixels (a 1x1 stride-2 conv), only the
    touched ones (ints or arrays)."""
    return np.minimum((outputs - 1) * stride + taps, outputs * taps)


def unrolled_factors(
    layer: LayerShape, pe_rows: int, pe_cols: int, dataflow: str, even: bool = False
) -> dict[str, float]:
    """Per loop dim, how many PEs its iterations are spread over (1: not unrolled). ``even``: as ZigZag
    runs it, a dim's iterations split evenly over its temporal steps, so 28 output columns on 20 PEs
    run as 2 steps of 14 (``size / steps``, fractional when the split is uneven)."""
    dims = layer_dims(layer)
    unrolled = {name: 1 for name in dims}
    for entries in spatial_unrolling(layer, pe_rows, pe_cols, dataflow).values():
        for name, factor in entries:
            unrolled[name] *= factor
    if even:
        return {name: dims[name] / math.ceil(dims[name] / u) for name, u in unrolled.items()}
    return unrolled


def temporal_steps(layer: LayerShape, pe_rows: int, pe_cols: int, dataflow: str) -> dict[str, int]:
    """Per loop dim, the temporal iterations left after spatial unrolling (partial tiles padded)."""
    unrolled = unrolled_factors(layer, pe_rows, pe_cols, dataflow)
    return {name: math.ceil(size / unrolled[name]) for name, size in layer_dims(layer).items()}


def ideal_compute_cycles(layer: LayerShape, pe_rows: int, pe_cols: int, dataflow: str) -> int:
    """Cycles of the temporal loops left after spatial unrolling: the latency of a perfect memory
    system (one MAC per active PE per cycle, partial tiles padded)."""
    return math.prod(temporal_steps(layer, pe_rows, pe_cols, dataflow).values())


def spatial_operand_words(
    layer: LayerShape, pe_rows: int, pe_cols: int, dataflow: str, even: bool = False
) -> tuple[float, float, float]:
    """Distinct weight, input and output words the array touches in one step of the temporal loops:
    what the global buffer must feed when the register files give no reuse. Inputs count the halo of
    unrolled output pixels x filter taps. ``even``: with ZigZag's even split (``unrolled_factors``)."""
    u = unrolled_factors(layer, pe_rows, pe_cols, dataflow, even)
    s = layer.stride
    weights = u.get("G", 1) * u.get("K", 1) * u.get("C", 1) * u["FY"] * u["FX"]
    inputs = (
        u["B"]
        * u.get("G", 1)
        * u.get("C", 1)
        * input_span(u["OY"], u["FY"], s)
        * input_span(u["OX"], u["FX"], s)
    )
    outputs = u["B"] * u.get("G", 1) * u.get("K", 1) * u["OY"] * u["OX"]
    return weights, inputs, outputs
