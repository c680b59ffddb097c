import pytest
import torch
from torch import nn

from dfq.quant_model import (
    ActivationQuantizer,
    QuantSpec,
    QuantWrapper,
    activation_quantizers,
    calibrate,
    fold_batchnorm,
    freeze_weight_grids,
    learned_activation_scales,
    quantize_model,
)
from dfq.quantizers import sqnr_db


def _batches(shape, n=3, batch=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, *shape, generator=g) for _ in range(n)]


def test_every_conv_and_linear_is_wrapped_with_8_bit_edges(net):
    name, model, shape = net
    n_layers = sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in model.modules())
    q = quantize_model(model, QuantSpec(w_bits=4, a_bits=4))
    wrappers = [m for m in q.modules() if isinstance(m, QuantWrapper)]
    assert len(wrappers) == n_layers
    assert (wrappers[0].w_bits, wrappers[0].act.bits) == (8, 8)
    assert (wrappers[-1].w_bits, wrappers[-1].act.bits) == (8, 8)
    assert all(w.w_bits == 4 and w.act.bits == 4 for w in wrappers[1:-1])
    assert not any(isinstance(m, QuantWrapper) for m in model.modules())  # the original is untouched


def test_w8a8_stays_close_to_full_precision(net):
    name, model, shape = net
    q = calibrate(quantize_model(model, QuantSpec()), _batches(shape, n=2, batch=2))
    x = _batches(shape, n=1, batch=2, seed=1)[0]
    with torch.no_grad():
        ref, out = model(x), q(x)
    assert out.shape == ref.shape
    assert sqnr_db(ref, out) > 35.0, name  # measured ~43 dB at W8A8 (W4A4 ~26 dB, W2A2 ~10 dB)


def test_unsigned_ranges_after_relu_and_signed_elsewhere():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 4, 1), nn.Flatten(),
                          nn.Linear(4 * 26 * 26, 2)).eval()  # fmt: skip
    q = calibrate(quantize_model(model, QuantSpec(keep_first_last_8bit=False)), _batches((1, 28, 28)))
    first, after_relu, _ = activation_quantizers(q)
    assert first.zero_point.item() > 0  # the signed input needs a shifted zero point
    assert after_relu.zero_point.item() == 0  # after ReLU: unsigned


def test_ema_observer_is_bias_corrected():
    aq = ActivationQuantizer(8, "ema", momentum=0.9)
    aq.observing = True
    aq(torch.tensor([-1.0, 2.0]))
    aq.freeze()
    # one batch: the corrected EMA is exactly that batch's range, not 10% of it
    assert aq.scale.item() == pytest.approx(3.0 / 255)


def test_percentile_observer_clips_outliers():
    aq = ActivationQuantizer(8, "percentile", percentile=99.0)
    aq.observing = True
    x = torch.cat([torch.linspace(-1, 1, 10000), torch.tensor([100.0])])
    aq(x)
    aq.freeze()
    assert aq.scale.item() < 3.0 / 255


def test_mse_observer_trades_clipping_for_resolution():
    # ReLU6-like: most values small, a few at 6. At 4 bits the min/max step (6/15) leaves the bulk only
    # two levels; the MSE range clips the rare large values and has a smaller squared error.
    torch.manual_seed(0)
    x = torch.cat([torch.rand(20000).pow(3) * 2, torch.full((20,), 6.0)])
    errors = {}
    for observer in ("ema", "mse"):
        aq = ActivationQuantizer(4, observer)
        aq.observing = True
        aq(x)
        aq.observing = False
        aq.freeze()
        assert aq.zero_point.item() == 0  # unsigned range
        errors[observer] = (aq(x) - x).pow(2).mean().item()
    assert aq.scale.item() < 6.0 / 15
    assert errors["mse"] < 0.9 * errors["ema"]


def test_use_before_calibration_fails_clearly():
    q = quantize_model(nn.Sequential(nn.Linear(4, 2)), QuantSpec())
    with pytest.raises(RuntimeError, match="before calibration"):
        q(torch.randn(1, 4))


def test_straight_through_gradients_reach_the_weights():
    q = calibrate(quantize_model(nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)), QuantSpec(4, 4)),
                  _batches((4,), batch=8))  # fmt: skip
    q(torch.randn(8, 4)).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in q.parameters())


def test_fold_batchnorm_keeps_the_function(net):
    name, model, shape = net
    folded = fold_batchnorm(model)
    x = _batches(shape, n=1, batch=2, seed=2)[0]
    with torch.no_grad():
        assert torch.allclose(model(x), folded(x), rtol=1e-4, atol=1e-4), name
    assert sum(isinstance(m, nn.BatchNorm2d) for m in folded.modules()) == 0


def test_bad_spec():
    with pytest.raises(ValueError, match="w_bits must be in 2..16"):
        QuantSpec(w_bits=1)
    with pytest.raises(ValueError, match="weight_clipping"):
        QuantSpec(weight_clipping="magic")


def test_learned_activation_scales_get_gradients_and_fold_back_into_the_frozen_scale():
    q = calibrate(quantize_model(nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)), QuantSpec(4, 4)),
                  _batches((4,), batch=8))  # fmt: skip
    keys = set(q.state_dict())
    before = [float(a.scale) for a in activation_quantizers(q)]
    with learned_activation_scales(q, enabled=True) as gains:
        assert len(gains) == 2 and all(g.requires_grad for g in gains)
        q(torch.randn(8, 4)).pow(2).sum().backward()
        assert all(g.grad is not None and g.grad != 0 for g in gains)
        with torch.no_grad():
            gains[0].fill_(0.5)  # the first quantizer's scale grows by e^0.5
    after = [float(a.scale) for a in activation_quantizers(q)]
    assert after == pytest.approx([before[0] * 1.6487213, before[1]], rel=1e-5)
    assert all(a.log_gain is None for a in activation_quantizers(q)) and set(q.state_dict()) == keys
    with learned_activation_scales(q, enabled=False) as gains:
        assert gains == []


def test_a_scale_is_learned_only_after_calibration():
    with pytest.raises(RuntimeError, match="calibrated before"):
        ActivationQuantizer(4).start_learning_scale()


def _one_layer(w_bits: int = 3) -> QuantWrapper:
    """A 1 -> 1 linear layer with weights 0, 0.1, ..., 0.7 in one channel (grid step 0.1 at 3 bits)."""
    layer = nn.Linear(8, 1, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.arange(8.0).view(1, 8) / 10)
    return QuantWrapper(layer, w_bits, 8, QuantSpec())


def test_a_frozen_weight_grid_does_not_follow_the_extreme_weight():
    moving, frozen = _one_layer(), _one_layer()
    frozen.freeze_weight_grid()
    assert frozen.weight_scale.item() == pytest.approx(0.1) and frozen.weight_zero_point.item() == 0
    for wrapper in (moving, frozen):
        with torch.no_grad():
            wrapper.layer.weight[0, 7] = 0.84  # the largest weight moves outward
    # the moving grid stretches to step 0.12 and re-rounds every weight; the frozen one clips 0.84 to 0.7
    assert moving.quantized_weight()[0, 1].item() == pytest.approx(0.12)
    assert frozen.quantized_weight()[0].tolist() == pytest.approx([i / 10 for i in range(8)])


def test_a_frozen_weight_grid_is_saved_and_reloaded():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    q = calibrate(quantize_model(model, QuantSpec(3, 3, keep_first_last_8bit=False)), _batches((4,), batch=8))
    fresh_keys = set(q.state_dict())
    freeze_weight_grids(q)
    with torch.no_grad():
        q[0].layer.weight.mul_(1.5)  # outside the frozen grid: clipped, unlike under a moving grid
    reloaded = quantize_model(model, QuantSpec(3, 3, keep_first_last_8bit=False))
    reloaded.load_state_dict(q.state_dict())
    grid_keys = {f"{i}.weight_{k}" for i in (0, 2) for k in ("scale", "zero_point")}
    assert set(q.state_dict()) - fresh_keys == grid_keys
    x = torch.randn(5, 4)
    assert torch.equal(reloaded(x), q(x))
    unfrozen = quantize_model(model, QuantSpec(3, 3, keep_first_last_8bit=False))
    unfrozen.load_state_dict({k: v for k, v in q.state_dict().items() if k in fresh_keys})
    assert not torch.equal(unfrozen(x), q(x))
