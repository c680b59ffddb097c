"""Real ZigZag runs on small layers (a second or less each)."""

import pytest

from accel_model.area import accelerator_area
from accel_model.domain import Accelerator, LayerShape
from accel_model.simulators import BACKENDS, make_simulator
from accel_model.simulators.zigzag_backend import spatial_mapping, zigzag_workload

SIM = make_simulator("zigzag", lpf_limit=2)
CONV = LayerShape(8, 16, 3, 1, 1, (8, 8))
SMALL = Accelerator(8, 8, 64, 32, "WS", 8)


def dram_energy(cme) -> float:
    return sum(levels[-1] for levels in cme.mem_energy_breakdown.values())


def test_registry_and_unknown_backend():
    assert "zigzag" in BACKENDS
    with pytest.raises(ValueError, match="unknown simulator backend 'timeloop'"):
        make_simulator("timeloop")
    with pytest.raises(ValueError, match="criterion must be one of"):
        make_simulator("zigzag", criterion="speed")


@pytest.mark.parametrize("layer", [
    CONV,
    LayerShape(16, 16, 3, 2, 16, (8, 8)),  # depthwise, strided
    LayerShape(16, 32, 1, 1, 1, (4, 4)),  # pointwise
    LayerShape(32, 10),  # linear
    LayerShape(8, 8, 3, 1, 2, (4, 4)),  # grouped
])  # fmt: skip
@pytest.mark.parametrize("dataflow", ["WS", "OS", "RS"])
def test_latency_at_least_ideal_and_area_exact(layer, dataflow):
    accel = Accelerator(8, 8, 64, 32, dataflow, 8)
    cost = SIM.simulate(layer, accel)
    assert cost.latency_cycles >= layer.macs / accel.num_pes
    assert cost.energy_pj > 0
    assert cost.area_mm2 == accelerator_area(accel)


def test_energy_grows_with_bits():
    energies = [SIM.simulate(CONV, Accelerator(8, 8, 64, 32, "WS", b)).energy_pj for b in (4, 8, 16)]
    assert energies[0] < energies[1] < energies[2]


def test_energy_grows_with_dram_traffic():
    one, two = (SIM.evaluate(LayerShape(8, 16, 3, 1, 1, (8, 8), batch=b), SMALL) for b in (1, 2))
    assert dram_energy(two) > dram_energy(one) > 0
    assert two.energy_total > one.energy_total


def test_dataflows_give_different_mappings():
    layer = LayerShape(16, 16, 3, 1, 1, (8, 8))
    mappings = {df: spatial_mapping(layer, Accelerator(8, 8, 64, 32, df, 8)) for df in ("WS", "OS", "RS")}
    assert mappings["WS"] == {"D1": ["K, 8"], "D2": ["C, 8"]}
    assert mappings["OS"] == {"D1": ["OX, 8"], "D2": ["OY, 8"]}
    assert mappings["RS"] == {"D1": ["FY, 3", "K, 2"], "D2": ["OY, 8"]}
    cmes = {df: SIM.evaluate(layer, Accelerator(8, 8, 64, 32, df, 8)) for df in mappings}
    assert len({str(c.spatial_mapping) for c in cmes.values()}) == 3
    assert len({round(c.energy_total) for c in cmes.values()}) == 3


def test_depthwise_workload_uses_groups():
    wl = zigzag_workload(LayerShape(16, 16, 3, 2, 16, (8, 8)), 8)
    assert wl["equation"] == "O[b][g][oy][ox]+=W[g][fy][fx]*I[b][g][iy][ix]"
    assert dict(zip(wl["loop_dims"], wl["loop_sizes"], strict=True))["G"] == 16


def test_bigger_array_is_not_slower_on_a_wide_layer():
    layer = LayerShape(32, 32, 1, 1, 1, (8, 8))
    small = SIM.simulate(layer, Accelerator(8, 8, 64, 128, "WS", 8))
    big = SIM.simulate(layer, Accelerator(32, 32, 64, 128, "WS", 8))
    assert big.latency_cycles < small.latency_cycles
