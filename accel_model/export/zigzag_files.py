"""The accelerator as ZigZag's own input files: ``accelerator.zigzag.yaml`` (the hardware the backend builds
in memory), ``workload.zigzag.yaml`` (the layers, one ZigZag layer each) and ``mapping.zigzag.yaml`` (each
layer's spatial mapping, the dataflow's unrolling, by layer name). ZigZag's public API
(``zigzag.api.get_hardware_performance_zigzag``) reads them; ``simulate_files`` runs it with the backend's
settings, so the numbers are the cached ones (``tests/accel_model/test_export.py`` checks they are)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from accel_model.area import accelerator_area
from accel_model.domain import Accelerator, Cost, LayerShape
from accel_model.files import atomic_write_bytes
from accel_model.simulators.zigzag_backend import spatial_mapping, zigzag_hardware, zigzag_workload

HARDWARE, WORKLOAD, MAPPING = "accelerator.zigzag.yaml", "workload.zigzag.yaml", "mapping.zigzag.yaml"
OPERAND_LINKS = {"O": "O", "W": "I2", "I": "I1"}


def workload(layers: Sequence[LayerShape], bits: int) -> list[dict]:
    """One ZigZag layer per shape, named ``layer_<i>``, each reading its input from memory."""
    out = []
    for i, layer in enumerate(layers):
        entry = zigzag_workload(layer, bits) | {"id": i, "name": f"layer_{i}", "operand_source": {"I": i}}
        out.append(entry)
    return out


def mappings(layers: Sequence[LayerShape], accel: Accelerator) -> list[dict]:
    """Each layer's mapping under its name, and the first layer's as the ``default`` ZigZag requires."""
    named = [{"name": f"layer_{i}", "spatial_mapping": spatial_mapping(layer, accel),
              "memory_operand_links": OPERAND_LINKS} for i, layer in enumerate(layers)]  # fmt: skip
    return [*named, {**named[0], "name": "default"}]  # fmt: skip


def _dump(path: Path, data, header: str) -> Path:
    text = header + yaml.safe_dump(data, sort_keys=False)
    atomic_write_bytes(path, lambda fh: fh.write(text.encode()))
    return path


def write(accel: Accelerator, layers: Sequence[LayerShape], out: Path) -> list[Path]:
    note = (f"# Written by coexplore from {accel.to_dict()}.\n"
            f"# coexplore_area_mm2: {accelerator_area(accel)!r} (the project's own area model: MACs and "
            "register files + CACTI global buffer; ZigZag reports no area for digital cores)\n"
            f"# clock_mhz: {accel.clock_mhz} (ZigZag counts cycles)\n")  # fmt: skip
    return [
        _dump(out / HARDWARE, zigzag_hardware(accel), note),
        _dump(
            out / WORKLOAD,
            workload(layers, accel.bits),
            f"# {len(layers)} layers, {accel.bits}-bit operands\n",
        ),
        _dump(out / MAPPING, mappings(layers, accel), "# the dataflow's spatial unrolling, per layer\n"),
    ]


def simulate_files(
    folder: str | Path, lpf_limit: int = 4, dump_folder: str | Path | None = None
) -> list[Cost]:
    """Per-layer cost of the exported files, by ZigZag's public API with the backend's settings (LOMA at
    ``lpf_limit``, EDP-optimal, even temporal mapping). Area and clock come from the hardware file's
    header, as written."""
    import logging

    from zigzag.api import get_hardware_performance_zigzag

    folder = Path(folder)
    header = (folder / HARDWARE).read_text().splitlines()
    area = float(next(line for line in header if "coexplore_area_mm2" in line).split()[2])
    clock = float(next(line for line in header if line.startswith("# clock_mhz")).split()[2])
    dump = Path(dump_folder or folder / "zigzag_outputs")
    _, _, cmes = get_hardware_performance_zigzag(
        str(folder / WORKLOAD), str(folder / HARDWARE), str(folder / MAPPING), opt="EDP", lpf_limit=lpf_limit,
        temporal_mapping_type="even", nb_spatial_mappings_generated=1, dump_folder=str(dump),
        loma_show_progress_bar=False,
    )  # fmt: skip
    logging.getLogger().setLevel(logging.WARNING)  # the API turns INFO logging on for the whole process
    per_layer = cmes[0][1]
    return [Cost(float(cme.latency_total2), float(cme.energy_total), area, clock) for cme, _ in per_layer]
