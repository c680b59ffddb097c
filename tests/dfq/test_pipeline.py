import pytest
import torch

from dfq.api import dfq_profile
from dfq.pipeline import compare_with_teacher, load_quantized, quantize_with_source, save_quantized
from dfq.quant_model import QuantSpec
from dfq.sources import SourceContext, make_source


@pytest.fixture
def quantized(child_teacher):
    settings = dfq_profile("smoke")
    source = make_source("noise", child_teacher, SourceContext((1, 28, 28), 10, settings))
    student, info = quantize_with_source(child_teacher, QuantSpec(4, 4), source, "kd", settings)
    return student, info


def test_run_facts(quantized):
    _, info = quantized
    assert info["calibrate_time_s"] > 0 and info["finetune_time_s"] > 0
    assert info["finetune_loss_first"] > 0 and info["finetune_loss_last"] > 0


def test_comparison_counts_accuracy_and_agreement(child_teacher, quantized):
    images = torch.randint(0, 256, (30, 1, 28, 28), dtype=torch.uint8)
    labels = child_teacher(images.float().div(255)).argmax(1)  # mean 0, std 1: the same inputs
    same = compare_with_teacher(child_teacher, child_teacher, images, labels, (0.0,), (1.0,))
    assert same == {"fp_acc": 1.0, "quant_acc": 1.0, "top1_agreement": 1.0}
    student, _ = quantized
    other = compare_with_teacher(student, child_teacher, images, labels, (0.0,), (1.0,))
    assert other["fp_acc"] == 1.0 and other["quant_acc"] == other["top1_agreement"]


def test_quantized_checkpoint_reloads_to_identical_outputs(tmp_path, child_teacher, quantized):
    from nas.space import SearchSpace

    student, _ = quantized
    meta = {
        "arch": SearchSpace().default_arch().to_dict(), "space": SearchSpace().to_dict(),
        "in_channels": 1, "num_classes": 10, "image_size": 28, "mean": [0.0], "std": [1.0],
    }  # fmt: skip
    save_quantized(tmp_path / "q.pt", student, QuantSpec(4, 4), meta, {"method": "noise+kd"})
    loaded, payload = load_quantized(tmp_path / "q.pt")
    x = torch.randn(4, 1, 28, 28)
    assert torch.equal(loaded(x), student(x))
    assert payload["run"]["method"] == "noise+kd" and payload["spec"]["w_bits"] == 4


def test_bad_quantized_files_fail_clearly(tmp_path):
    with pytest.raises(ValueError, match="no such checkpoint file"):
        load_quantized(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_quantized(tmp_path / "junk.pt")
    torch.save({"format": "other"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a coexplore quantized checkpoint"):
        load_quantized(tmp_path / "other.pt")
