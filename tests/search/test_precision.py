"""Precision is paid for: the bits logits, the quantization-aware supernet, and the bit width as a
joint search variable that both the cross-entropy and the hardware cost (and HDX) move."""

from dataclasses import replace

import pytest
import torch

from accel_model.constraints import Constraint
from accel_model.hwgen import FreeAccelerator, parse_objective
from nas.cost_template import cost_template
from nas.data import split_validation
from nas.space import SearchSpace, Stage
from nas.supernet import ArchParams, Supernet, uniform_paths
from search.dance import SEARCH_PROFILES, SearchState, arch_loss, arch_step, endless_batches, weight_step
from search.precision import BitsParams, _activation_error, at_precision, make_quantization_aware, mixed

TINY = SearchSpace(stem_channels=8, stages=(Stage(8, 1, 1), Stage(16, 1, 2)), head_channels=32)
CHOICES = (4, 8, 16)


def test_bits_params_sample_one_hot_values_with_soft_gradients():
    bits = BitsParams(CHOICES)
    sample = bits.sample(1.0, torch.Generator().manual_seed(0))
    assert sorted(sample.detach().tolist()) == [0.0, 0.0, 1.0]
    (sample * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert bits.logits.grad.abs().sum() > 0
    fixed = BitsParams(CHOICES, fixed=8)
    assert fixed.derive() == 8 and not fixed.logits.requires_grad
    with pytest.raises(ValueError, match="not one of"):
        BitsParams(CHOICES, fixed=6)


def _exact_mix_gradient(x, grad, mix):
    exact = x + sum(m * _activation_error(x, b) for m, b in zip(mix, CHOICES, strict=True))
    return torch.autograd.grad(exact, mix, grad)[0]


@pytest.mark.parametrize("shape", [(8, 6, 7, 7), (128, 24, 28, 28)])
def test_the_activation_mix_matches_the_full_expression(shape):
    """Its value is the sampled width's fake quantization and its gradient the full mix's (16 bits:
    taken as exact, its gradient zero)."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=gen).contiguous(memory_format=torch.channels_last).requires_grad_()
    grad = torch.randn(shape, generator=gen)
    mix = torch.tensor([0.0, 1.0, 0.0], requires_grad=True)
    out = mixed(x, mix, CHOICES, _activation_error)
    assert torch.equal(out.detach(), (x + _activation_error(x, 8)).detach())
    dx, dmix = torch.autograd.grad(out, (x, mix), grad)
    assert torch.equal(dx, grad)
    exact = _exact_mix_gradient(x, grad, mix)
    assert torch.allclose(dmix[:2], exact[:2], rtol=1e-3, atol=1e-3) and dmix[2] == 0
    assert abs(exact[2]) < 1e-3 * abs(exact[0])  # what 16 bits leaves out


def test_sixteen_bits_cost_almost_nothing_and_four_bits_cost_something():
    torch.manual_seed(0)
    net = Supernet(TINY).eval()
    make_quantization_aware(net, CHOICES)
    paths, x = uniform_paths(TINY, torch.Generator().manual_seed(0)), torch.randn(8, 1, 28, 28)
    with torch.no_grad():
        fp = net(x, paths)
        errors = {}
        for i, b in enumerate(CHOICES):
            with at_precision(net, torch.nn.functional.one_hot(torch.tensor(i), 3).float()):
                errors[b] = float((net(x, paths) - fp).norm() / fp.norm())
    assert errors[16] < 1e-3 < errors[4]
    assert errors[4] > errors[8] > errors[16]
    with torch.no_grad(), pytest.raises(ValueError, match="not quantization-aware"):
        with at_precision(Supernet(TINY), torch.ones(3)):
            pass


@pytest.fixture(scope="module")
def trained(fashion_mnist):
    """A tiny quantization-aware supernet trained at 16 bits for 200 steps on real Fashion-MNIST (its
    weights fixed afterwards)."""
    torch.manual_seed(0)
    from accel_model.evaluator import load_evaluator

    evaluator = load_evaluator()
    splits = split_validation(fashion_mnist, val_fraction=0.1)
    cfg = replace(SEARCH_PROFILES["smoke"], lam=0.0, sampling="binary", channels_last=False)
    supernet = Supernet(TINY)
    make_quantization_aware(supernet, CHOICES)
    hardware = FreeAccelerator(evaluator.relax.sizes)
    state = SearchState(supernet, ArchParams(TINY), BitsParams(CHOICES), hardware, cost_template(TINY, 28),
                        evaluator, parse_objective("edap"))  # fmt: skip
    opt = torch.optim.SGD(supernet.parameters(), lr=0.05, momentum=0.9)
    batches = endless_batches(splits.x_train, splits.y_train, splits, 64, 0, False)
    gen = torch.Generator().manual_seed(0)
    for _ in range(200):
        weight_step(state, opt, *next(batches), uniform_paths(TINY, gen), one_hot(16))
    xv, yv = next(endless_batches(splits.x_val, splits.y_val, splits, 256, 1, False))
    return state, cfg, xv, yv


def one_hot(bits: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.tensor(CHOICES.index(bits)), 3).float()


def test_the_alpha_step_loss_is_higher_at_4_bits_than_at_16(trained):
    state, cfg, xv, yv = trained
    losses = {}
    for b in CHOICES:
        ce, _, _ = arch_loss(state, cfg, xv, yv, 1.0, torch.Generator().manual_seed(3), bits=one_hot(b))
        losses[b] = float(ce.detach())
    print("LOSSES", losses)
    assert losses[16] < 1.8  # the supernet did learn: chance is ln 10 = 2.3
    # quantization noise raises the loss (identical paths and batch): a margin well above float noise
    assert losses[4] > losses[16] + 0.003
    assert losses[16] == pytest.approx(losses[8], abs=0.05)


def test_the_bits_logits_get_gradient_from_the_cross_entropy_and_from_the_cost(trained):
    state, cfg, xv, yv = trained
    for term in (0, 1):  # 0: cross-entropy, 1: log cost
        state.bits.logits.grad = None
        loss = arch_loss(state, cfg, xv, yv, 1.0, torch.Generator().manual_seed(4))[term]
        loss.backward()
        assert state.bits.logits.grad.abs().sum() > 0, ("cross-entropy", "cost")[term]


def _bits_after_steps(trained, constraints, steps=15) -> torch.Tensor:
    """P(bits) after ``steps`` arch steps that move only the bits logits (architecture and accelerator
    logits fixed), lam 0: the cross-entropy and, when given, HDX's constraint gradient."""
    state, cfg, xv, yv = trained
    state.bits.logits.data.zero_()
    state.margins = {}
    cfg = replace(cfg, lam=0.0, constraints=constraints, constraint_mode="hdx")
    state.constraints = constraints
    opt = torch.optim.Adam([state.bits.logits], lr=0.1)
    gen = torch.Generator().manual_seed(5)
    for _ in range(steps):
        arch_step(state, cfg, opt, None, xv, yv, 1.0, gen)
    probs = state.bits.probs().detach()
    state.bits.logits.data.zero_()
    state.constraints = ()
    return probs


def test_a_tight_frame_rate_target_on_a_fixed_architecture_moves_the_bits_down(trained):
    state = trained[0]
    from search.dance import derived_point

    point = derived_point(state)
    # 30% above what the derived design reaches at its current (first) bit width, as the evaluator sees it
    fps_now = 200e6 / point["latency_cycles"]
    free = _bits_after_steps(trained, ())
    tight = _bits_after_steps(trained, (Constraint("min_fps", fps_now * 1.3),))
    assert free[0] < 1 / 3  # the cross-entropy alone moves away from 4 bits
    assert tight[0] > 1 / 3 + 0.1 and tight[0] > free[0] + 0.1  # the constraint moves toward 4 bits
