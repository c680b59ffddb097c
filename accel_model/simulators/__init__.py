"""Simulator backends (registry); importing this package registers the built-in ones."""

from accel_model.simulators import zigzag_backend  # noqa: F401  (registers "zigzag")
from accel_model.simulators.base import (
    BACKENDS,
    DEFAULT_BACKEND,
    Simulator,
    make_simulator,
    register_backend,
    settings_hash,
)

__all__ = ["BACKENDS", "DEFAULT_BACKEND", "Simulator", "make_simulator", "register_backend", "settings_hash"]
