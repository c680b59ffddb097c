"""Child networks: a plain ``nn.Module`` built from a ``SearchSpace`` and an ``Arch``."""

from __future__ import annotations

import torch
from torch import nn

from accel_model.domain import LayerShape
from nas.arch import Arch
from nas.ops import ConvBNAct, get_op
from nas.space import SearchSpace


def conv_layer_shapes(modules: list[nn.Module], in_hw: tuple[int, int], batch: int) -> list[LayerShape]:
    """Shapes of a chain of Conv2d/Linear modules, in order, each fed by the previous one's output.

    A Linear layer sees a 1x1 input (it follows global pooling)."""
    shapes, hw = [], tuple(in_hw)
    for m in modules:
        if isinstance(m, nn.Conv2d):
            shape = LayerShape(m.in_channels, m.out_channels, m.kernel_size, m.stride[0], m.groups, hw, batch)
            hw = shape.out_hw
        elif isinstance(m, nn.Linear):
            shape = LayerShape(m.in_features, m.out_features, 1, 1, 1, (1, 1), batch)
        else:
            continue
        shapes.append(shape)
    return shapes


class ChildNet(nn.Module):
    """stem -> searchable blocks -> head conv -> pool -> classifier. Input (N, C, H, W) floats."""

    def __init__(self, space: SearchSpace, arch: Arch, in_channels: int = 1, num_classes: int = 10):
        super().__init__()
        space.validate(arch)
        self.space, self.arch = space, arch
        self.in_channels, self.num_classes = in_channels, num_classes
        self.stem = ConvBNAct(in_channels, space.stem_channels, 3, space.stem_stride, act=space.act)
        self.blocks = nn.Sequential(
            *[
                get_op(op).build(slot.c_in, slot.c_out, slot.stride, space.act)
                for slot, op in zip(space.slots(), arch.ops, strict=True)
            ]
        )
        last = space.stages[-1].channels
        self.head = ConvBNAct(last, space.head_channels, 1, act=space.act)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(space.head_channels, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.head(self.blocks(self.stem(x)))).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))

    def layer_shapes(self, input_hw: tuple[int, int] | int, batch: int = 1) -> list[LayerShape]:
        """Every conv/linear layer this network executes, in order, as the accelerator sees it."""
        if isinstance(input_hw, int):
            input_hw = (input_hw, input_hw)
        return conv_layer_shapes(list(self.modules()), input_hw, batch)


def build_child(space: SearchSpace, arch: Arch, in_channels: int = 1, num_classes: int = 10) -> ChildNet:
    return ChildNet(space, arch, in_channels, num_classes)


def child_layer_shapes(
    arch: Arch,
    image_size: int,
    batch: int = 1,
    in_channels: int = 1,
    num_classes: int = 10,
    space: SearchSpace | None = None,
) -> list[LayerShape]:
    """The layers (as the accelerator sees them) of ``arch``'s child at ``image_size`` input pixels."""
    return build_child(space or SearchSpace(), arch, in_channels, num_classes).layer_shapes(image_size, batch)


def candidate_layer_shapes(space: SearchSpace, input_hw: int, in_channels: int = 1, num_classes: int = 10):
    """Every distinct layer shape any child of ``space`` can execute: each op at every position it is
    allowed, plus the fixed stem/head/classifier."""
    shapes: list[LayerShape] = []
    for op in space.ops:
        arch = Arch(tuple(op if op in slot.allowed_ops else space.default_op for slot in space.slots()))
        shapes += build_child(space, arch, in_channels, num_classes).layer_shapes(input_hw)
    return list(dict.fromkeys(shapes))
