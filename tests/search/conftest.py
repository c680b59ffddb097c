import json

import pytest

from accel_model.evaluator import load_evaluator
from nas.data import load_npz, split_validation


@pytest.fixture(autouse=True)
def _private_data_dir(tmp_path, monkeypatch):
    """Caches go to a per-test folder, never the user's."""
    monkeypatch.setenv("COEXPLORE_HOME", str(tmp_path / "home"))


@pytest.fixture
def write_json(tmp_path):
    """``write_json(name, obj)`` -> path of ``obj`` as JSON (a str is written as is) in tmp_path."""

    def write(name, obj):
        path = tmp_path / name
        path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
        return str(path)

    return write


@pytest.fixture(scope="session")
def evaluator():
    """The committed evaluator network."""
    return load_evaluator()


@pytest.fixture
def splits(tmp_path, make_npz):
    """A tiny 1x28x28 data set split like Fashion-MNIST (train / validation / test)."""
    path = make_npz(tmp_path / "d.npz", n_train=96, n_test=24, size=28, channels=1, layout="nhw")
    return split_validation(load_npz(path), val_fraction=0.25)
