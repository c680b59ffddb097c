"""``DesignSpace``: the allowed values of every accelerator field, encodings and uniform sampling."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

from accel_model.domain import BIT_WIDTHS, DATAFLOWS, Accelerator

FIELDS = ("pe_rows", "pe_cols", "rf_bytes", "glb_kib", "dataflow", "bits")
NUMERIC_FIELDS = ("pe_rows", "pe_cols", "rf_bytes", "glb_kib", "bits")


@dataclass(frozen=True)
class DesignSpace:
    """Allowed values per field (``clock_mhz`` is fixed). The search relaxes each field to a
    probability vector over ``choices(field)``; that is why every field is a finite list."""

    pe_rows: tuple[int, ...] = (8, 12, 14, 16, 20, 24, 32)
    pe_cols: tuple[int, ...] = (8, 12, 14, 16, 20, 24, 32)
    rf_bytes: tuple[int, ...] = (16, 32, 64, 128, 256, 512)
    glb_kib: tuple[int, ...] = (32, 64, 108, 128, 256, 512)
    dataflow: tuple[str, ...] = DATAFLOWS
    bits: tuple[int, ...] = BIT_WIDTHS
    clock_mhz: int = 200
    _index: dict = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in FIELDS:
            values = getattr(self, name)
            if not values or len(set(values)) != len(values):
                raise ValueError(f"design space field {name} needs distinct values, got {values!r}")
        # Constructing one accelerator per extreme validates the values themselves.
        Accelerator(
            *(max(getattr(self, n)) for n in FIELDS[:4]), self.dataflow[0], self.bits[0], self.clock_mhz
        )
        index = {name: {v: i for i, v in enumerate(getattr(self, name))} for name in FIELDS}
        object.__setattr__(self, "_index", index)

    def choices(self, name: str) -> tuple:
        return getattr(self, name)

    @property
    def size(self) -> int:
        return math.prod(len(self.choices(n)) for n in FIELDS)

    def check(self, accel: Accelerator) -> Accelerator:
        """Raise ``ValueError`` naming the first field whose value is outside the space."""
        for name in FIELDS:
            value = getattr(accel, name)
            if value not in self._index[name]:
                raise ValueError(
                    f"{name}={value!r} is outside the design space; allowed: {list(self.choices(name))}"
                )
        if accel.clock_mhz != self.clock_mhz:
            raise ValueError(
                f"clock_mhz={accel.clock_mhz} is outside the design space; allowed: [{self.clock_mhz}]"
            )
        return accel

    def indices(self, accel: Accelerator) -> tuple[int, ...]:
        self.check(accel)
        return tuple(self._index[name][getattr(accel, name)] for name in FIELDS)

    def from_indices(self, indices: tuple[int, ...]) -> Accelerator:
        values = {name: self.choices(name)[i] for name, i in zip(FIELDS, indices, strict=True)}
        return Accelerator(**values, clock_mhz=self.clock_mhz)

    def one_hot(self, accel: Accelerator) -> list[list[float]]:
        """One group per field, in ``FIELDS`` order."""
        return [
            [1.0 if i == idx else 0.0 for i in range(len(self.choices(name)))]
            for name, idx in zip(FIELDS, self.indices(accel), strict=True)
        ]

    def vector(self, accel: Accelerator) -> list[float]:
        """Numeric fields as log2 values scaled to [0, 1] over the space, then the dataflow one-hot."""
        self.check(accel)
        out = []
        for name in NUMERIC_FIELDS:
            lo, hi = math.log2(min(self.choices(name))), math.log2(max(self.choices(name)))
            out.append((math.log2(getattr(accel, name)) - lo) / (hi - lo) if hi > lo else 0.0)
        return out + [1.0 if accel.dataflow == d else 0.0 for d in self.dataflow]

    def sample(self, rng: random.Random) -> Accelerator:
        """Uniform over the product of the allowed values."""
        return self.from_indices(tuple(rng.randrange(len(self.choices(n))) for n in FIELDS))

    def to_dict(self) -> dict[str, Any]:
        return {name: list(self.choices(name)) for name in FIELDS} | {"clock_mhz": self.clock_mhz}
