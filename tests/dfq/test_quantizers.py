import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dfq.quantizers import (
    affine_params,
    dequantize,
    fake_quantize,
    integer_range,
    per_channel_minmax,
    per_channel_mse,
    quantization_error,
    quantize,
    sqnr_db,
)

floats = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, width=32)
bits_st = st.integers(min_value=2, max_value=8)


def _tensor(values):
    return torch.tensor(values, dtype=torch.float32)


@settings(max_examples=200, deadline=None)
@given(st.lists(floats, min_size=2, max_size=64), bits_st)
def test_integers_stay_in_range_and_round_trip_within_half_a_step(values, bits):
    x = _tensor(values)
    scale, zp = affine_params(x.min(), x.max(), bits)
    q = quantize(x, scale, zp, bits)
    qmin, qmax = integer_range(bits)
    assert torch.all(q >= qmin) and torch.all(q <= qmax) and torch.equal(q, q.round())
    assert float(zp) == round(float(zp))
    error = (dequantize(q, scale, zp) - x).abs()
    assert torch.all(error <= scale / 2 * (1 + 1e-4) + 1e-6)  # x lies inside the calibrated range


@settings(max_examples=100, deadline=None)
@given(st.lists(floats, min_size=1, max_size=32), bits_st)
def test_zero_is_exact(values, bits):
    x = _tensor(values)
    scale, zp = affine_params(x.min(), x.max(), bits)
    assert dequantize(quantize(torch.zeros(1), scale, zp, bits), scale, zp).item() == 0.0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(floats, min_size=4, max_size=4), min_size=2, max_size=6), bits_st, st.data())
def test_per_channel_parameters_are_independent(rows, bits, data):
    w = _tensor(rows)
    scale, zp = per_channel_minmax(w, bits)
    k = data.draw(st.integers(0, len(rows) - 1))
    changed = w.clone()
    changed[k] = changed[k] * 3 + 1
    scale2, zp2 = per_channel_minmax(changed, bits)
    others = [i for i in range(len(rows)) if i != k]
    assert torch.equal(scale[others], scale2[others]) and torch.equal(zp[others], zp2[others])


def test_unsigned_activation_range_has_zero_point_zero():
    scale, zp = affine_params(torch.tensor(-1.0), torch.tensor(6.0), 4, unsigned=True)
    assert zp.item() == 0 and scale.item() == pytest.approx(6.0 / 15)


@pytest.mark.parametrize("shape", [(64, 32, 3, 3), (256, 128)])
def test_8_bit_per_channel_sqnr_floor(shape):
    """Gaussian weights at 8 bits: uniform-quantization theory gives ~6 dB/bit, about 40 dB after the
    range of a Gaussian (+-4 sigma over 256 levels); we require 35 dB."""
    w = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    scale, zp = per_channel_minmax(w, 8)
    assert sqnr_db(w, dequantize(quantize(w, scale, zp, 8), scale, zp)) > 35.0


def test_mse_clipping_is_never_worse_than_minmax_and_helps_at_low_bits():
    w = torch.randn(32, 200, generator=torch.Generator().manual_seed(1))
    for bits in (2, 3, 4):
        s1, z1 = per_channel_minmax(w, bits)
        s2, z2 = per_channel_mse(w, bits)
        e1 = (dequantize(quantize(w, s1, z1, bits), s1, z1) - w).pow(2).sum(1)
        e2 = (dequantize(quantize(w, s2, z2, bits), s2, z2) - w).pow(2).sum(1)
        assert torch.all(e2 <= e1 + 1e-6)
    assert e2.sum() < 0.9 * e1.sum()


def test_fake_quantize_passes_gradients_straight_through_inside_the_range():
    x = torch.tensor([-2.0, 0.3, 0.7, 5.0], requires_grad=True)
    scale, zp = affine_params(torch.tensor(-1.0), torch.tensor(1.0), 4)
    fake_quantize(x, scale, zp, 4).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 0.0]


@pytest.mark.parametrize("bits", [4, 8, 16])
def test_the_quantization_error_is_fake_quantize_minus_x_as_a_constant(bits):
    x = torch.randn(3, 5, 4, 4, requires_grad=True)
    scale, zp = per_channel_minmax(x, bits)
    err = quantization_error(x, scale, zp, bits)
    assert not err.requires_grad
    assert torch.allclose(x + err, fake_quantize(x, scale, zp, bits), atol=1e-6)
    assert bool(err.abs().max() <= scale.max() / 2 + 1e-6)  # within half a step: min/max clips nothing
    (x + err).sum().backward()
    assert bool((x.grad == 1).all())


@pytest.mark.parametrize("bits", [2, 4, 8, 16])
@pytest.mark.parametrize("per_channel", [False, True])
def test_fake_quantize_without_a_graph_is_bit_identical_to_the_recorded_one(bits, per_channel):
    x = torch.randn(6, 5, 4, 4) * 3
    scale, zp = per_channel_minmax(x * 0.7, bits)  # a grid narrower than x: values get clipped
    if not per_channel:
        scale, zp = scale.max().view(()), zp[0].view(())
    before = x.clone()
    with torch.no_grad():
        fast = fake_quantize(x, scale, zp, bits)
    recorded = fake_quantize(x.requires_grad_(), scale, zp, bits)
    assert recorded.requires_grad and not fast.requires_grad
    assert torch.equal(fast, recorded.detach())
    assert torch.equal(x.detach(), before)  # the in-place path works on its own buffer


def test_bad_bit_width():
    with pytest.raises(ValueError, match="bits must be in 2..16"):
        integer_range(1)
