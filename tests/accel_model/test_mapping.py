import numpy as np

from accel_model.domain import LayerShape
from accel_model.mapping import ideal_compute_cycles, input_span, spatial_operand_words, unrolled_factors

CONV = LayerShape(128, 128, 3, 1, 1, (28, 28))


def test_input_span_counts_the_halo_or_only_the_touched_pixels():
    assert input_span(4, 3, 1) == 6  # a 3x3 window over 4 outputs: 2 pixels of halo
    assert input_span(7, 1, 2) == 7  # a 1x1 stride-2 conv touches every other pixel only
    assert input_span(7, 3, 2) == 15
    assert np.array_equal(input_span(np.array([1, 7]), np.array([1, 1]), 2), [1, 7])


def test_even_split_spreads_a_dim_over_its_temporal_steps():
    # 28 output columns on 20 PEs run as 2 steps of 14 (ZigZag's SpatialMapping holds OX 14.0)
    nominal = unrolled_factors(CONV, 20, 20, "OS")
    even = unrolled_factors(CONV, 20, 20, "OS", even=True)
    assert nominal["OX"] == nominal["OY"] == 20 and even["OX"] == even["OY"] == 14
    assert ideal_compute_cycles(CONV, 20, 20, "OS") == 128 * 128 * 9 * 2 * 2  # the steps do not change
    assert spatial_operand_words(CONV, 20, 20, "OS", even=True)[2] == 14 * 14
    # an uneven split is fractional: 512 channels on 14 rows take 37 steps of 13.84
    fc = LayerShape(256, 512, 1, 2, 1, (14, 14))
    assert unrolled_factors(fc, 14, 32, "WS", even=True)["K"] == 512 / 37
