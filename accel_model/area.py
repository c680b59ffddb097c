"""Chip area of an accelerator, in mm^2: the project's own figure (ZigZag reports none for digital cores).

PE array (MACs + register files, ``accel_model.technology``) plus the global buffer (CACTI); DRAM is off
chip. Every backend and every search reports this same number, so areas compare across simulators."""

from __future__ import annotations

from accel_model.cacti import sram_cost
from accel_model.domain import Accelerator
from accel_model.technology import GLB_PORT_BITS, accelerator_area_mm2


def accelerator_area(accel: Accelerator) -> float:
    """Area of ``accel`` in mm^2."""
    return accelerator_area_mm2(accel, sram_cost(accel.glb_kib * 1024, GLB_PORT_BITS).area_mm2)
