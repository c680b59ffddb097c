"""The Triton kernels against the torch reference: values and gradients, several shapes, bit widths, odd
sizes, non-contiguous and channels_last inputs. On the CPU they run in Triton's interpreter
(``TRITON_INTERPRET=1``, set by tests/conftest.py); the ``gpu`` variants run them compiled on CUDA."""

import pytest
import torch

from dfq import kernels
from dfq.kernels import reference
from dfq.quantizers import per_channel_minmax

triton_ops = pytest.importorskip("dfq.kernels.triton_ops", reason="Triton is not installed")


def assert_same_gradient(ref: torch.Tensor, tri: torch.Tensor) -> None:
    """The same straight-through mask exactly; values to rounding (the reference's autograd computes
    ``(g * s) / s`` where the kernel passes ``g`` through)."""
    assert torch.equal(ref == 0, tri == 0)
    torch.testing.assert_close(tri, ref, rtol=1e-6, atol=0)


DEVICES = [
    pytest.param("cpu", id="interpreter"),
    pytest.param("cuda", id="cuda", marks=[
        pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]),
]  # fmt: skip


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape", [(16, 8, 3, 3), (5, 7), (3, 1, 1, 1), (33, 17, 1, 1)])
@pytest.mark.parametrize("bits", [2, 4, 8, 16])
def test_per_channel_fake_quant_matches_the_reference(device, shape, bits):
    g = torch.Generator().manual_seed(bits)
    w = (torch.randn(shape, generator=g) * 0.3).to(device)
    scale, zp = per_channel_minmax(w, bits)
    ref_w, tri_w = w.clone().requires_grad_(), w.clone().requires_grad_()
    ref, tri = reference.fake_quant(ref_w, scale, zp, bits), triton_ops.fake_quant(tri_w, scale, zp, bits)
    assert torch.equal(ref, tri)  # same division and rounding: the same codes
    upstream = torch.randn(shape, generator=g).to(device)
    ref.backward(upstream)
    tri.backward(upstream)
    assert_same_gradient(ref_w.grad, tri_w.grad)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("bits", [2, 3, 4, 8])
@pytest.mark.parametrize("transpose", [False, True])
def test_per_tensor_fake_quant_with_a_learned_scale_matches_the_reference(device, bits, transpose):
    g = torch.Generator().manual_seed(10 + bits)
    x = (torch.randn(6, 5, 9, 11, generator=g) * 2).to(device)  # clipped on both sides at these ranges
    x = x.transpose(1, 3) if transpose else x  # a non-contiguous input
    zp = torch.tensor(float(2 ** (bits - 1))).to(device)
    grads = {}
    for name, impl in (("ref", reference.fake_quant), ("tri", triton_ops.fake_quant)):
        xi = x.clone().requires_grad_()
        scale = torch.tensor(0.7 / 2 ** (bits - 2), device=device, requires_grad=True)
        out = impl(xi, scale, zp, bits)
        (out * torch.linspace(-1, 1, out.numel(), device=device).view_as(out)).sum().backward()
        grads[name] = (out.detach(), xi.grad, scale.grad)
    (ref_out, ref_gx, ref_gs), (tri_out, tri_gx, tri_gs) = grads["ref"], grads["tri"]
    assert torch.equal(ref_out, tri_out)
    assert_same_gradient(ref_gx, tri_gx)
    assert ref_gx.abs().sum() > 0 and (ref_gx == 0).any()  # both inside and outside the range occur
    torch.testing.assert_close(tri_gs, ref_gs, rtol=1e-5, atol=1e-5)  # a sum: another order


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape", [(4, 3, 5, 7), (2, 16, 8, 8), (1, 5, 33, 31)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_bn_statistics_and_their_gradients_match_the_reference(device, shape, channels_last):
    g = torch.Generator().manual_seed(sum(shape))
    x = (torch.randn(shape, generator=g) * 3 + 5).to(device)  # an offset: a sum of squares would cancel
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    weights = torch.randn(2, shape[1], generator=g).to(device)
    results = {}
    for name, impl in (("ref", reference.bn_stats), ("tri", triton_ops.bn_stats)):
        xi = x.clone().requires_grad_()
        mean, var = impl(xi)
        ((mean * weights[0]).sum() + (var * weights[1]).sum()).backward()
        results[name] = (mean.detach(), var.detach(), xi.grad)
    for ref, tri in zip(results["ref"], results["tri"], strict=True):
        torch.testing.assert_close(tri, ref, rtol=1e-5, atol=1e-5)


def test_the_registry_picks_by_device_and_can_be_forced():
    x = torch.randn(4, 3, 2, 2)
    assert kernels.for_tensor(x) is kernels.IMPLEMENTATIONS["torch"]  # the reference stays the CPU default
    with kernels.use("triton"):
        assert kernels.for_tensor(x) is kernels.IMPLEMENTATIONS["triton"]
        mean, _ = kernels.bn_stats(x)
    torch.testing.assert_close(mean, x.mean(dim=(0, 2, 3)))
    with pytest.raises(ValueError, match="unknown kernel implementation 'cuda'"), kernels.use("cuda"):
        pass


def test_a_quantized_model_gives_the_same_outputs_with_either_implementation(child_teacher):
    from dfq.quant_model import QuantSpec, calibrate, quantize_model

    student = quantize_model(child_teacher, QuantSpec(4, 4))
    calibrate(student, [torch.randn(8, 1, 28, 28, generator=torch.Generator().manual_seed(0))])
    x = torch.randn(4, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    with kernels.use("torch"):
        ref = student(x)
    with kernels.use("triton"):
        tri = student(x)
    assert torch.equal(ref, tri)
