"""Shared fixtures: the real Fashion-MNIST (skipping only where it is not installed) and small npz data."""

from __future__ import annotations

import os

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
