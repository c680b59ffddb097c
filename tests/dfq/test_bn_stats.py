import pytest
import torch
from torch import nn

from dfq.bn_stats import BNStatsLoss
from dfq.sources.zeroq import optimize_images


@torch.no_grad()
def record_bn_statistics(model, images):
    """Running statistics as training on ``images`` would leave them (so they are reachable)."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # cumulative average
    model.train()(images)
    return model.eval()


def test_bn_stat_loss_falls_while_images_are_optimized(child_teacher):
    torch.manual_seed(1)
    data = 0.5 + 2.0 * torch.randn(64, 1, 28, 28).cumsum(3) / 28**0.5  # smooth, shifted "images"
    model = record_bn_statistics(child_teacher, data)
    _, history = optimize_images(model, torch.randn(16, 1, 28, 28), steps=30, lr=0.1)
    assert history[-1] < 0.5 * history[0]
    assert all(p.requires_grad for p in model.parameters())  # the teacher is given back unfrozen


def test_loss_is_zero_when_the_batch_has_the_running_statistics():
    bn = nn.BatchNorm2d(3).eval()
    x = torch.randn(64, 3, 8, 8)
    bn.running_mean.copy_(x.mean((0, 2, 3)))
    bn.running_var.copy_(x.var((0, 2, 3), unbiased=False))
    with BNStatsLoss(nn.Sequential(bn)) as bns:
        bn(x)
        assert bns.loss().item() == pytest.approx(0.0, abs=1e-5)
        bn(x + 1.0)  # every channel mean off by one: ||1||_2 = sqrt(3)
        assert bns.loss().item() == pytest.approx(3**0.5, rel=1e-4)


def test_hooks_are_removed_and_misuse_is_clear(child_teacher):
    model = child_teacher
    with BNStatsLoss(model) as bns:
        with pytest.raises(RuntimeError, match="no forward pass"):
            bns.loss()
    assert all(not m._forward_hooks for m in model.modules())
    with pytest.raises(ValueError, match="no BatchNorm2d"):
        BNStatsLoss(nn.Sequential(nn.Conv2d(1, 1, 1)))
