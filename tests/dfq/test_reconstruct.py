"""Layer-wise reconstruction with learned rounding (dfq/finetunes/reconstruct.py)."""

import pytest
import torch
from torch import nn

from dfq.api import dfq_profile
from dfq.finetune import finetune
from dfq.finetunes.reconstruct import (
    LearnedRounding,
    ReconstructConfig,
    beta_at,
    execution_order,
    initial_v,
    rectified_sigmoid,
)
from dfq.quant_model import QuantSpec, QuantWrapper, calibrate, quantize_model
from dfq.sources import SourceContext, make_source


def test_the_rounding_variables_start_at_each_weights_own_fraction():
    fractions = torch.tensor([0.0, 0.1, 0.5, 0.93])
    assert torch.allclose(rectified_sigmoid(initial_v(fractions)), fractions, atol=1e-6)
    assert beta_at(0.2) == pytest.approx(20.0) and beta_at(1.0) == pytest.approx(2.0)


def test_the_soft_weight_starts_at_the_float_weight_and_the_hard_one_lies_on_the_grid():
    torch.manual_seed(0)
    wrapper = QuantWrapper(nn.Conv2d(4, 6, 3), 4, 8, QuantSpec(4, 8))
    weight = wrapper.layer.weight.detach().clone()
    rounding = LearnedRounding(wrapper)
    assert bool(((rounding.weight() - weight).abs() <= rounding.scale / 2 + 1e-6).all())  # float, or clipped
    rounding.commit()
    assert torch.equal(wrapper.quantized_weight(), wrapper.layer.weight)  # what it computes from now on
    nearest = torch.round(weight / rounding.scale)
    assert torch.equal(torch.round(wrapper.layer.weight / rounding.scale), nearest)  # V started near


def test_execution_order_follows_the_forward_not_the_module_order():
    class Backwards(nn.Module):
        def __init__(self):
            super().__init__()
            self.second, self.first = nn.Linear(4, 3), nn.Linear(5, 4)

        def forward(self, x):
            return self.second(self.first(x))

    student = quantize_model(Backwards(), QuantSpec(8, 8))
    calibrate(student, [torch.randn(4, 5)])
    assert [name for name, _ in execution_order(student, torch.randn(2, 5))] == ["first", "second"]


def small_teacher() -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1),
        nn.BatchNorm2d(16), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10),
    )  # fmt: skip
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return net.eval()


def test_reconstruction_brings_the_w2_outputs_closer_than_nearest_rounding():
    teacher = small_teacher()
    settings = dfq_profile("smoke", batch_size=32, reconstruct_images=64, reconstruct_iters=100)
    source = make_source("noise", teacher, SourceContext((1, 12, 12), 10, settings))
    students = []
    for name in ("none", "reconstruct"):
        student = quantize_model(teacher, QuantSpec(2, 8, keep_first_last_8bit=False))
        calibrate(student, [source.sample(32, torch.Generator().manual_seed(0))[0]])
        history = finetune(student, teacher, source, name, settings)
        students.append(student)
    assert len(history) == 100 * 3  # per step of each of the three layers
    x = source.sample(64, torch.Generator().manual_seed(1))[0]
    with torch.no_grad():
        target = teacher(x)
        nearest, learned = ((s(x) - target).pow(2).mean().item() for s in students)
    assert learned < 0.7 * nearest  # measured: 0.41x
    for m in students[1].modules():  # every layer kept its learned rounding, on a frozen grid
        if isinstance(m, QuantWrapper):
            assert m.weight_scale is not None and torch.equal(m.quantized_weight(), m.layer.weight)


def test_reconstruct_settings_are_checked():
    with pytest.raises(ValueError, match="reconstruct_iters must be > 0"):
        dfq_profile("quick", reconstruct_iters=0)
    assert ReconstructConfig().reconstruct_images == 256
