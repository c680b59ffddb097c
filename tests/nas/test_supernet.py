import random

import pytest
import torch

from nas.model import build_child
from nas.space import SearchSpace, Stage
from nas.supernet import ArchParams, Supernet, arch_paths, sample_paths, uniform_paths

TINY = SearchSpace(stem_channels=8, stages=(Stage(8, 1, 1), Stage(16, 1, 2)), head_channels=32)


def test_a_single_path_is_exactly_the_child_network():
    torch.manual_seed(0)
    space = SearchSpace()
    supernet = Supernet(space).eval()
    arch = space.sample_arch(random.Random(3))
    child = build_child(space, arch).eval()
    child.stem.load_state_dict(supernet.stem.state_dict())
    child.head.load_state_dict(supernet.head.state_dict())
    child.classifier.load_state_dict(supernet.classifier.state_dict())
    for block, candidates, op in zip(child.blocks, supernet.layers, arch.ops, strict=True):
        block.load_state_dict(candidates[op].state_dict())
    x = torch.randn(2, 1, 28, 28)
    assert torch.allclose(supernet(x, arch_paths(space, arch)), child(x), atol=1e-6)


@pytest.mark.parametrize("mode,k,expected", [("binary", 1, 1), ("binary", 2, 2), ("gumbel", 1, 1)])
def test_sampled_paths_run_few_ops_and_carry_alpha_gradients(mode, k, expected):
    alpha = ArchParams(TINY)
    with torch.no_grad():
        alpha.alpha.normal_()
    paths = sample_paths(alpha, mode, k, generator=torch.Generator().manual_seed(0))
    assert [len(p) for p in paths] == [min(expected, int(a.sum())) for a in alpha.allowed]
    total = sum(w for layer in paths for _, w in layer)
    if mode != "binary" or k == 1:
        assert total.item() == pytest.approx(len(paths))  # value 1 per layer: the forward is one child
    sum(w * (i + 1) for layer in paths for i, w in layer).backward()  # distinct "outputs" per op
    assert alpha.alpha.grad is not None and alpha.alpha.grad.abs().sum() > 0


def test_soft_paths_cover_the_allowed_ops_only_and_sum_to_one():
    alpha = ArchParams(SearchSpace())
    for layer, slot in zip(sample_paths(alpha, "soft"), SearchSpace().slots(), strict=True):
        assert sorted(SearchSpace().ops[i] for i, _ in layer) == sorted(slot.allowed_ops)
        assert sum(w for _, w in layer).item() == pytest.approx(1.0)


def test_disallowed_ops_are_never_sampled_and_derive_respects_the_mask():
    space = SearchSpace()
    alpha = ArchParams(space)
    with torch.no_grad():
        alpha.alpha[:, space.ops.index("skip")] = 50.0  # skip is not allowed where the shape changes
    arch = alpha.derive()
    space.validate(arch)
    gen = torch.Generator().manual_seed(0)
    for _ in range(5):
        for layer, slot in zip(sample_paths(alpha, "binary", 2, generator=gen), space.slots(), strict=True):
            assert all(space.ops[i] in slot.allowed_ops for i, _ in layer)
    for layer, slot in zip(uniform_paths(space, gen), space.slots(), strict=True):
        assert space.ops[layer[0][0]] in slot.allowed_ops


def test_bad_paths_and_modes_fail_clearly():
    with pytest.raises(ValueError, match="sampling must be one of"):
        sample_paths(ArchParams(TINY), "random")
    with pytest.raises(ValueError, match="path lists for 2 layers"):
        Supernet(TINY)(torch.randn(1, 1, 28, 28), [])


def test_batch_statistics_normalizes_by_the_batch_and_keeps_running_statistics():
    from nas.supernet import batch_statistics

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Dropout(0.5))
    net.eval()
    x = torch.randn(8, 1, 6, 6) * 3 + 2
    before = net[1].running_mean.clone()
    with batch_statistics(net):
        out = net(x)
        assert not net.training and not net[2].training
    assert torch.equal(net[1].running_mean, before) and net[1].momentum == 0.1 and not net.training
    mean = out.mean(dim=(0, 2, 3))
    assert torch.allclose(mean, net[1].bias, atol=1e-5)  # batch-normalized: per-channel mean = beta
