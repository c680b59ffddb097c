import math

import pytest

from accel_model.domain import Accelerator, Cost, LayerShape


def test_layer_shape_macs_and_out_hw():
    conv = LayerShape(64, 64, 3, 1, 1, (56, 56))
    assert conv.out_hw == (56, 56) and conv.macs == 56 * 56 * 64 * 64 * 9
    strided = LayerShape(16, 16, 3, 2, 16, (28, 28), batch=2)
    assert strided.is_depthwise and strided.out_hw == (14, 14) and strided.macs == 2 * 14 * 14 * 16 * 9
    assert LayerShape(256, 10).macs == 2560


def test_layer_shape_roundtrip_and_kernel_forms():
    s = LayerShape.from_dict(
        {
            "in_channels": 8,
            "out_channels": 4,
            "kernel": [1, 3],
            "stride": 1,
            "groups": 1,
            "in_hw": [7, 7],
            "batch": 1,
        }
    )
    assert s.kernel == (1, 3) and LayerShape.from_dict(s.to_dict()) == s
    assert LayerShape(8, 8, 5, in_hw=(5, 5)).to_dict()["kernel"] == 5


@pytest.mark.parametrize(
    "bad,match",
    [
        ({"in_channels": 0, "out_channels": 1}, "in_channels must be a positive integer"),
        ({"in_channels": 6, "out_channels": 6, "groups": 4}, "groups=4 must divide"),
        ({"in_channels": 1, "out_channels": 1, "kernel": [1, 2, 3]}, "kernel must be an int or a pair"),
        ({"in_channels": 1, "out_channels": 1, "colour": 3}, r"unknown field\(s\) \['colour'\]"),
        (
            {"in_channels": 8, "out_channels": 8, "kernel": 99, "in_hw": [7, 7]},
            "99x99 on a 7x7 input",
        ),
        ({"in_channels": 8, "out_channels": 8, "kernel": [1, 7], "in_hw": [7, 2]}, "1x7 on a 7x2 input"),
    ],
)
def test_layer_shape_rejects_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        LayerShape.from_dict(bad)


def test_accelerator_validation_and_roundtrip():
    acc = Accelerator()
    assert Accelerator.from_dict(acc.to_dict()) == acc and acc.num_pes == 168
    with pytest.raises(ValueError, match=r"dataflow must be one of \['WS', 'OS', 'RS'\]"):
        Accelerator(dataflow="XY")
    with pytest.raises(ValueError, match="bits must be one of"):
        Accelerator(bits=5)


def test_cost_sum_and_derived():
    a, b = Cost(1e6, 2e6, 1.5, clock_mhz=200), Cost(1e6, 1e6, 1.5, clock_mhz=200)
    total = a + b
    assert total.latency_cycles == 2e6 and total.energy_pj == 3e6 and total.area_mm2 == 1.5
    assert math.isclose(total.latency_s, 0.01) and math.isclose(total.fps, 100)
    assert math.isclose(total.edap, 3e-6 * 0.01 * 1.5)


# Refused at the boundary when a field has the wrong type or is missing: before any cache key or
# simulation is made of them.
FULL = {"pe_rows": 14, "pe_cols": 12, "rf_bytes": 64, "glb_kib": 108, "dataflow": "WS", "bits": 8}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"bits": 8.0}, "bits must be one of"),
        ({"bits": True}, "bits must be one of"),
        ({"pe_rows": 14.0}, "pe_rows must be a positive integer"),
        ({"glb_kib": "108"}, "glb_kib must be a positive integer"),
        ({"dataflow": ["WS"]}, "dataflow must be one of"),
        ({"clock": 200}, "unknown field"),
    ],
)
def test_wrong_types_and_unknown_fields_name_the_field(change, message):
    with pytest.raises(ValueError, match=message):
        Accelerator.from_dict({**FULL, **change})


def test_missing_fields_are_refused_but_the_clock_has_its_documented_default():
    with pytest.raises(ValueError, match="missing field"):
        Accelerator.from_dict({})
    with pytest.raises(ValueError, match=r"missing field\(s\) \['bits'\]"):
        Accelerator.from_dict({k: v for k, v in FULL.items() if k != "bits"})
    assert Accelerator.from_dict(FULL).clock_mhz == 200


def test_the_simulate_command_refuses_a_float_bit_width_before_the_cache(tmp_path, cli):
    import json

    hw = tmp_path / "hw.json"
    hw.write_text(json.dumps({**FULL, "bits": 8.0}))
    cache = tmp_path / "cache.sqlite"
    result = cli("simulate", "--net", "default", "--hw", hw, "--cache", cache)
    assert result.exit_code == 2 and "bits" in result.output and result.output.count("\n") == 1
    assert not cache.exists()
