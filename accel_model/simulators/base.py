"""The simulator protocol and its name-keyed backend registry."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, Protocol

from accel_model.domain import Accelerator, Cost, LayerShape
from accel_model.registry import Registry


class Simulator(Protocol):
    """``simulate(layer, accel)`` -> ``Cost`` of one layer (latency cycles, energy pJ, chip area mm^2)."""

    name: str
    version: str

    def settings(self) -> dict[str, Any]: ...

    def simulate(self, layer: LayerShape, accel: Accelerator) -> Cost: ...


BACKENDS: Registry[Callable[..., Simulator]] = Registry("simulator backend")  # filled by simulators/__init__
register_backend = BACKENDS.register
DEFAULT_BACKEND = "zigzag"  # the ground truth every cached table and verified design uses


def make_simulator(name: str, **settings: Any) -> Simulator:
    return BACKENDS.get(name)(**settings)


def settings_hash(settings: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
