"""Where coexplore keeps its caches: ``$COEXPLORE_HOME``, else ``~/.cache/coexplore``."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DATA = Path(__file__).resolve().parent / "data"
DEFAULT_EVALUATOR = PACKAGE_DATA / "evaluator.pt"  # the committed evaluator network
DEFAULT_GENERATOR = PACKAGE_DATA / "hwgen_edap.pt"  # the committed hardware generator (EDAP)


def home_dir() -> Path:
    """The folder, named only: it is created by whatever first writes in it."""
    return Path(os.environ.get("COEXPLORE_HOME") or Path.home() / ".cache" / "coexplore")


def data_dir() -> Path:
    path = home_dir()
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_cache_path() -> Path:
    return home_dir() / "sim_cache.sqlite"
