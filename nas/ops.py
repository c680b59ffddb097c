"""Candidate operations of the search space, in a name-keyed registry.

An op factory takes ``(c_in, c_out, stride, act)`` and returns an ``nn.Module``. Every conv is
followed by BatchNorm (the data-free quantization methods need BN statistics). A new op is a new
``@register("name")`` function, not a new branch somewhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from accel_model.registry import Registry

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": lambda: nn.ReLU(inplace=True),
    "relu6": lambda: nn.ReLU6(inplace=True),
    "silu": lambda: nn.SiLU(inplace=True),
    "hardswish": lambda: nn.Hardswish(inplace=True),
}


def make_activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; allowed: {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


@dataclass(frozen=True)
class OpSpec:
    """A registered op: its factory and whether it needs matching input/output shapes."""

    name: str
    factory: Callable[[int, int, int, str], nn.Module]
    needs_same_shape: bool = False

    def allowed(self, c_in: int, c_out: int, stride: int) -> bool:
        return not self.needs_same_shape or (c_in == c_out and stride == 1)

    def build(self, c_in: int, c_out: int, stride: int, act: str) -> nn.Module:
        if not self.allowed(c_in, c_out, stride):
            raise ValueError(f"op {self.name!r} needs c_in == c_out and stride 1")
        return self.factory(c_in, c_out, stride, act)


OPS: Registry[OpSpec] = Registry("op")


def register(name: str, needs_same_shape: bool = False):
    """Decorator: add an op factory to ``OPS`` under ``name``."""

    def wrap(factory: Callable[[int, int, int, str], nn.Module]):
        OPS.add(name, OpSpec(name, factory, needs_same_shape))
        return factory

    return wrap


def get_op(name: str) -> OpSpec:
    return OPS.get(name)


class ConvBNAct(nn.Sequential):
    """Conv (same padding, no bias) -> BatchNorm -> optional activation."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1, act="relu6"):
        layers: list[nn.Module] = [
            nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False),
            nn.BatchNorm2d(c_out),
        ]
        if act is not None:
            layers.append(make_activation(act))
        super().__init__(*layers)


class MBConv(nn.Module):
    """MobileNetV2 inverted residual: 1x1 expand -> kxk depthwise -> 1x1 linear projection,
    with an identity shortcut when the shapes match."""

    def __init__(self, c_in: int, c_out: int, stride: int, act: str, kernel: int, expansion: int):
        super().__init__()
        hidden = c_in * expansion
        self.body = nn.Sequential(
            ConvBNAct(c_in, hidden, 1, act=act),
            ConvBNAct(hidden, hidden, kernel, stride, groups=hidden, act=act),
            ConvBNAct(hidden, c_out, 1, act=None),
        )
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x):
        y = self.body(x)
        return x + y if self.residual else y


def _register_mbconvs() -> None:
    for kernel in (3, 5, 7):
        for expansion in (3, 6):

            def factory(c_in, c_out, stride, act, k=kernel, e=expansion):
                return MBConv(c_in, c_out, stride, act, kernel=k, expansion=e)

            register(f"mb_k{kernel}_e{expansion}")(factory)


_register_mbconvs()


@register("skip", needs_same_shape=True)
def _skip(c_in: int, c_out: int, stride: int, act: str) -> nn.Module:
    return nn.Identity()
