"""Fixed networks outside the search space (a name-keyed registry), trainable with ``coexplore train
--model NAME`` and saved in the same checkpoint format: the checkpoint names the model instead of an Arch.

- ``resnet20``: the CIFAR-style ResNet-20 (He et al. 2016): a 3x3 stem, three stages of three basic
  blocks (widths 16/32/64, stride 2 between stages, 1x1 projection shortcuts), global pooling, linear.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from accel_model.domain import LayerShape
from accel_model.registry import Registry
from nas.ops import ConvBNAct, MBConv

ModelBuilder = Callable[[int, int], nn.Module]  # (in_channels, num_classes) -> model
ZOO: Registry[ModelBuilder] = Registry("model")
register_model = ZOO.register


def build_zoo_model(name: str, in_channels: int, num_classes: int) -> nn.Module:
    model = ZOO.get(name)(in_channels, num_classes)
    model.zoo_name = name
    return model


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out),
        )  # fmt: skip
        self.shortcut = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


def resnet_cifar(in_channels: int, num_classes: int, width: int = 16, blocks_per_stage: int = 3) -> nn.Module:
    blocks, c = [], width
    for c_out, stride in ((width, 1), (2 * width, 2), (4 * width, 2)):
        for i in range(blocks_per_stage):
            blocks.append(BasicBlock(c, c_out, stride if i == 0 else 1))
            c = c_out
    return nn.Sequential(
        nn.Conv2d(in_channels, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(), *blocks,
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes),
    )  # fmt: skip


@register_model("resnet20")
def resnet20(in_channels: int, num_classes: int) -> nn.Module:
    return resnet_cifar(in_channels, num_classes)


# MobileNetV2's inverted-residual stages (Sandler et al. 2018): expansion t, channels c, blocks n, stride s
MOBILENET_V2_STAGES = (
    (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
)  # fmt: skip


@register_model("mobilenet_v2")
def mobilenet_v2(in_channels: int, num_classes: int, act: str = "relu6", stages=MOBILENET_V2_STAGES,
                 head: int = 1280) -> nn.Module:  # fmt: skip
    """MobileNetV2 at width 1.0 for ImageNet-size inputs (3.5M parameters at 1,000 classes): a stride-2
    stem, the inverted-residual stages (the t = 1 block keeps its 1x1 expansion here), a 1x1 head."""
    layers, c = [ConvBNAct(in_channels, 32, 3, 2, act=act)], 32
    for expansion, c_out, blocks, stride in stages:
        for i in range(blocks):
            layers.append(MBConv(c, c_out, stride if i == 0 else 1, act, kernel=3, expansion=expansion))
            c = c_out
    return nn.Sequential(*layers, ConvBNAct(c, head, 1, act=act), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(head, num_classes))  # fmt: skip


@torch.no_grad()
def traced_layer_shapes(model: nn.Module, in_channels: int, image_size: int) -> list[LayerShape]:
    """Every Conv2d/Linear a forward pass of one image executes, in execution order, with the input size
    it actually sees (so branches and shortcuts are right)."""
    shapes: list[LayerShape] = []

    def hook(module, inputs, _output):
        x = inputs[0]
        if isinstance(module, nn.Conv2d):
            hw = tuple(x.shape[2:])
            shapes.append(LayerShape(module.in_channels, module.out_channels, module.kernel_size,
                                     module.stride[0], module.groups, hw, 1))  # fmt: skip
        else:
            shapes.append(LayerShape(module.in_features, module.out_features, 1, 1, 1, (1, 1), 1))

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    was_training = model.training
    try:
        model.eval()
        model(torch.zeros(1, in_channels, image_size, image_size))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return shapes
