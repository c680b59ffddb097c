import pytest
import torch

from dfq.finetune import check_finetune, finetune, kd_loss
from dfq.quant_model import QuantSpec, calibrate, quantize_model
from dfq.settings import dfq_profile
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
    history = finetune(student, teacher, source, "kd", settings)
    assert len(history) == 30
    assert sum(history[-5:]) / 5 < sum(history[:5]) / 5
    assert finetune(student, teacher, source, "none", settings) == []
