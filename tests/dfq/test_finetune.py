import pytest
import torch

from dfq.api import dfq_profile
from dfq.finetune import finetune
from dfq.finetunes import check_finetune
from dfq.finetunes.kd import kd_loss
from dfq.quant_model import QuantSpec, QuantWrapper, activation_quantizers, calibrate, quantize_model
from dfq.sources import SourceContext, get_source, make_source


def test_kd_loss_is_zero_for_equal_logits_and_positive_otherwise():
    s = dfq_profile("quick")
    logits, labels = torch.randn(8, 10), torch.arange(8)
    assert kd_loss(logits, logits, labels, s).item() == pytest.approx(0.0, abs=1e-6)
    assert kd_loss(logits, torch.randn(8, 10), labels, s).item() > 0


def test_qat_needs_a_source_with_real_labels():
    with pytest.raises(ValueError, match="real labels"):
        check_finetune("qat", get_source("noise"))
    check_finetune("qat", get_source("real"))
    with pytest.raises(ValueError, match="unknown fine-tuning"):
        check_finetune("sgd", get_source("noise"))


def test_kd_brings_the_w4a4_student_closer_to_the_teacher(child_teacher):
    teacher = child_teacher
    settings = dfq_profile("smoke", finetune_steps=30, finetune_lr=1e-3, batch_size=32)
    source = make_source("noise", teacher, SourceContext((1, 28, 28), 10, settings))
    student = quantize_model(teacher, QuantSpec(4, 4))
    calibrate(student, [source.sample(32, torch.Generator().manual_seed(0))[0]])
    steps = []
    history = finetune(student, teacher, source, "kd", settings, on_step=lambda _, k, _loss: steps.append(k))
    assert len(history) == 30 and steps == list(range(1, 31))
    assert sum(history[-5:]) / 5 < sum(history[:5]) / 5
    assert finetune(student, teacher, source, "none", settings) == []


@pytest.mark.parametrize("act_scale_lr, moves", [(0.0, False), (1e-2, True)])
def test_activation_scales_move_only_when_their_rate_is_set(child_teacher, act_scale_lr, moves):
    teacher = child_teacher
    settings = dfq_profile("smoke", finetune_steps=5, finetune_lr=1e-3, act_scale_lr=act_scale_lr)
    source = make_source("noise", teacher, SourceContext((1, 28, 28), 10, settings))
    student = calibrate(quantize_model(teacher, QuantSpec(4, 4)),
                        [source.sample(16, torch.Generator().manual_seed(0))[0]])  # fmt: skip
    before = [float(q.scale) for q in activation_quantizers(student)]
    finetune(student, teacher, source, "kd", settings)
    after = [float(q.scale) for q in activation_quantizers(student)]
    assert (before != after) is moves


def test_feature_distillation_adds_to_the_loss(child_teacher):
    teacher = child_teacher
    losses = []
    for weight in (0.0, 1.0):
        settings = dfq_profile("smoke", finetune_steps=2, feature_kd_weight=weight)
        source = make_source("noise", teacher, SourceContext((1, 28, 28), 10, settings))
        student = calibrate(quantize_model(teacher, QuantSpec(3, 3)),
                            [source.sample(16, torch.Generator().manual_seed(0))[0]])  # fmt: skip
        losses.append(finetune(student, teacher, source, "kd", settings)[0])
    assert losses[1] > losses[0] > 0


@pytest.mark.parametrize("freeze", [False, True])
def test_the_weight_grid_is_frozen_at_the_calibrated_weights_only_when_asked(child_teacher, freeze):
    teacher = child_teacher
    settings = dfq_profile("smoke", finetune_steps=5, finetune_lr=1e-2, freeze_weight_grid=freeze)
    source = make_source("noise", teacher, SourceContext((1, 28, 28), 10, settings))
    student = calibrate(quantize_model(teacher, QuantSpec(3, 3)),
                        [source.sample(16, torch.Generator().manual_seed(0))[0]])  # fmt: skip
    wrappers = [m for m in student.modules() if isinstance(m, QuantWrapper)]
    grids = [m.clip(m.layer.weight, m.w_bits)[0].clone() for m in wrappers]
    finetune(student, teacher, source, "kd", settings)
    if freeze:
        assert all(torch.equal(m.weight_scale, g) for m, g in zip(wrappers, grids, strict=True))
    else:
        assert all(m.weight_scale is None for m in wrappers)
    moved = [m.clip(m.layer.weight, m.w_bits)[0] for m in wrappers]  # the weights' own ranges did move
    assert any(not torch.equal(a, g) for a, g in zip(moved, grids, strict=True))
