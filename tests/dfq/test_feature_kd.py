import pytest
import torch
from torch import nn

from dfq.feature_kd import FeatureMatch
from dfq.quant_model import QuantSpec, calibrate, quantize_model


def _pair(bits: int = 3):
    torch.manual_seed(0)
    teacher = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3)).eval()
    student = quantize_model(teacher, QuantSpec(bits, bits, keep_first_last_8bit=False))
    return teacher, calibrate(student, [torch.randn(8, 1, 6, 6)])


def test_loss_is_the_variance_normalized_error_of_every_quantized_layer_but_the_classifier():
    teacher, student = _pair()
    x = torch.randn(4, 1, 6, 6)
    with FeatureMatch(student, teacher) as match:
        assert match.names == ["0"]
        teacher(x)
        student(x)
        got = match.loss().item()
    target = teacher[0](x)
    expected = ((student[0](x) - target).pow(2).mean() / target.var()).item()
    assert got == pytest.approx(expected, rel=1e-5) and got > 0
    assert not teacher[0]._forward_hooks and not student[0]._forward_hooks


def test_more_bits_imitate_the_teacher_better():
    x = torch.randn(4, 1, 6, 6)
    losses = []
    for bits in (2, 8):
        teacher, student = _pair(bits)
        with FeatureMatch(student, teacher) as match:
            teacher(x)
            student(x)
            losses.append(match.loss().item())
    assert losses[1] < losses[0] / 10


def test_bad_use_fails_clearly():
    teacher, student = _pair()
    with FeatureMatch(student, teacher) as match, pytest.raises(RuntimeError, match="no forward pass"):
        match.loss()
    only_classifier = nn.Sequential(nn.Linear(4, 2))
    quantized = quantize_model(only_classifier, QuantSpec())
    with pytest.raises(ValueError, match="before the classifier"):
        FeatureMatch(quantized, only_classifier)
