"""Accelerator cost model: domain objects, simulators, evaluator network."""

from accel_model.domain import Accelerator, Cost, LayerShape

__all__ = ["Accelerator", "Cost", "LayerShape"]
