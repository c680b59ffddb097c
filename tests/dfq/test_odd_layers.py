"""Odd but real layers: the quantized model keeps each wrapped module's own forward. At 16 bits it matches
the float model, every conv and linear is wrapped, and a conv subclass that pads in its own forward
(TensorFlow-style "same" padding, as ported ImageNet models have) runs quantized."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dfq.quant_model import QuantSpec, QuantWrapper, calibrate, quantize_model
from dfq.quantizers import sqnr_db
from tests.dfq.conftest import _randomize_bn, mobilenet_v2_style, resnet20_style


class SamePadConv2d(nn.Conv2d):
    """Pads in its forward so that the output is ceil(input / stride), whatever the kernel."""

    def forward(self, x):
        pads = []
        for size, k, s, d in zip(x.shape[-1:-3:-1], self.kernel_size[::-1], self.stride[::-1],
                                 self.dilation[::-1], strict=True):  # fmt: skip
            total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
            pads += [total // 2, total - total // 2]
        return F.conv2d(F.pad(x, pads), self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _block(conv: nn.Module, out_channels: int) -> nn.Sequential:
    return nn.Sequential(conv, nn.BatchNorm2d(out_channels), nn.ReLU6())


LAYERS = {
    "same_padding_subclass": lambda: _block(SamePadConv2d(3, 8, 3, stride=2), 8),
    "dilated": lambda: _block(nn.Conv2d(3, 8, 3, padding=2, dilation=2), 8),
    "grouped": lambda: _block(nn.Conv2d(4, 8, 3, padding=1, groups=2), 8),
    "depthwise": lambda: _block(nn.Conv2d(4, 4, 3, padding=1, groups=4), 4),
    "pointwise": lambda: _block(nn.Conv2d(3, 8, 1), 8),
    "reflect_padding": lambda: _block(nn.Conv2d(3, 8, 3, padding=1, padding_mode="reflect"), 8),
    "conv_without_bn": lambda: nn.Sequential(nn.Conv2d(3, 8, 3, bias=True), nn.SiLU()),
    "bn_after_pooling": lambda: nn.Sequential(nn.Conv2d(3, 8, 3), nn.MaxPool2d(2), nn.BatchNorm2d(8)),
    "linear": lambda: nn.Sequential(nn.Flatten(), nn.Linear(3 * 13 * 13, 10)),
}
CHANNELS = {"grouped": 4, "depthwise": 4}
MODELS = {
    "resnet20_style": (resnet20_style, (3, 32, 32)),
    "mobilenet_v2_relu6": (lambda: mobilenet_v2_style("relu6"), (3, 64, 64)),
    "mobilenet_v2_silu": (lambda: mobilenet_v2_style("silu"), (3, 64, 64)),
}


def _batches(shape, n=2, batch=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, *shape, generator=g) for _ in range(n)]


def _quantized_matches_float(model: nn.Module, shape) -> tuple[float, torch.Tensor, torch.Tensor]:
    n_layers = sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in model.modules())
    q = quantize_model(model, QuantSpec(w_bits=16, a_bits=16, keep_first_last_8bit=False))
    assert sum(isinstance(m, QuantWrapper) for m in q.modules()) == n_layers
    batches = _batches(shape)
    calibrate(q, batches)
    x = batches[0]  # a calibrated batch: no range is clipped, so only the wrapper can make a difference
    with torch.no_grad():
        ref, out = model(x), q(x)
    assert out.shape == ref.shape
    return sqnr_db(ref, out), ref, out


@pytest.mark.parametrize("name", list(LAYERS))
def test_an_odd_layer_quantized_at_16_bits_matches_the_float_one(name):
    torch.manual_seed(0)
    model = _randomize_bn(LAYERS[name](), 0)
    sqnr, _, _ = _quantized_matches_float(model, (CHANNELS.get(name, 3), 13, 13))
    assert sqnr > 60, (name, sqnr)


@pytest.mark.parametrize("name", list(MODELS))
def test_a_whole_model_quantized_at_16_bits_matches_the_float_one(name):
    torch.manual_seed(0)
    factory, shape = MODELS[name]
    sqnr, ref, out = _quantized_matches_float(_randomize_bn(factory(), 0), shape)
    assert sqnr > 50, (name, sqnr)
    assert torch.equal(ref.argmax(1), out.argmax(1))


def test_the_same_padding_subclass_keeps_its_own_padding_when_quantized():
    """The bug this guards against: a wrapper that calls ``Conv2d._conv_forward`` skips the subclass's
    padding, and the output has the wrong size (7x7 from a 13x13 input at stride 2 becomes 6x6)."""
    torch.manual_seed(0)
    model = _randomize_bn(LAYERS["same_padding_subclass"](), 0)
    q = calibrate(quantize_model(model, QuantSpec(w_bits=4, a_bits=8)), _batches((3, 13, 13)))
    x = _batches((3, 13, 13), n=1, seed=1)[0]
    with torch.no_grad():
        assert q(x).shape == model(x).shape == (4, 8, 7, 7)
        assert sqnr_db(model(x), q(x)) > 10  # 4-bit weights: close, not equal
    q(x).square().mean().backward()  # fine-tuning reaches the subclass's own weight (straight-through)
    wrapper = next(m for m in q.modules() if isinstance(m, QuantWrapper))
    assert wrapper.layer.weight.grad is not None and wrapper.layer.weight.grad.abs().sum() > 0


def test_onnx_export_runs_the_subclass_forward_and_onnxruntime_agrees(tmp_path):
    """The export computes each layer as the student does: a subclass's own padding, a padding mode."""
    ort = pytest.importorskip("onnxruntime")
    from dfq.onnx_export import save_onnx, to_onnx

    torch.manual_seed(0)
    model = _randomize_bn(nn.Sequential(SamePadConv2d(3, 8, 3, stride=2, bias=True), nn.BatchNorm2d(8),
                                        nn.ReLU6(), SamePadConv2d(8, 8, 5),
                                        nn.Conv2d(8, 8, 3, padding=1, padding_mode="reflect"), nn.Flatten(),
                                        nn.Linear(8 * 7 * 7, 10)), 0)  # fmt: skip
    batches = _batches((3, 13, 13))
    q = calibrate(quantize_model(model, QuantSpec(w_bits=4, a_bits=8)), batches)
    path = save_onnx(to_onnx(q, (3, 13, 13)), tmp_path / "m.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        ref = q(batches[0]).numpy()
    out = session.run(None, {"images": batches[0].numpy()})[0]
    assert out.shape == ref.shape == (4, 10)
    assert abs(ref - out).max() < 1e-3 * max(1.0, abs(ref).max())
