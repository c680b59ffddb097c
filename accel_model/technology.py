"""Per-operation energy and area figures for the Eyeriss-like template, at 45 nm.

Every constant names its source. Widths between the published points are interpolated with a power
law fitted through them (exponents computed below, not tuned). SRAM (the global buffer) comes from
CACTI at the same node (``accel_model.cacti``); DRAM and the register files from the figures here.
"""

from __future__ import annotations

import math

from accel_model.domain import Accelerator

TECHNOLOGY_NM = 45

# M. Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014, 45 nm:
# integer multiply 8b 0.2 pJ / 32b 3.1 pJ, integer add 8b 0.03 pJ / 32b 0.1 pJ;
# areas: multiply 8b 282 um^2 / 32b 3495 um^2, add 8b 36 um^2 / 32b 137 um^2;
# DRAM 1.3-2.6 nJ per 64-bit access (we take the low end).
MULT_PJ = (0.2, 3.1)
ADD_PJ = (0.03, 0.1)
MULT_UM2 = (282.0, 3495.0)
ADD_UM2 = (36.0, 137.0)
DRAM_PJ_PER_64B = 1300.0
DRAM_BITS_PER_CYCLE = 64

# Y.-H. Chen et al., "Eyeriss: a spatial architecture for energy-efficient dataflow for CNNs",
# ISCA 2016, Fig. 1 / Table: a register-file access costs about 1x a (16-bit) MAC, for their
# 0.5 KB per-PE scratchpads. We scale with sqrt(capacity / 512 B) (bit-line length, the usual
# first-order SRAM/RF model) and linearly with word width.
RF_REFERENCE_BYTES = 512
RF_REFERENCE_BITS = 16

# NanGate 45 nm Open Cell Library: DFF_X1 cell area 4.522 um^2, one stored bit of a register file.
RF_UM2_PER_BIT = 4.522

# Global buffer port width (bits/cycle, one read and one write port) and partial-sum width.
GLB_PORT_BITS = 256


def _power_law(points: tuple[float, float], width_bits: float) -> float:
    """Interpolate a quantity known at 8 and 32 bits as a * (w / 8) ** p through both points."""
    at8, at32 = points
    exponent = math.log(at32 / at8) / math.log(4.0)
    return at8 * (width_bits / 8.0) ** exponent


def psum_bits(bits: int) -> int:
    """Accumulator width: the product (2 x bits) plus 8 guard bits for long reductions."""
    return 2 * bits + 8


def mac_energy_pj(bits: int) -> float:
    return _power_law(MULT_PJ, bits) + _power_law(ADD_PJ, psum_bits(bits))


def mac_area_um2(bits: int) -> float:
    return _power_law(MULT_UM2, bits) + _power_law(ADD_UM2, psum_bits(bits))


def rf_energy_pj(word_bits: int, capacity_bytes: int) -> float:
    """Energy of one register-file access of ``word_bits`` in an RF of ``capacity_bytes``."""
    scale = math.sqrt(max(capacity_bytes, 1) / RF_REFERENCE_BYTES)
    return mac_energy_pj(RF_REFERENCE_BITS) * (word_bits / RF_REFERENCE_BITS) * scale


def rf_split_bits(rf_bytes: int, bits: int) -> dict[str, int]:
    """Split of a PE's register file between operands, in bits: weights half, inputs and partial sums a
    quarter each (Eyeriss gives weights the largest scratchpad), and at least one word each."""
    return {
        "W": max(rf_bytes * 8 // 2, bits),
        "I": max(rf_bytes * 8 // 4, bits),
        "O": max(rf_bytes * 8 // 4, psum_bits(bits)),
    }


def pe_array_area_mm2(accel: Accelerator) -> float:
    """MACs + register files of all PEs, in mm^2."""
    rf_bits = sum(rf_split_bits(accel.rf_bytes, accel.bits).values())
    per_pe_um2 = mac_area_um2(accel.bits) + rf_bits * RF_UM2_PER_BIT
    return accel.num_pes * per_pe_um2 * 1e-6


def accelerator_area_mm2(accel: Accelerator, glb_area_mm2: float) -> float:
    """Area of the chip: PE array (MACs + RFs) + global buffer (CACTI). DRAM is off chip."""
    return pe_array_area_mm2(accel) + glb_area_mm2
