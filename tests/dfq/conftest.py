"""Small BatchNorm CNNs of the three families quantize_model must handle (random weights)."""

import pytest
import torch
from torch import nn

from nas.model import build_child
from nas.ops import MBConv, make_activation
from nas.space import SearchSpace
from nas.zoo import resnet_cifar


def resnet20_style(width: int = 8) -> nn.Module:
    return resnet_cifar(3, 10, width=width)


def mobilenet_v2_style(act: str = "silu") -> nn.Module:
    stages = ((16, 1, 1), (24, 6, 2), (32, 6, 2), (64, 6, 2), (96, 6, 1), (160, 6, 2))
    layers, c = [nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), make_activation(act)], 16
    for c_out, expansion, stride in stages:
        layers.append(MBConv(c, c_out, stride, act, kernel=3, expansion=expansion))
        c = c_out
    return nn.Sequential(
        *layers, nn.Conv2d(c, 320, 1, bias=False), nn.BatchNorm2d(320), make_activation(act),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(320, 1000),
    )  # fmt: skip


def _randomize_bn(model: nn.Module, seed: int) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    return model.eval()


NETS = {
    "search_space_child": (lambda: build_child(SearchSpace(), SearchSpace().default_arch()), (1, 28, 28)),
    "resnet20_style": (resnet20_style, (3, 32, 32)),
    "mobilenet_v2_silu_224": (mobilenet_v2_style, (3, 224, 224)),
}


@pytest.fixture(params=list(NETS))
def net(request):
    torch.manual_seed(0)
    factory, shape = NETS[request.param]
    return request.param, _randomize_bn(factory(), 0), shape


@pytest.fixture
def child_teacher():
    """The default search-space child (1x28x28, 10 classes) with random weights and BN statistics."""
    torch.manual_seed(0)
    return _randomize_bn(NETS["search_space_child"][0](), 0)


@pytest.fixture
def build_net():
    """``build_net(name)`` -> (model with random weights and BN statistics, input shape) for a NETS name."""

    def build(name):
        torch.manual_seed(0)
        factory, shape = NETS[name]
        return _randomize_bn(factory(), 0), shape

    return build
