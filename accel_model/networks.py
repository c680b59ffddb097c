"""Layer shapes of common CNNs, as the accelerator sees them (no weights, no torch).

Used for the simulator dataset and as whole networks outside the search space. Convs use 'same'
padding, so shapes follow ``LayerShape.out_hw``.
"""

from __future__ import annotations

from collections.abc import Callable

from accel_model.domain import LayerShape
from accel_model.registry import Registry

NETWORKS: Registry[Callable[..., list[LayerShape]]] = Registry("network")
register_network = NETWORKS.register


class _Tracker:
    """Appends convs while tracking the feature map size."""

    def __init__(self, hw: int, batch: int):
        self.hw, self.batch, self.layers = (hw, hw), batch, []

    def conv(self, c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1) -> None:
        layer = LayerShape(c_in, c_out, kernel, stride, groups, self.hw, self.batch)
        self.layers.append(layer)
        self.hw = layer.out_hw

    def linear(self, c_in: int, c_out: int) -> None:
        self.layers.append(LayerShape(c_in, c_out, 1, 1, 1, (1, 1), self.batch))

    def basic_blocks(self, c_in: int, stages: tuple[tuple[int, int], ...], blocks: int) -> int:
        """ResNet basic blocks (two 3x3 convs, 1x1 projection shortcut when the shape changes) for
        ``stages`` of (channels, first stride); returns the output channels."""
        for c_out, stride in stages:
            for block in range(blocks):
                s = stride if block == 0 else 1
                block_in_hw = self.hw
                self.conv(c_in, c_out, 3, s)
                self.conv(c_out, c_out, 3, 1)
                if s != 1 or c_in != c_out:  # the shortcut reads the block's input
                    self.layers.append(LayerShape(c_in, c_out, 1, s, 1, block_in_hw, self.batch))
                c_in = c_out
        return c_in


@register_network("resnet18")
def resnet18(hw: int = 224, batch: int = 1, in_channels: int = 3, num_classes: int = 1000):
    t = _Tracker(hw, batch)
    t.conv(in_channels, 64, 7, 2)
    t.hw = ((t.hw[0] - 1) // 2 + 1, (t.hw[1] - 1) // 2 + 1)  # 3x3/2 max pool
    t.linear(t.basic_blocks(64, ((64, 1), (128, 2), (256, 2), (512, 2)), blocks=2), num_classes)
    return t.layers


@register_network("resnet20")
def resnet20(hw: int = 32, batch: int = 1, in_channels: int = 3, num_classes: int = 10):
    t = _Tracker(hw, batch)
    t.conv(in_channels, 16, 3)
    t.linear(t.basic_blocks(16, ((16, 1), (32, 2), (64, 2)), blocks=3), num_classes)
    return t.layers


# MobileNetV2 (Sandler et al. 2018, Table 2): expansion t, channels c, repeats n, stride s.
MOBILENET_V2_STAGES = (
    (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
)  # fmt: skip


@register_network("mobilenet_v2")
def mobilenet_v2(
    hw: int = 224, batch: int = 1, in_channels: int = 3, num_classes: int = 1000
) -> list[LayerShape]:
    t = _Tracker(hw, batch)
    t.conv(in_channels, 32, 3, 2)
    c_in = 32
    for expansion, c_out, repeats, stride in MOBILENET_V2_STAGES:
        for r in range(repeats):
            hidden = c_in * expansion
            if expansion != 1:
                t.conv(c_in, hidden, 1)
            t.conv(hidden, hidden, 3, stride if r == 0 else 1, groups=hidden)
            t.conv(hidden, c_out, 1)
            c_in = c_out
    t.conv(c_in, 1280, 1)
    t.linear(1280, num_classes)
    return t.layers


def network_layers(name: str, **kwargs) -> list[LayerShape]:
    return NETWORKS.get(name)(**kwargs)
