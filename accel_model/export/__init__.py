"""Accelerator exports: files other tools read, written from an ``Accelerator`` (and the layers it runs).

``FORMATS`` is a registry of writers ``write(accel, layers, out_dir) -> list[Path]``: ``zigzag`` (the
hardware, workload and per-layer spatial-mapping YAML that ZigZag's own loader reads back,
``zigzag_files.py``) and ``timeloop`` (a Timeloop/Accelergy v0.3 architecture spec with the dataflow's
constraints, ``timeloop_spec.py``). Area, which neither tool computes for this template, goes in as the
project's own figure (``accel_model.area``), named as such."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from accel_model.domain import Accelerator, LayerShape
from accel_model.export import timeloop_spec, zigzag_files
from accel_model.registry import Registry

Writer = Callable[[Accelerator, Sequence[LayerShape], Path], list[Path]]
FORMATS: Registry[Writer] = Registry("accelerator export format")
FORMATS.add("zigzag", zigzag_files.write)
FORMATS.add("timeloop", timeloop_spec.write)


def export_accelerator(fmt: str, accel: Accelerator, layers: Sequence[LayerShape], out_dir: str | Path):
    """Write ``accel`` (running ``layers``) in format ``fmt`` into ``out_dir``; the files written."""
    writer = FORMATS.get(fmt)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return writer(accel, list(layers), out)
