import pytest
import torch
from torch import nn

from nas.device import module_device, resolve_device


def test_resolve_device_names_what_cannot_be_used():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    for name, message in (("meta", "unsupported device"), ("nope", "unknown device")):
        with pytest.raises(ValueError, match=message):
            resolve_device(name)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no usable CUDA GPU"):
            resolve_device("cuda")
    else:
        with pytest.raises(ValueError, match="only"):
            resolve_device(f"cuda:{torch.cuda.device_count()}")


def test_module_device_follows_parameters_then_buffers():
    assert module_device(nn.Linear(2, 2)) == torch.device("cpu")
    assert module_device(nn.BatchNorm2d(2, affine=False)) == torch.device("cpu")  # buffers only
    assert module_device(nn.ReLU()) == torch.device("cpu")
