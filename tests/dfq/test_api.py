"""``dfq.api.quantize``: the one assembly of a DFQ run, on small inputs (random-weight child, npz data)."""

import pytest
import torch

from dfq.api import dfq_profile, prepare_source, quantize
from dfq.quant_model import QuantSpec
from nas.data import load_splits

META = {"in_channels": 1, "num_classes": 10, "image_size": 28, "mean": [0.0], "std": [1.0]}


@pytest.fixture
def splits(tmp_path, make_npz):
    return load_splits(str(make_npz(tmp_path / "d.npz", n_train=120, n_test=40, size=28, channels=1)))


def test_quantize_runs_a_method_and_scores_it_once(child_teacher, splits):
    settings = dfq_profile("smoke", generator_steps=2, finetune_steps=2)
    student, metrics = quantize(child_teacher, QuantSpec(4, 4), META, "gdfq", None, settings, 0, splits)
    assert metrics["method"] == "gdfq+kd"  # the source's own default fine-tuning
    assert 0 <= metrics["quant_test_acc"] <= 1 and 0 <= metrics["top1_agreement"] <= 1
    assert metrics["settings"]["generator_steps"] == 2 and metrics["settings"]["ce_weight"] == 0.0
    assert metrics["total_time_s"] >= metrics["source_prepare_time_s"] > 0
    assert student(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_a_prepared_source_is_shared_and_the_validation_split_can_be_scored(child_teacher, splits):
    settings = dfq_profile("smoke")
    source = prepare_source("zeroq", child_teacher, META, settings, seed=0)
    _, w8 = quantize(child_teacher, QuantSpec(8, 8), META, source, "none", splits=splits, evaluate_on="val")
    _, w4 = quantize(child_teacher, QuantSpec(4, 4), META, source, "none", splits=splits, evaluate_on="val")
    assert w8["source_prepare_time_s"] == w4["source_prepare_time_s"]  # prepared once
    assert "quant_val_acc" in w8 and "quant_test_acc" not in w8


def test_quantize_refuses_what_cannot_run(child_teacher):
    with pytest.raises(ValueError, match="unknown source 'nope'"):
        quantize(child_teacher, QuantSpec(4, 4), META, "nope")
    with pytest.raises(ValueError, match="real labels"):
        quantize(child_teacher, QuantSpec(4, 4), META, "noise", "qat")
    with pytest.raises(ValueError, match="training images"):
        quantize(child_teacher, QuantSpec(4, 4), META, "real", "none", dfq_profile("smoke"))
