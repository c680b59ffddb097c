"""The search space: a MobileNetV2/ProxylessNAS-style stack whose channels and strides live in one table.

stem conv -> searchable layers (stages of ``Stage(channels, layers, stride)``; the stride applies to a
stage's first layer) -> 1x1 head conv -> global average pool -> linear classifier.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nas.arch import Arch
from nas.ops import OPS, get_op, make_activation


@dataclass(frozen=True)
class Stage:
    channels: int
    layers: int
    stride: int


@dataclass(frozen=True)
class LayerSlot:
    """One searchable layer: its input/output channels, stride and the ops allowed there."""

    index: int
    c_in: int
    c_out: int
    stride: int
    allowed_ops: tuple[str, ...]


@dataclass(frozen=True)
class SearchSpace:
    stem_channels: int = 16
    stem_stride: int = 1
    stages: tuple[Stage, ...] = (
        Stage(24, 2, 2),
        Stage(40, 2, 2),
        Stage(64, 2, 1),
    )
    head_channels: int = 256
    ops: tuple[str, ...] = field(default_factory=lambda: tuple(OPS))
    act: str = "relu6"
    default_op: str = "mb_k3_e3"

    def __post_init__(self) -> None:
        for op in self.ops:
            get_op(op)
        make_activation(self.act)
        if self.default_op not in self.ops:
            raise ValueError(f"default_op {self.default_op!r} is not among ops {list(self.ops)}")

    def slots(self) -> list[LayerSlot]:
        slots, c_in = [], self.stem_channels
        for stage in self.stages:
            for j in range(stage.layers):
                stride = stage.stride if j == 0 else 1
                allowed = tuple(op for op in self.ops if get_op(op).allowed(c_in, stage.channels, stride))
                slots.append(LayerSlot(len(slots), c_in, stage.channels, stride, allowed))
                c_in = stage.channels
        return slots

    @property
    def num_layers(self) -> int:
        return sum(stage.layers for stage in self.stages)

    def validate(self, arch: Arch) -> Arch:
        """Raise ``ValueError`` naming the first layer whose op is not allowed there."""
        slots = self.slots()
        if len(arch) != len(slots):
            raise ValueError(f"arch has {len(arch)} ops, the search space has {len(slots)} layers")
        for slot, op in zip(slots, arch.ops, strict=True):
            if op not in slot.allowed_ops:
                raise ValueError(
                    f"layer {slot.index}: op {op!r} not allowed; allowed: {list(slot.allowed_ops)}"
                )
        return arch

    def sample_arch(self, rng) -> Arch:
        """Uniform op per layer among the ops allowed there (``rng``: a ``random.Random``)."""
        return Arch(tuple(rng.choice(slot.allowed_ops) for slot in self.slots()))

    def default_arch(self) -> Arch:
        return Arch(tuple(self.default_op for _ in range(self.num_layers)))

    def describe(self) -> str:
        """Every searchable layer with its channels, stride and allowed ops, as text lines."""
        lines = [
            f"stem: conv3x3 -> {self.stem_channels} ch, stride {self.stem_stride}; activation {self.act}"
        ]
        lines += [
            f"layer {slot.index}: {slot.c_in:>4} -> {slot.c_out:<4} stride {slot.stride}  "
            f"ops: {', '.join(slot.allowed_ops)}"
            for slot in self.slots()
        ]
        lines.append(f"head: conv1x1 -> {self.head_channels} ch, global average pool, linear classifier")
        lines.append(f"default arch: {','.join(self.default_arch().ops)}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "stem_channels": self.stem_channels,
            "stem_stride": self.stem_stride,
            "stages": [[s.channels, s.layers, s.stride] for s in self.stages],
            "head_channels": self.head_channels,
            "ops": list(self.ops),
            "act": self.act,
            "default_op": self.default_op,
        }

    @classmethod
    def from_dict(cls, data: Any) -> SearchSpace:
        data = dict(data)
        data["stages"] = tuple(Stage(*row) for row in data["stages"])
        data["ops"] = tuple(data["ops"])
        return cls(**data)
