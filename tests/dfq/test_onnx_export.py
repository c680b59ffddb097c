"""The quantized student as QDQ ONNX: onnxruntime runs it and agrees with the PyTorch student."""

import numpy as np
import onnx
import pytest
import torch

from dfq.api import dfq_profile, quantize
from dfq.onnx_export import save_onnx, to_onnx
from dfq.quant_model import QuantSpec
from nas.train import load_checkpoint

ort = pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def teacher():
    return load_checkpoint("results/teachers/default_child.pt")


def student_of(teacher, w_bits, a_bits):
    model, meta = teacher
    student, _ = quantize(model, QuantSpec(w_bits, a_bits), meta, "zeroq", "none", dfq_profile("smoke"))
    return student


def run_both(student, path, images):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        ref = student(images).numpy()
    return ref, session.run(None, {"images": images.numpy()})[0]


@pytest.mark.parametrize("bits", [(4, 4), (8, 8), (3, 5)], ids=["W4A4", "W8A8", "W3A5"])
def test_onnxruntime_agrees_with_the_student_on_real_images(tmp_path, teacher, fashion_mnist, bits):
    student = student_of(teacher, *bits)
    path = save_onnx(to_onnx(student, (1, 28, 28)), tmp_path / "m.onnx")
    meta = teacher[1]
    mean, std = torch.tensor(meta["mean"]).view(1, -1, 1, 1), torch.tensor(meta["std"]).view(1, -1, 1, 1)
    images = (fashion_mnist.x_test[:256].float() / 255 - mean) / std
    ref, out = run_both(student, path, images)
    assert (ref.argmax(1) == out.argmax(1)).all()
    assert np.abs(ref - out).max() < 0.5  # float reordering only (BN folded, bias apart)


def test_weights_are_integers_at_the_layers_bits_and_int4_halves_the_file(tmp_path, teacher):
    sizes = {}
    for w_bits in (4, 8):
        path = save_onnx(to_onnx(student_of(teacher, w_bits, 8), (1, 28, 28)), tmp_path / f"w{w_bits}.onnx")
        model = onnx.load(path)
        codes = [i for i in model.graph.initializer if i.name.endswith(".codes")]
        types = {onnx.TensorProto.DataType.Name(i.data_type) for i in codes}
        # keep_first_last_8bit: the stem and the classifier stay int8
        assert types == ({"INT4", "INT8"} if w_bits == 4 else {"INT8"})
        assert all(i.raw_data for i in codes)
        assert {n.op_type for n in model.graph.node} >= {"QuantizeLinear", "DequantizeLinear", "Conv"}
        sizes[w_bits] = path.stat().st_size
    assert sizes[4] < 0.8 * sizes[8]


def test_the_command_writes_onnx_from_a_quantized_checkpoint_and_refuses_others(tmp_path, cli):
    q = cli("quantize", "--checkpoint", "results/teachers/default_child.pt", "--source", "noise",
            "--profile", "smoke", "--w-bits", "4", "--a-bits", "8", "--out", tmp_path / "q",
            "--quiet")  # fmt: skip
    assert q.exit_code == 0, q.output
    ok = cli("export", "model", tmp_path / "q" / "quantized.pt", "--out", tmp_path / "m.onnx")
    assert ok.exit_code == 0, ok.output and (tmp_path / "m.onnx").is_file()
    bad = cli("export", "model", "results/teachers/default_child.pt", "--out", tmp_path / "x.onnx")
    assert bad.exit_code == 2 and "not a coexplore quantized checkpoint" in bad.output
    assert not (tmp_path / "x.onnx").exists()
    wrong = cli("export", "model", tmp_path / "q" / "quantized.pt", "--out", tmp_path / "m.txt")
    assert wrong.exit_code == 2 and ".onnx" in wrong.output
