"""Properties of the domain objects, over generated inputs: valid objects round-trip through their dicts
(and keep their cache keys), and from_dict on any JSON value either builds a valid object or raises the
documented ValueError, never anything else."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from accel_model.cache import cache_key
from accel_model.domain import BIT_WIDTHS, DATAFLOWS, Accelerator, Cost, LayerShape

positive = st.integers(min_value=1, max_value=4096)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
accelerators = st.builds(
    Accelerator, pe_rows=positive, pe_cols=positive, rf_bytes=positive, glb_kib=positive,
    dataflow=st.sampled_from(DATAFLOWS), bits=st.sampled_from(BIT_WIDTHS), clock_mhz=positive,
)  # fmt: skip


@st.composite
def layers(draw):
    groups = draw(st.integers(1, 8))
    kernel = draw(st.integers(1, 7) | st.tuples(st.integers(1, 7), st.integers(1, 7)))
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    return LayerShape(
        in_channels=groups * draw(st.integers(1, 64)), out_channels=groups * draw(st.integers(1, 64)),
        kernel=kernel, stride=draw(st.integers(1, 4)), groups=groups,
        in_hw=(draw(st.integers(max(1, kh // 2), 224)), draw(st.integers(max(1, kw // 2), 224))),
        batch=draw(st.integers(1, 8)),
    )  # fmt: skip


def _from_dict_or_value_error(cls, data):
    try:
        return cls.from_dict(data)
    except ValueError as exc:
        assert str(exc) and "\n" not in str(exc)  # one line, for the CLI's `error: ...`
        return None


@given(accelerators, layers())
def test_valid_objects_round_trip_through_json_and_keep_their_cache_key(accel, layer):
    accel2 = Accelerator.from_dict(json.loads(json.dumps(accel.to_dict())))
    layer2 = LayerShape.from_dict(json.loads(json.dumps(layer.to_dict())))
    assert accel2 == accel and layer2 == layer
    assert cache_key(layer2, accel2, "zigzag", "1", {"lpf": 6}) == cache_key(
        layer, accel, "zigzag", "1", {"lpf": 6}
    )


@given(layers())
def test_a_valid_layer_has_an_output_and_work(layer):
    oh, ow = layer.out_hw
    assert oh >= 1 and ow >= 1 and layer.macs >= 1 and layer.weight_count >= 1


@settings(max_examples=300)
@given(json_values)
def test_from_dict_of_any_json_builds_or_raises_value_error(value):
    for cls in (Accelerator, LayerShape):
        _from_dict_or_value_error(cls, value)


@settings(max_examples=300)
@given(accelerators, st.sampled_from([f for f in Accelerator().to_dict()]), json_values)
def test_one_field_changed_to_any_json_value_is_valid_exactly_when_it_is_an_allowed_value(
    accel, field, value
):
    data = {**accel.to_dict(), field: value}
    built = _from_dict_or_value_error(Accelerator, data)
    allowed = {"dataflow": DATAFLOWS, "bits": BIT_WIDTHS}
    if field in allowed:
        valid = type(value) is type(allowed[field][0]) and value in allowed[field]
    else:
        valid = type(value) is int and value >= 1
    assert (built is not None) == valid, (field, value)
    if built is not None:
        assert built.to_dict() == data  # nothing coerced: 8.0 or true never become 8 or 1


@given(st.lists(st.tuples(st.floats(0, 1e9), st.floats(0, 1e12), st.floats(0, 100)), min_size=1, max_size=6))
def test_costs_add_latency_and_energy_and_keep_the_largest_area(parts):
    costs = [Cost(lat, en, area) for lat, en, area in parts]
    total = sum(costs[1:], costs[0])
    assert total.area_mm2 == max(a for *_, a in parts)
    assert abs(total.latency_cycles - sum(p[0] for p in parts)) <= 1e-9 * max(1.0, total.latency_cycles)
    assert abs(total.energy_pj - sum(p[1] for p in parts)) <= 1e-9 * max(1.0, total.energy_pj)
