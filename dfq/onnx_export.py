"""A quantized student as ONNX that a runtime loads: QuantizeLinear/DequantizeLinear (QDQ) around every
quantized layer, with the weights stored as integers at the layer's bits.

- Weights: per output channel, as ``int4`` (up to 4 bits; opset 21, two codes a byte), ``int8`` (5-8) or
  ``int16`` (9-16); the student's unsigned codes ``q`` in [0, 2^b - 1] with zero point ``z`` are stored
  shifted to signed, ``q - 2^(b-1)`` with ``z - 2^(b-1)``, which dequantizes to the same values.
  A BatchNorm right after a conv
  is folded in as the student computes it: its per-channel factor multiplies the dequantization scale
  (the codes stay), its shift becomes the conv's bias.
- Activations: per tensor, QuantizeLinear then DequantizeLinear in ``uint8`` (up to 8 bits) or ``uint16``
  (the student's unsigned grids); below 8 bits (or between 9 and 15) a Clip to the b-bit range goes
  first, so the runtime rounds and clips as the student does. (ONNX Runtime 1.32 refuses a ``uint4``
  QuantizeLinear after a Clip, which every ReLU6 network has, so activations keep a byte.)
- Everything else (activation functions, pooling, residual additions) stays float.

The graph is traced by PyTorch's TorchScript exporter with two placeholder ops, then rewritten with
``onnx.helper`` (PyTorch's exporter refuses the int4 range).
"""

from __future__ import annotations

import copy
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from accel_model.files import atomic_write_bytes
from dfq.quant_model import QuantWrapper, forward_with
from dfq.quantizers import quantize

OPSET = 21  # int4 initializers and per-axis DequantizeLinear
TRACE_OPSET = 20  # the highest the TorchScript exporter writes; the rewrite sets OPSET
DOMAIN = "coexplore"


def weight_type(bits: int) -> int:
    """The signed ONNX integer type that holds ``bits``-bit weight codes: int4, int8 or int16."""
    return TensorProto.INT4 if bits <= 4 else TensorProto.INT8 if bits <= 8 else TensorProto.INT16


def integer_tensor(name: str, data_type: int, values: np.ndarray) -> TensorProto:
    """An integer initializer stored as raw bytes (int4: two codes a byte, the first in the low nibble)."""
    flat = values.astype(np.int64).reshape(-1)
    if data_type == TensorProto.INT4:
        nibbles = (flat & 0xF).astype(np.uint8)
        if len(nibbles) % 2:
            nibbles = np.append(nibbles, 0)
        raw = (nibbles[0::2] | (nibbles[1::2] << 4)).astype(np.uint8).tobytes()
    else:
        dtype = {TensorProto.INT8: "<i1", TensorProto.INT16: "<i2", TensorProto.UINT8: "<u1",
                 TensorProto.UINT16: "<u2"}[data_type]  # fmt: skip
        raw = flat.astype(dtype).tobytes()
    return helper.make_tensor(name, data_type, list(values.shape), raw, raw=True)


def activation_type(bits: int) -> int:
    """The unsigned ONNX type of an activation's QDQ pair: uint8 up to 8 bits, else uint16."""
    return TensorProto.UINT8 if bits <= 8 else TensorProto.UINT16


@dataclass(frozen=True)
class _Grid:
    """A quantization grid handed to the placeholders as a Python object, so the exporter writes it as
    the node's attributes (tensor inputs of identical values would be merged by the exporter)."""

    scale: torch.Tensor
    zero_point: torch.Tensor
    bits: int
    codes: torch.Tensor | None = None  # weights only


class _ActQ(torch.autograd.Function):
    """Fake quantization of an activation; exported as the placeholder ``coexplore::ActQ``."""

    @staticmethod
    def forward(ctx, x, grid: _Grid):
        q = torch.clamp(torch.round(x / grid.scale) + grid.zero_point, 0, 2**grid.bits - 1)
        return (q - grid.zero_point) * grid.scale

    @staticmethod
    def symbolic(g, x, grid: _Grid):
        node = g.op(f"{DOMAIN}::ActQ", x, scale_f=float(grid.scale), zero_point_i=int(grid.zero_point),
                    bits_i=grid.bits)  # fmt: skip
        return node.setType(x.type())


class _WeightDQ(torch.autograd.Function):
    """Dequantized weight codes; exported as the placeholder ``coexplore::WeightDQ``."""

    @staticmethod
    def forward(ctx, like, grid: _Grid):
        return (grid.codes - grid.zero_point) * grid.scale

    @staticmethod
    def symbolic(g, like, grid: _Grid):
        node = g.op(f"{DOMAIN}::WeightDQ", codes_t=grid.codes, scale_f=grid.scale.reshape(-1).tolist(),
                    zero_point_i=[int(z) for z in grid.zero_point.reshape(-1)], bits_i=grid.bits)  # fmt: skip
        return node.setType(like.type())


class _ExportLayer(nn.Module):
    """A ``QuantWrapper`` as codes and grids: what the ONNX graph holds (BN folded when given)."""

    def __init__(self, wrapper: QuantWrapper, bn: nn.BatchNorm2d | None):
        super().__init__()
        layer = wrapper.layer
        weight = layer.weight.detach()
        scale, zero_point = wrapper.weight_grid(weight)
        codes = quantize(weight, scale, zero_point, wrapper.w_bits)
        scale = scale.reshape(-1).clone()
        bias = layer.bias.detach().clone() if layer.bias is not None else torch.zeros_like(scale)
        if bn is not None:  # BN(conv) = factor * conv + shift: the factor scales the dequantization
            factor = (bn.weight.detach() if bn.affine else 1.0) / torch.sqrt(bn.running_var + bn.eps)
            shift = (bn.bias.detach() if bn.affine else 0.0) - bn.running_mean * factor
            scale, bias = scale * factor, bias * factor + shift
        shape = (-1,) + (1,) * (weight.dim() - 1)
        self.weight = _Grid(scale.view(shape), zero_point.reshape(shape).clone(), wrapper.w_bits, codes)
        act = wrapper.act
        self.act = _Grid(act.scale.detach().clone(), act.zero_point.detach().clone(), act.bits)
        self.register_buffer("bias", bias)
        self.register_buffer("like", torch.zeros_like(weight))  # only the weight's shape, for the tracer
        self.layer = layer

    def forward(self, x):
        x = _ActQ.apply(x, self.act)
        w = _WeightDQ.apply(self.like, self.weight)
        # The bias is added apart from the conv: a runtime would otherwise quantize it to int32 at the
        # input scale x the weight scale (ONNX Runtime does), which the student never does.
        y = forward_with(self.layer, x, w, None)
        return y + (self.bias.view(1, -1, 1, 1) if isinstance(self.layer, nn.Conv2d) else self.bias)


def export_twin(student: nn.Module) -> nn.Module:
    """A copy of ``student`` whose quantized layers hold codes (``_ExportLayer``), BN folded where a
    BatchNorm2d directly follows a quantized conv in an ``nn.Sequential``; ``ValueError`` when a layer is
    not calibrated (nothing to export)."""
    twin = copy.deepcopy(student).eval().cpu()
    for module in [m for m in twin.modules() if isinstance(m, QuantWrapper)]:
        if not bool(module.act.calibrated):
            raise ValueError("the student is not calibrated: run dfq.quant_model.calibrate first")
    for seq in [m for m in twin.modules() if isinstance(m, nn.Sequential)]:
        names = list(seq._modules)
        for i, name in enumerate(names):
            module = seq._modules[name]
            if not isinstance(module, QuantWrapper):
                continue
            nxt = seq._modules[names[i + 1]] if i + 1 < len(names) else None
            fold = isinstance(nxt, nn.BatchNorm2d) and isinstance(module.layer, nn.Conv2d)
            seq._modules[name] = _ExportLayer(module, nxt if fold else None)
            if fold:
                seq._modules[names[i + 1]] = nn.Identity()
    for module in list(twin.modules()):  # wrappers outside a Sequential (a ResNet's convs)
        for child_name, child in list(module.named_children()):
            if isinstance(child, QuantWrapper):
                setattr(module, child_name, _ExportLayer(child, None))
    return twin


def _attributes(node) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _rewrite(model: onnx.ModelProto) -> onnx.ModelProto:
    """Replace the placeholders by QuantizeLinear/DequantizeLinear with integer initializers."""
    graph, nodes, inits = model.graph, [], []
    for node in graph.node:
        if node.domain != DOMAIN:
            nodes.append(node)
            continue
        attrs, tag = _attributes(node), node.output[0]
        bits = attrs["bits"]
        names = [f"{tag}.codes", f"{tag}.scale", f"{tag}.zero_point"]
        if node.op_type == "ActQ":
            scale, zero_point = attrs["scale"], attrs["zero_point"]
            inits += [numpy_helper.from_array(np.array(scale, dtype=np.float32), names[1]),
                      integer_tensor(names[2], activation_type(bits), np.array(zero_point))]  # fmt: skip
            source = node.input[0]
            if bits not in (8, 16):  # the b-bit range inside the wider container, as the student clips
                bounds = [f"{tag}.lo", f"{tag}.hi"]
                inits += [numpy_helper.from_array(np.array(v, dtype=np.float32), n) for v, n in
                          zip(((0 - zero_point) * scale, (2**bits - 1 - zero_point) * scale), bounds,
                              strict=True)]  # fmt: skip
                nodes.append(helper.make_node("Clip", [source, *bounds], [f"{tag}.clipped"]))
                source = f"{tag}.clipped"
            q = f"{tag}.q"
            nodes += [helper.make_node("QuantizeLinear", [source, *names[1:]], [q]),
                      helper.make_node("DequantizeLinear", [q, *names[1:]], [tag])]  # fmt: skip
            continue
        codes, offset = numpy_helper.to_array(attrs["codes"]), 2 ** (bits - 1)  # WeightDQ
        zps = np.array(attrs["zero_point"]) - offset
        inits += [integer_tensor(names[0], weight_type(bits), codes.astype(np.int64) - offset),
                  numpy_helper.from_array(np.array(attrs["scale"], dtype=np.float32), names[1]),
                  integer_tensor(names[2], weight_type(bits), zps)]  # fmt: skip
        nodes.append(helper.make_node("DequantizeLinear", names, [tag], axis=0))
    used = {name for node in nodes for name in node.input}
    kept = [i for i in graph.initializer if i.name in used] + inits
    new_graph = helper.make_graph(nodes, graph.name, graph.input, graph.output, kept)
    out = helper.make_model(new_graph, opset_imports=[helper.make_opsetid("", OPSET)],
                            producer_name="coexplore")  # fmt: skip
    onnx.checker.check_model(out, full_check=True)
    return out


def to_onnx(student: nn.Module, input_shape: tuple[int, int, int]) -> onnx.ModelProto:
    """The QDQ ONNX model of a calibrated fake-quantized ``student`` for inputs ``[N, *input_shape]``
    (dynamic batch); input ``images`` (normalized floats), output ``logits``."""
    twin = export_twin(student)
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(twin, (torch.zeros(1, *input_shape),), buffer, dynamo=False,
                          opset_version=TRACE_OPSET, input_names=["images"], output_names=["logits"],
                          do_constant_folding=False,
                          dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}},
                          custom_opsets={DOMAIN: 1})  # fmt: skip
    return _rewrite(onnx.load_from_string(buffer.getvalue()))


def save_onnx(model: onnx.ModelProto, path: str | Path) -> Path:
    path = Path(path)
    atomic_write_bytes(path, lambda fh: fh.write(model.SerializeToString()))
    return path
