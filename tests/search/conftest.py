import json

import pytest
from click.testing import CliRunner

from search.cli import main


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


@pytest.fixture
def cli():
    """``cli(*args)`` runs ``coexplore`` in process and returns the click result."""
    return lambda *args: CliRunner().invoke(main, [str(a) for a in args])
