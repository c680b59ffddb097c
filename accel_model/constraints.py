"""Hard design constraints (frame rate, latency, energy, area) as upper bounds on one cost metric.

A domain object of the ground floor: the search enforces them (``search.hdx``), the verification and the
result tables (``search.hdx_verify``, ``results``) read them. ``--min-fps F`` is latency <= 1/F."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

# option name -> (cost key, "min" or "max", value in the option's unit -> upper bound in the cost's unit)
CONSTRAINTS = {
    "min_fps": ("latency_cycles", lambda fps, clock_mhz: clock_mhz * 1e6 / fps),
    "max_latency_ms": ("latency_cycles", lambda ms, clock_mhz: ms * 1e-3 * clock_mhz * 1e6),
    "max_energy_mj": ("energy_pj", lambda mj, clock_mhz: mj * 1e9),
    "max_area_mm2": ("area_mm2", lambda mm2, clock_mhz: mm2),
}
UNITS = {"min_fps": "fps", "max_latency_ms": "ms", "max_energy_mj": "mJ", "max_area_mm2": "mm2"}


@dataclass(frozen=True)
class Constraint:
    name: str  # a key of CONSTRAINTS
    target: float  # in the option's unit (fps, ms, mJ, mm2)
    clock_mhz: float = 200.0

    def __post_init__(self) -> None:
        if self.name not in CONSTRAINTS:
            raise ValueError(f"unknown constraint {self.name!r}; allowed: {sorted(CONSTRAINTS)}")
        if not self.target > 0 or not math.isfinite(self.target):
            raise ValueError(f"--{self.name.replace('_', '-')} must be a positive number, got {self.target}")

    @property
    def key(self) -> str:
        return CONSTRAINTS[self.name][0]

    @property
    def bound(self) -> float:
        """Upper bound on ``costs[self.key]`` (cycles, pJ or mm2)."""
        return CONSTRAINTS[self.name][1](self.target, self.clock_mhz)

    def margin(self, costs: dict) -> torch.Tensor:
        """log(value / bound): > 0 violated. ``costs`` holds tensors or floats under ``self.key``."""
        value = torch.as_tensor(costs[self.key], dtype=torch.float64)
        return torch.log(value) - math.log(self.bound)

    def in_unit(self, value: float) -> float:
        """A value of ``self.key`` in the option's unit (fps for min_fps)."""
        if self.name == "min_fps":
            return self.clock_mhz * 1e6 / value
        return value / (self.bound / self.target)

    def label(self) -> str:
        op = ">=" if self.name.startswith("min") else "<="
        return f"{UNITS[self.name]} {op} {self.target:g}"


def parse_constraints(values: dict[str, float | None], clock_mhz: float = 200.0) -> list[Constraint]:
    """Constraints from CLI options (None: not given)."""
    return [Constraint(name, float(v), clock_mhz) for name, v in values.items() if v is not None]
