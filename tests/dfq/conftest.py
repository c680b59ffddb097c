"""Small BatchNorm CNNs of the three families quantize_model must handle (random weights)."""

import pytest
import torch
from torch import nn

from nas.model import build_child
from nas.space import SearchSpace
from nas.zoo import mobilenet_v2, resnet_cifar


def resnet20_style(width: int = 8) -> nn.Module:
    return resnet_cifar(3, 10, width=width)


def mobilenet_v2_style(act: str = "silu") -> nn.Module:
    """The zoo's MobileNetV2 with one block per stage and a 320-channel head (224 px, 1,000 classes)."""
    stages = ((1, 16, 1, 1), (6, 24, 1, 2), (6, 32, 1, 2), (6, 64, 1, 2), (6, 96, 1, 1), (6, 160, 1, 2))
    return mobilenet_v2(3, 1000, act=act, stages=stages, head=320)


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
