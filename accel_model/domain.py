"""Domain objects the accelerator sees: layer shapes, accelerator configs and costs.

All are frozen dataclasses that round-trip through plain dicts (``to_dict`` / ``from_dict``), so every
command can take and emit JSON. ``from_dict`` validates (it is the boundary); the constructors
validate too, with a ``ValueError`` that names the field and the allowed values.
"""

from __future__ import annotations

import math
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any

DATAFLOWS = ("WS", "OS", "RS")
BIT_WIDTHS = (4, 8, 16)


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def _pair(name: str, value: Any) -> tuple[int, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"{name} must be an int or a pair [a, b], got {value!r}")
    return (_positive_int(name, value[0]), _positive_int(name, value[1]))


def _check_keys(cls: type, data: Any) -> dict:
    if not isinstance(data, dict):
        raise ValueError(f"{cls.__name__} must be a JSON object, got {type(data).__name__}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown field(s) {unknown}; allowed: {sorted(known)}")
    missing = [f.name for f in fields(cls) if f.default is MISSING and f.name not in data]
    if missing:
        raise ValueError(f"{cls.__name__}: missing field(s) {missing}")
    return data


@dataclass(frozen=True)
class LayerShape:
    """A conv or linear layer as the accelerator sees it.

    ``kernel`` is (kh, kw) in pixels, ``in_hw`` the input (H, W) in pixels, ``batch`` images.
    Convolutions use 'same'-style padding (k // 2), so the output is ceil(H / stride); a padding wider
    than the input (a 99x99 kernel on 7x7) is refused, while a small map under a larger kernel (5x5 on
    2x2, as a searched child at a small input has) is not.
    A linear layer is ``kernel 1, in_hw (1, 1)``. Depthwise means ``groups == in_channels``.
    """

    in_channels: int
    out_channels: int
    kernel: tuple[int, int] = (1, 1)
    stride: int = 1
    groups: int = 1
    in_hw: tuple[int, int] = (1, 1)
    batch: int = 1

    def __post_init__(self) -> None:
        _positive_int("in_channels", self.in_channels)
        _positive_int("out_channels", self.out_channels)
        _positive_int("stride", self.stride)
        _positive_int("groups", self.groups)
        _positive_int("batch", self.batch)
        object.__setattr__(self, "kernel", _pair("kernel", self.kernel))
        object.__setattr__(self, "in_hw", _pair("in_hw", self.in_hw))
        (kh, kw), (h, w) = self.kernel, self.in_hw
        if kh // 2 > h or kw // 2 > w:  # 'same' padding wider than the input itself
            raise ValueError(
                f"kernel {kh}x{kw} on a {h}x{w} input: its 'same' padding ({kh // 2}x{kw // 2}) is wider "
                f"than the input (at most {2 * h + 1}x{2 * w + 1} on this input)"
            )
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(
                f"groups={self.groups} must divide in_channels={self.in_channels} "
                f"and out_channels={self.out_channels}"
            )

    @property
    def is_depthwise(self) -> bool:
        return self.groups > 1 and self.groups == self.in_channels

    @property
    def out_hw(self) -> tuple[int, int]:
        (kh, kw), (h, w), s = self.kernel, self.in_hw, self.stride
        return ((h + 2 * (kh // 2) - kh) // s + 1, (w + 2 * (kw // 2) - kw) // s + 1)

    @property
    def weight_count(self) -> int:
        kh, kw = self.kernel
        return self.out_channels * (self.in_channels // self.groups) * kh * kw

    @property
    def macs(self) -> int:
        """Multiply-accumulates for the whole batch."""
        oh, ow = self.out_hw
        return self.batch * oh * ow * self.weight_count

    def to_dict(self) -> dict:
        kh, kw = self.kernel
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel": kh if kh == kw else [kh, kw],
            "stride": self.stride,
            "groups": self.groups,
            "in_hw": list(self.in_hw),
            "batch": self.batch,
        }

    @classmethod
    def from_dict(cls, data: Any) -> LayerShape:
        return cls(**_check_keys(cls, data))


@dataclass(frozen=True)
class Accelerator:
    """An Eyeriss-like accelerator: a ``pe_rows x pe_cols`` PE array with a per-PE register file of
    ``rf_bytes``, a shared global buffer of ``glb_kib`` KiB, DRAM, a dataflow, operand ``bits`` and a
    clock in MHz."""

    pe_rows: int = 14
    pe_cols: int = 12
    rf_bytes: int = 64
    glb_kib: int = 108
    dataflow: str = "WS"
    bits: int = 8
    clock_mhz: int = 200

    def __post_init__(self) -> None:
        for name in ("pe_rows", "pe_cols", "rf_bytes", "glb_kib", "clock_mhz"):
            _positive_int(name, getattr(self, name))
        if not isinstance(self.dataflow, str) or self.dataflow not in DATAFLOWS:
            raise ValueError(f"dataflow must be one of {list(DATAFLOWS)}, got {self.dataflow!r}")
        # exact ints: 8.0 == 8 in Python, and would reach the simulator and the cache keys as a float
        if isinstance(self.bits, bool) or not isinstance(self.bits, int) or self.bits not in BIT_WIDTHS:
            raise ValueError(f"bits must be one of {list(BIT_WIDTHS)} (an integer), got {self.bits!r}")

    @property
    def num_pes(self) -> int:
        return self.pe_rows * self.pe_cols

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Accelerator:
        """Every field but ``clock_mhz`` (200 MHz when absent) must be given: ``{}`` is no accelerator."""
        data = _check_keys(cls, data)
        missing = [f.name for f in fields(cls) if f.name != "clock_mhz" and f.name not in data]
        if missing:
            raise ValueError(f"Accelerator: missing field(s) {missing}")
        return cls(**data)


@dataclass(frozen=True)
class Cost:
    """Cost of running layers on an accelerator. Latency and energy add over layers; area belongs to
    the accelerator, so adding two costs keeps the larger area (both describe the same chip)."""

    latency_cycles: float
    energy_pj: float
    area_mm2: float = 0.0
    clock_mhz: float = 200.0

    @property
    def latency_s(self) -> float:
        return self.latency_cycles / (self.clock_mhz * 1e6)

    @property
    def fps(self) -> float:
        return math.inf if self.latency_cycles == 0 else 1.0 / self.latency_s

    @property
    def edap(self) -> float:
        """Energy (J) x delay (s) x area (mm^2)."""
        return self.energy_pj * 1e-12 * self.latency_s * self.area_mm2

    def __add__(self, other: Cost) -> Cost:
        return Cost(
            self.latency_cycles + other.latency_cycles,
            self.energy_pj + other.energy_pj,
            max(self.area_mm2, other.area_mm2),
            self.clock_mhz,
        )

    def to_dict(self) -> dict:
        return {
            "latency_cycles": self.latency_cycles,
            "energy_pj": self.energy_pj,
            "area_mm2": self.area_mm2,
            "fps": self.fps,
        }
