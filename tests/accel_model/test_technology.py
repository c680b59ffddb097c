import pytest

from accel_model.area import accelerator_area
from accel_model.cacti import sram_cost
from accel_model.domain import Accelerator
from accel_model.technology import (
    GLB_PORT_BITS,
    RF_UM2_PER_BIT,
    mac_area_um2,
    mac_energy_pj,
    psum_bits,
    rf_split_bits,
)


def test_power_law_hits_the_published_points():
    # Horowitz 2014: 8b mult 0.2 pJ + add at the 24-bit accumulator; 32-bit multiply 3.1 pJ
    assert mac_energy_pj(8) == pytest.approx(0.2 + 0.03 * 3 ** (0.8685), rel=1e-3)
    assert mac_energy_pj(4) < mac_energy_pj(8) < mac_energy_pj(16)
    assert mac_area_um2(4) < mac_area_um2(8) < mac_area_um2(16)


def test_area_is_the_exact_formula():
    accel = Accelerator(16, 12, 64, 128, "RS", 8)
    rf_bits = sum(rf_split_bits(64, 8).values())
    expected = 16 * 12 * (mac_area_um2(8) + rf_bits * RF_UM2_PER_BIT) * 1e-6
    expected += sram_cost(128 * 1024, GLB_PORT_BITS).area_mm2
    assert accelerator_area(accel) == pytest.approx(expected, rel=1e-12)
    assert accelerator_area(Accelerator(32, 32, 64, 128, "RS", 8)) > accelerator_area(accel)


def test_register_files_hold_at_least_one_word():
    split = rf_split_bits(16, 16)
    assert split["O"] >= psum_bits(16) and split["I"] >= 16 and split["W"] == 64


def test_committed_cacti_table_covers_the_default_space():
    areas = [sram_cost(kib * 1024, GLB_PORT_BITS).area_mm2 for kib in (32, 64, 108, 128, 256, 512)]
    assert areas[0] < areas[-1] and all(a > 0 for a in areas)
