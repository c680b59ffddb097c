import pytest


@pytest.fixture(autouse=True)
def _private_data_dir(tmp_path, monkeypatch):
    """Caches go to a per-test folder, never the user's."""
    monkeypatch.setenv("COEXPLORE_HOME", str(tmp_path / "home"))
