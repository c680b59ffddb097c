import random

import pytest

from accel_model.domain import Accelerator
from accel_model.space import FIELDS, DesignSpace

SPACE = DesignSpace()


def test_default_space_values_and_size():
    assert SPACE.pe_rows == (8, 12, 14, 16, 20, 24, 32) and SPACE.bits == (4, 8, 16)
    assert SPACE.size == 7 * 7 * 6 * 6 * 3 * 3


def test_indices_roundtrip_and_one_hot():
    rng = random.Random(0)
    for _ in range(50):
        accel = SPACE.sample(rng)
        assert SPACE.from_indices(SPACE.indices(accel)) == accel
        groups = SPACE.one_hot(accel)
        assert [len(g) for g in groups] == [len(SPACE.choices(f)) for f in FIELDS]
        assert all(sum(g) == 1.0 for g in groups)


def test_vector_is_scaled_to_unit_interval():
    lo = SPACE.vector(Accelerator(8, 8, 16, 32, "WS", 4))
    hi = SPACE.vector(Accelerator(32, 32, 512, 512, "RS", 16))
    assert lo[:5] == [0.0] * 5 and hi[:5] == [1.0] * 5
    assert lo[5:] == [1.0, 0.0, 0.0] and hi[5:] == [0.0, 0.0, 1.0]


def test_sampling_is_uniform_enough():
    rng = random.Random(1)
    flows = [SPACE.sample(rng).dataflow for _ in range(3000)]
    assert all(800 < flows.count(d) < 1200 for d in SPACE.dataflow)


@pytest.mark.parametrize("accel,match", [
    (Accelerator(pe_rows=10), r"pe_rows=10 is outside the design space; allowed: \[8, 12"),
    (Accelerator(glb_kib=100), "glb_kib=100 is outside"),
    (Accelerator(clock_mhz=300), "clock_mhz=300 is outside"),
])  # fmt: skip
def test_check_names_the_field(accel, match):
    with pytest.raises(ValueError, match=match):
        SPACE.check(accel)
