import random

import pytest
import torch
from torch import nn

from accel_model.domain import LayerShape
from nas.arch import Arch
from nas.model import build_child
from nas.ops import OPS
from nas.space import SearchSpace, Stage

SPACE = SearchSpace()


def executed_layer_shapes(model: nn.Module, x: torch.Tensor) -> list[LayerShape]:
    """Record every Conv2d/Linear actually executed in a forward pass, via forward hooks."""
    seen: list[LayerShape] = []

    def hook(module, inputs, output):
        inp = inputs[0]
        if isinstance(module, nn.Conv2d):
            seen.append(
                LayerShape(
                    module.in_channels,
                    module.out_channels,
                    module.kernel_size,
                    module.stride[0],
                    module.groups,
                    tuple(inp.shape[2:]),
                    inp.shape[0],
                )
            )
            assert tuple(output.shape[2:]) == seen[-1].out_hw
        else:
            seen.append(LayerShape(module.in_features, module.out_features, 1, 1, 1, (1, 1), inp.shape[0]))

    handles = [
        m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))
    ]
    with torch.no_grad():
        model.eval()(x)
    for h in handles:
        h.remove()
    return seen


def arch_with(op: str) -> Arch:
    """The default arch with ``op`` wherever it is allowed."""
    return Arch(tuple(op if op in slot.allowed_ops else SPACE.default_op for slot in SPACE.slots()))


@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("channels,size", [(1, 28), (3, 32)])
def test_every_op_builds_and_runs_forward_backward(op, channels, size):
    model = build_child(SPACE, arch_with(op), in_channels=channels, num_classes=10)
    x = torch.randn(4, channels, size, size)
    logits = model(x)
    assert logits.shape == (4, 10)
    logits.logsumexp(1).mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("op", sorted(OPS))
def test_layer_shapes_match_executed_convs(op):
    model = build_child(SPACE, arch_with(op), in_channels=3)
    assert model.layer_shapes(32, batch=2) == executed_layer_shapes(model, torch.randn(2, 3, 32, 32))


def test_layer_shapes_random_archs_and_sizes():
    rng = random.Random(0)
    for size in (28, 33, 64):
        arch = Arch(tuple(rng.choice(slot.allowed_ops) for slot in SPACE.slots()))
        model = build_child(SPACE, arch)
        assert model.layer_shapes(size) == executed_layer_shapes(model, torch.randn(1, 1, size, size))


def test_layer_shapes_include_depthwise_and_pointwise():
    shapes = build_child(SPACE, SPACE.default_arch()).layer_shapes(28)
    assert any(s.is_depthwise for s in shapes)
    assert any(s.kernel == (1, 1) and s.groups == 1 and s.in_hw != (1, 1) for s in shapes)
    assert shapes[-1].in_hw == (1, 1) and shapes[-1].out_channels == 10  # the classifier
    # stem + 3 convs per MBConv + head conv + classifier
    assert len(shapes) == 1 + 3 * SPACE.num_layers + 1 + 1


def test_every_conv_is_followed_by_batchnorm():
    model = build_child(SPACE, SPACE.default_arch())
    mods = list(model.modules())
    convs = [i for i, m in enumerate(mods) if isinstance(m, nn.Conv2d)]
    assert convs and all(isinstance(mods[i + 1], nn.BatchNorm2d) for i in convs)


def test_skip_only_where_shapes_match():
    for slot in SPACE.slots():
        assert ("skip" in slot.allowed_ops) == (slot.c_in == slot.c_out and slot.stride == 1)
    first = SPACE.slots()[0]
    bad = Arch(("skip",) + SPACE.default_arch().ops[1:])
    with pytest.raises(ValueError, match=f"layer {first.index}: op 'skip' not allowed"):
        SPACE.validate(bad)


def test_arch_validation_errors():
    with pytest.raises(ValueError, match="has 2 ops"):
        SPACE.validate(Arch(("mb_k3_e3", "mb_k3_e3")))
    with pytest.raises(ValueError, match="unknown op 'conv9'"):
        SearchSpace(ops=("conv9",))
    with pytest.raises(ValueError, match="non-empty"):
        Arch(())


def test_arch_and_space_roundtrip():
    arch = arch_with("mb_k7_e6")
    assert Arch.from_dict(arch.to_dict()) == arch
    assert Arch.from_dict(list(arch.ops)) == arch
    space = SearchSpace(stages=(Stage(8, 1, 2), Stage(8, 2, 1)), act="silu")
    assert SearchSpace.from_dict(space.to_dict()) == space


def test_skip_layer_has_no_convs():
    base = build_child(SPACE, SPACE.default_arch()).layer_shapes(28)
    skipped = build_child(SPACE, arch_with("skip")).layer_shapes(28)
    n_skips = sum(op == "skip" for op in arch_with("skip").ops)
    assert n_skips > 0 and len(skipped) == len(base) - 3 * n_skips


def test_candidate_layer_shapes_cover_every_child():
    from nas.model import candidate_layer_shapes

    pool = set(candidate_layer_shapes(SPACE, 28))
    rng = random.Random(3)
    for _ in range(5):
        arch = Arch(tuple(rng.choice(slot.allowed_ops) for slot in SPACE.slots()))
        assert set(build_child(SPACE, arch).layer_shapes(28)) <= pool
