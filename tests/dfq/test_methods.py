"""Each method's distinctive term on small hand-checked cases, and every method on every network family."""

import copy

import pytest
import torch
from torch import nn

from dfq.api import dfq_profile
from dfq.bn_stats import BNInputStats
from dfq.finetune import finetune
from dfq.finetunes import FINETUNES
from dfq.finetunes.ait import (
    MAX_SCALE,
    AITConfig,
    changed_fraction,
    integer_codes,
    inundated_step,
    inundation_scale,
)
from dfq.quant_model import QuantSpec, calibrate, quantize_model
from dfq.sources import SourceContext, make_source
from dfq.sources.clusterq import ClassCentroids
from dfq.sources.dsg import lse_weights, slack_hinge
from dfq.sources.qimera import QimeraGenerator, superposed_labels

NET_NAMES = ("search_space_child", "resnet20_style", "mobilenet_v2_silu_224")  # tests/dfq/conftest.py NETS


def one_bn_net(mean, var):
    net = nn.Sequential(nn.Identity(), nn.BatchNorm2d(2)).eval()
    net[1].running_mean.copy_(torch.tensor(mean))
    net[1].running_var.copy_(torch.tensor(var))
    return net


def test_dsg_hinge_is_zero_inside_the_slack_and_the_excess_outside():
    net = one_bn_net([0.0, 1.0], [1.0, 1.0])
    x = torch.zeros(2, 2, 2, 2)
    x[0, 0] = torch.tensor([[0.1, -0.1], [0.1, -0.1]])  # mean 0, var 0.01: gaps (0, 0.99)
    x[1, 0] = 0.5  # mean 0.5, var 0: gaps (0.5, 1)
    x[:, 1] = 1.0  # channel 1: mean 1 (gap 0), var 0 (gap 1)
    with BNInputStats(net) as rec:
        net(x)
        stats = rec.take()
    slack = [(torch.tensor([0.5, 0.5]), torch.tensor([1.0, 1.0]))]
    assert torch.equal(slack_hinge(stats, slack), torch.zeros(2, 1))  # every gap within its slack
    tight = [(torch.tensor([0.2, 0.5]), torch.tensor([0.9, 1.0]))]
    hinge = slack_hinge(stats, tight)
    # sample 0: var gap 0.99 - 0.9 in channel 0; sample 1: mean gap 0.5 - 0.2 and var gap 1 - 0.9
    assert hinge[0, 0] == pytest.approx(0.09, abs=1e-5)
    assert hinge[1, 0] == pytest.approx(0.3 + 0.1, abs=1e-5)


def test_dsg_layerwise_enhancement_weights_cycle_over_layers():
    w = lse_weights(5, 3)
    assert w.tolist() == [[2, 1, 1], [1, 2, 1], [1, 1, 2], [2, 1, 1], [1, 2, 1]]


def test_clusterq_centroids_move_toward_correct_samples_only():
    cents = ClassCentroids(3, momentum=0.5)
    feats = torch.tensor([[1.0, 1.0], [3.0, 3.0], [9.0, 9.0]])
    labels = torch.tensor([0, 0, 1])
    cents.update(feats, labels, torch.tensor([True, True, False]))
    assert cents.seen.tolist() == [True, False, False]
    assert torch.equal(cents.centroids[0], torch.tensor([2.0, 2.0]))
    target = torch.tensor([[6.0, 6.0]])
    before = (cents.centroids[0] - target).norm()
    cents.update(target, torch.tensor([0]), torch.tensor([True]))
    assert torch.equal(cents.centroids[0], torch.tensor([4.0, 4.0]))  # 0.5 * 2 + 0.5 * 6
    assert (cents.centroids[0] - target).norm() < before


def test_qimera_soft_labels_sum_to_one_and_are_the_mixing_coefficients():
    gen = torch.Generator().manual_seed(0)
    labels = superposed_labels(64, 10, p=1.0, k=2, gen=gen)
    assert torch.allclose(labels.sum(1), torch.ones(64))
    assert ((labels > 0).sum(1) == 2).all()
    hard = superposed_labels(16, 10, p=0.0, k=2, gen=gen)
    assert ((hard == 1).sum(1) == 1).all()
    g = QimeraGenerator(8, 10, 1, 28, p=1.0, k=2)
    classes = labels[0].nonzero().flatten()
    expected = g.mapping(
        labels[0, classes[0]] * g.embed.weight[classes[0]]
        + labels[0, classes[1]] * g.embed.weight[classes[1]]
    )
    assert torch.allclose(g.embedding(labels[:1])[0], expected, atol=1e-6)


def test_ait_step_changes_at_least_the_threshold_of_integer_codes():
    torch.manual_seed(0)
    model = quantize_model(nn.Sequential(nn.Linear(16, 8)), QuantSpec(4, 8, keep_first_last_8bit=False))
    wrapper = model[0]
    w0 = wrapper.layer.weight.detach().clone()
    delta = torch.randn_like(w0) * 1e-5  # far too small to change any code
    assert changed_fraction(wrapper, w0, w0 + delta) == 0.0
    s = inundation_scale(wrapper, w0, delta, threshold=0.1)
    assert s > 1 and changed_fraction(wrapper, w0, w0 + s * delta) >= 0.1
    assert changed_fraction(wrapper, w0, w0 + (s / 1.1) * delta) < 0.1  # close to the smallest such s
    assert integer_codes(wrapper, w0).max() <= 15
    assert inundation_scale(wrapper, w0, delta * 1e-9, threshold=0.1) == MAX_SCALE  # capped, not unbounded


def test_ait_counts_codes_on_the_frozen_weight_grid():
    torch.manual_seed(0)
    model = quantize_model(nn.Sequential(nn.Linear(16, 8)), QuantSpec(4, 8, keep_first_last_8bit=False))
    wrapper = model[0]
    w0 = wrapper.layer.weight.detach().clone()
    wrapper.freeze_weight_grid()
    # doubling every weight keeps each channel's own codes (its range doubles too) but not the frozen ones
    assert changed_fraction(wrapper, w0, 2 * w0) > 0.5
    wrapper.weight_scale = wrapper.weight_zero_point = None
    assert changed_fraction(wrapper, w0, 2 * w0) == 0.0


def ait_layer(lr: float):
    """A 4-bit linear layer with a gradient of widely varying size, and an Adam optimizer over it."""
    torch.manual_seed(0)
    model = quantize_model(nn.Sequential(nn.Linear(32, 16)), QuantSpec(4, 8, keep_first_last_8bit=False))
    weight = model[0].layer.weight
    weight.grad = torch.randn_like(weight) * torch.logspace(-3, 0, weight.numel()).view_as(weight)
    return model, weight, torch.optim.Adam(model.parameters(), lr=lr)


def test_ait_inundates_along_the_gradient_not_the_adam_step():
    model, weight, opt = ait_layer(lr=1e-6)  # Adam's step: ~1e-6 for every weight, changes no code
    w0, grad = weight.detach().clone(), weight.grad.clone()
    inundated_step(model, opt, progress=0.0, config=AITConfig(ait_threshold=0.05))
    moved = (weight.detach() - w0).flatten()
    assert changed_fraction(model[0], w0, weight.detach()) >= 0.05
    # The step is the negative gradient, enlarged: weights with 1000x the gradient move 1000x as far.
    assert torch.nn.functional.cosine_similarity(moved, -grad.flatten(), dim=0) > 0.999


def test_ait_keeps_an_optimizer_step_that_already_changes_enough_codes():
    model, weight, opt = ait_layer(lr=0.05)
    w0 = weight.detach().clone()
    reference = copy.deepcopy(opt.state_dict()), weight.grad.clone()
    inundated_step(model, opt, progress=0.0, config=AITConfig(ait_threshold=0.05))
    assert changed_fraction(model[0], w0, weight.detach()) >= 0.05
    plain = nn.Parameter(w0.clone())
    plain.grad = reference[1]
    torch.optim.Adam([plain], lr=0.05).step()
    assert torch.equal(weight.detach(), plain.detach())  # exactly Adam's own step


COMBOS = [
    pytest.param(
        source,
        net,
        marks=[pytest.mark.slow] if net == "mobilenet_v2_silu_224" and source != "clusterq" else [],
    )
    for source in ("dsg", "clusterq", "qimera")
    for net in NET_NAMES
]  # the 224-px depthwise/SiLU net costs ~15 s per method: one in the default run, all with -m slow


@pytest.mark.parametrize("source_name,net_name", COMBOS)
def test_every_method_runs_on_every_bn_network(source_name, net_name, build_net):
    teacher, shape = build_net(net_name)
    settings = dfq_profile("smoke", generator_steps=2, finetune_steps=2, batch_size=4, calib_batches=1)
    classes = teacher(torch.zeros(1, *shape)).shape[1]
    source = make_source(source_name, teacher, SourceContext(shape, classes, settings))
    assert len(source.history) == 2
    assert all(v == v for h in source.history for v in h.values())  # no NaN
    student = quantize_model(teacher, QuantSpec(4, 4))
    calibrate(student, [source.sample(4, torch.Generator().manual_seed(0))[0]])
    for name in ("kd", "ait"):
        history = finetune(student, teacher, source, name, settings)
        assert len(history) == 2 and all(h == h for h in history)
    assert "ait" in FINETUNES


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("source_name", ["noise", "zeroq", "gdfq", "dsg", "clusterq", "qimera"])
def test_every_source_and_finetune_runs_on_cuda(source_name, build_net):
    """Teacher on the GPU: sources prepare and sample there, calibration and both fine-tunings run there,
    and the draws (made on the CPU) are the ones a CPU run makes."""
    from dfq.pipeline import quantize_with_source

    teacher, shape = build_net("search_space_child")
    teacher = teacher.cuda()
    settings = dfq_profile("smoke", generator_steps=2, finetune_steps=2, batch_size=4, calib_batches=1,
                           pool_size=4, zeroq_steps=2)  # fmt: skip
    classes = teacher(torch.zeros(1, *shape, device="cuda")).shape[1]
    source = make_source(source_name, teacher, SourceContext(shape, classes, settings))
    images, labels = source.sample(4, torch.Generator().manual_seed(0))
    assert images.is_cuda and labels.is_cuda
    for name in ("kd", "ait"):
        student, _ = quantize_with_source(teacher, QuantSpec(4, 4), source, name, settings)
        assert all(p.is_cuda for p in student.parameters())


def test_ait_takes_the_plain_optimizer_step_once_the_threshold_schedule_has_ended():
    model, weight, opt = ait_layer(lr=1e-6)  # a step that changes no code: inundated while the schedule runs
    w0, grad = weight.detach().clone(), weight.grad.clone()
    inundated_step(model, opt, progress=1.0, config=AITConfig(ait_threshold=0.05))
    assert changed_fraction(model[0], w0, weight.detach()) == 0.0
    plain = nn.Parameter(w0.clone())
    plain.grad = grad
    torch.optim.Adam([plain], lr=1e-6).step()
    assert torch.equal(weight.detach(), plain.detach())
