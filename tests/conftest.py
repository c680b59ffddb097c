"""Shared fixtures: the real Fashion-MNIST (skipping only where it is not installed) and small npz data."""

from __future__ import annotations

import os
import sys
import textwrap

import torch

if not torch.cuda.is_available():  # Triton kernels run in Triton's interpreter on the CPU (dfq/kernels)
    os.environ.setdefault("TRITON_INTERPRET", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from nas.data import DEFAULT_DATA_DIR, load_dataset  # noqa: E402


@pytest.fixture(autouse=True)
def _two_threads():
    torch.set_num_threads(2)


@pytest.fixture
def cli():
    """``cli(*args)`` runs ``coexplore`` in process and returns the click result."""
    from click.testing import CliRunner

    from search.cli import main

    return lambda *args: CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="session")
def fashion_mnist():
    if not (DEFAULT_DATA_DIR / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip("Fashion-MNIST (dataset-fashion-mnist) is not installed; run make setup")
    return load_dataset(DEFAULT_DATA_DIR)


@pytest.fixture
def make_npz():
    """A function writing a random-image .npz dataset; returns its path."""
    return _make_npz


def _make_npz(path, n_train=200, n_test=50, size=32, channels=3, classes=10, layout="nhwc", seed=0):
    rng = np.random.default_rng(seed)
    shape = {"nhwc": (size, size, channels), "nchw": (channels, size, size), "nhw": (size, size)}[layout]
    np.savez(
        path,
        x_train=rng.integers(0, 256, (n_train, *shape), dtype=np.uint8),
        y_train=np.arange(n_train) % classes,
        x_test=rng.integers(0, 256, (n_test, *shape), dtype=np.uint8),
        y_test=np.arange(n_test) % classes,
    )
    return path


MODULE = textwrap.dedent(
    """
    from torch import nn

    class SamePad(nn.Conv2d):  # pads in its own forward, as "same"-padding ports do
        def forward(self, x):
            return super().forward(nn.functional.pad(x, (1, 1, 1, 1)))

    def tiny(classes=5):
        return nn.Sequential(SamePad(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU6(),
                             nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.BatchNorm2d(8), nn.SiLU(),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, classes))

    not_a_model = 3
    """
)


@pytest.fixture
def user_package(tmp_path, monkeypatch):
    """An importable module ``byo_models`` with a factory, its state_dict and a saved whole module."""
    (tmp_path / "byo_models.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("byo_models", None)
    import byo_models

    torch.manual_seed(0)
    net = byo_models.tiny()
    torch.save(net.state_dict(), tmp_path / "weights.pt")
    torch.save(net, tmp_path / "whole.pt")
    yield tmp_path, net
    sys.modules.pop("byo_models", None)
