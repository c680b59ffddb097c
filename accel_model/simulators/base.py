"""The simulator protocol and its name-keyed backend registry."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, Protocol

from accel_model.domain import Accelerator, Cost, LayerShape


class Simulator(Protocol):
    """``simulate(layer, accel)`` -> ``Cost`` of one layer (latency cycles, energy pJ, chip area mm^2)."""

    name: str
    version: str

    def settings(self) -> dict[str, Any]: ...

    def simulate(self, layer: LayerShape, accel: Accelerator) -> Cost: ...


BACKENDS: dict[str, Callable[..., Simulator]] = {}


def register_backend(name: str):
    def wrap(factory: Callable[..., Simulator]):
        if name in BACKENDS:
            raise ValueError(f"simulator backend {name!r} is registered twice")
        BACKENDS[name] = factory
        return factory

    return wrap


def make_simulator(name: str, **settings: Any) -> Simulator:
    if name not in BACKENDS:
        raise ValueError(f"unknown simulator backend {name!r}; allowed: {sorted(BACKENDS)}")
    return BACKENDS[name](**settings)


def settings_hash(settings: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
