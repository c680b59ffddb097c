"""A compact integer checkpoint of a quantized student: each quantized layer's weight codes as integers
(two 4-bit codes a byte up to 4 bits, one byte up to 8, two above), its per-channel scale and zero point,
its activation grid; everything else (BatchNorm, biases) as float. ``load_integer`` rebuilds the
fake-quantized student with the weight grids frozen at the stored ones, so it computes exactly what the
saved student computed (``dfq.pipeline.load_quantized`` reads this format too).

File (``torch.save`` of a dict, weights-only loadable): ``format`` = ``INTEGER_FORMAT``, ``spec``,
``teacher`` (checkpoint metadata), ``run``, ``float_state`` (the state entries that are not a quantized
layer's weight), ``layers``: per quantized layer name ``{codes, shape, bits, scale, zero_point, act_scale,
act_zero_point}``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from accel_model.files import atomic_write_bytes, load_torch_file
from dfq.quant_model import QuantSpec, QuantWrapper, quantize_model
from dfq.quantizers import quantize

INTEGER_FORMAT = "coexplore-quantized-int-v1"


def pack_codes(codes: torch.Tensor, bits: int) -> torch.Tensor:
    """Unsigned codes in [0, 2^bits - 1] as the fewest bytes: uint8 nibble pairs (<= 4 bits), uint8, int16
    (the codes shifted by 2^15 above 8 bits)."""
    flat = codes.reshape(-1).to(torch.int32)
    if bits <= 4:
        if flat.numel() % 2:
            flat = torch.cat([flat, flat.new_zeros(1)])
        return (flat[0::2] | (flat[1::2] << 4)).to(torch.uint8)
    if bits <= 8:
        return flat.to(torch.uint8)
    return (flat - 2**15).to(torch.int16)


def unpack_codes(packed: torch.Tensor, bits: int, shape: list[int]) -> torch.Tensor:
    n = torch.Size(shape).numel()
    if bits <= 4:
        wide = packed.to(torch.int32)
        flat = torch.stack([wide & 0xF, wide >> 4], dim=1).reshape(-1)[:n]
    elif bits <= 8:
        flat = packed.to(torch.int32)
    else:
        flat = packed.to(torch.int32) + 2**15
    return flat.to(torch.float32).reshape(shape)


def save_integer(
    path: str | Path, student: nn.Module, spec: QuantSpec, teacher_meta: dict, run: dict
) -> None:
    layers, skip = {}, set()
    for name, module in student.named_modules():
        if not isinstance(module, QuantWrapper):
            continue
        weight = module.layer.weight.detach().cpu()
        scale, zero_point = (t.detach().cpu() for t in module.weight_grid(weight))
        codes = quantize(weight, scale, zero_point, module.w_bits)
        layers[name] = {"codes": pack_codes(codes, module.w_bits), "shape": list(weight.shape),
                        "bits": module.w_bits, "scale": scale.reshape(-1).float(),
                        "zero_point": zero_point.reshape(-1).to(torch.int32),
                        "act_scale": module.act.scale.detach().cpu().float(),
                        "act_zero_point": module.act.zero_point.detach().cpu()}  # fmt: skip
        skip |= {f"{name}.layer.weight", f"{name}.weight_scale", f"{name}.weight_zero_point"}
    float_state = {k: v.cpu() for k, v in student.state_dict().items() if k not in skip}
    payload = {"format": INTEGER_FORMAT, "spec": spec.to_dict(), "teacher": teacher_meta, "run": run,
               "float_state": float_state, "layers": layers}  # fmt: skip
    atomic_write_bytes(Path(path), lambda fh: torch.save(payload, fh))


def load_integer(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """The student of an integer checkpoint (eval mode) and the payload without tensors; ``ValueError``
    naming the file when it is not one."""
    payload = load_torch_file(path, "checkpoint")
    if not isinstance(payload, dict) or payload.get("format") != INTEGER_FORMAT:
        raise ValueError(f"{path}: not a coexplore integer checkpoint")
    return from_payload(payload)


def from_payload(payload: dict) -> tuple[nn.Module, dict[str, Any]]:
    """``load_integer`` on a loaded payload."""
    from nas.train import build_from_meta

    model = quantize_model(build_from_meta(payload["teacher"]), QuantSpec(**payload["spec"]))
    model.load_state_dict(payload["float_state"], strict=False)
    with torch.no_grad():
        for name, entry in payload["layers"].items():
            wrapper = model.get_submodule(name)
            shape = [-1] + [1] * (len(entry["shape"]) - 1)
            scale, zero_point = entry["scale"].view(shape), entry["zero_point"].float().view(shape)
            codes = unpack_codes(entry["codes"], entry["bits"], entry["shape"])
            wrapper.layer.weight.copy_((codes - zero_point) * scale)
            wrapper.weight_scale, wrapper.weight_zero_point = scale.clone(), zero_point.clone()
            wrapper.act.scale.copy_(entry["act_scale"])
            wrapper.act.zero_point.copy_(entry["act_zero_point"])
            wrapper.act.calibrated.fill_(True)
    facts = {k: v for k, v in payload.items() if k not in ("float_state", "layers")}
    return model.eval(), facts
