"""The ``zigzag`` backend: drives the real ZigZag (zigzag-dse) mapper and cost model in process.

Hardware: an Eyeriss-like template — a ``pe_rows x pe_cols`` operational array (D1 = rows, D2 = cols),
per-PE register files for weights / inputs / partial sums, a global buffer shared by all operands and
broadcast to the array, and DRAM. Energies and areas come from ``accel_model.technology`` and CACTI.
Spatial mapping: fixed per dataflow (see ``DATAFLOW_UNROLLING``); ZigZag's LOMA temporal mapper
searches the loop order and memory allocation. Parsed accelerators are reused across calls.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from importlib.metadata import version
from typing import Any

from accel_model.area import accelerator_area
from accel_model.cacti import sram_cost
from accel_model.domain import Accelerator, Cost, LayerShape
from accel_model.mapping import layer_dims, spatial_unrolling
from accel_model.simulators.base import register_backend
from accel_model.technology import (
    DRAM_BITS_PER_CYCLE,
    DRAM_PJ_PER_64B,
    GLB_PORT_BITS,
    mac_energy_pj,
    psum_bits,
    rf_energy_pj,
    rf_split_bits,
)


def zigzag_workload(layer: LayerShape, bits: int) -> dict[str, Any]:
    dims = layer_dims(layer)
    o = "".join(f"[{d.lower()}]" for d in ("b", "g", "k", "oy", "ox") if d.upper() in dims)
    w = "".join(f"[{d.lower()}]" for d in ("g", "k", "c", "fy", "fx") if d.upper() in dims)
    i = "".join(
        f"[{d.lower()}]" for d in ("b", "g", "c", "iy", "ix") if d.upper() in dims or d in ("iy", "ix")
    )
    (fy, fx), s = layer.kernel, layer.stride
    return {
        "id": 0,
        "name": "layer",
        "operator_type": "Conv",
        "equation": f"O{o}+=W{w}*I{i}",
        "dimension_relations": [f"ix={s}*ox+1*fx", f"iy={s}*oy+1*fy"],
        "loop_dims": list(dims),
        "loop_sizes": list(dims.values()),
        "operand_precision": {"I": bits, "W": bits, "O": psum_bits(bits), "O_final": bits},
        "operand_source": {"I": 0},
        "pr_loop_dims": ["IX", "IY"],
        "padding": [[fx // 2, fx // 2], [fy // 2, fy // 2]],
    }


def spatial_mapping(layer: LayerShape, accel: Accelerator) -> dict[str, list[str]]:
    """The dataflow's unrolling (``accel_model.mapping``) in ZigZag's mapping format."""
    unrolling = spatial_unrolling(layer, accel.pe_rows, accel.pe_cols, accel.dataflow)
    return {axis: [f"{name}, {factor}" for name, factor in entries] for axis, entries in unrolling.items()}


def _port(name: str, kind: str, bits: int, allocation: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "type": kind,
        "bandwidth_min": bits,
        "bandwidth_max": bits,
        "allocation": allocation,
    }


def _register_file(operand: str, size_bits: int, word_bits: int) -> dict[str, Any]:
    reads, writes = [f"{operand}, tl"], [f"{operand}, fh"]
    if operand == "O":  # partial sums are read and written in both directions
        reads, writes = reads + ["O, th"], writes + ["O, fl"]
    energy = rf_energy_pj(word_bits, size_bits // 8)
    return {
        "size": size_bits, "r_cost": energy, "w_cost": energy, "area": 0.0, "latency": 1,
        "operands": [operand],
        "ports": [_port("r_port_1", "read", word_bits, reads), _port("w_port_1", "write", word_bits, writes)],
        "served_dimensions": [],
    }  # fmt: skip


def zigzag_hardware(accel: Accelerator) -> dict[str, Any]:
    """The accelerator as ZigZag's hardware description (what its YAML files hold)."""
    split, psum = rf_split_bits(accel.rf_bytes, accel.bits), psum_bits(accel.bits)
    glb = sram_cost(accel.glb_kib * 1024, GLB_PORT_BITS)
    all_operands = ["I1", "I2", "O"]
    dram_allocation = [f"{op}, {d}" for op in all_operands for d in ("fh", "tl")] + ["O, fl", "O, th"]
    return {
        "name": "eyeriss_like",
        "operational_array": {
            "unit_energy": mac_energy_pj(accel.bits),
            "unit_area": 0.0,  # area is computed analytically (accelerator_area_mm2)
            "dimensions": ["D1", "D2"],
            "sizes": [accel.pe_rows, accel.pe_cols],
        },
        "memories": {
            "rf_I": _register_file("I1", split["I"], accel.bits),
            "rf_W": _register_file("I2", split["W"], accel.bits),
            "rf_O": _register_file("O", split["O"], psum),
            "glb": {
                "size": accel.glb_kib * 1024 * 8, "r_cost": glb.read_pj, "w_cost": glb.write_pj, "area": 0.0,
                "latency": 1, "operands": all_operands,
                "ports": [
                    _port("r_port_1", "read", GLB_PORT_BITS, ["I1, tl", "I2, tl", "O, tl", "O, th"]),
                    _port("w_port_1", "write", GLB_PORT_BITS, ["I1, fh", "I2, fh", "O, fh", "O, fl"]),
                ],
                "served_dimensions": ["D1", "D2"],
            },
            "dram": {
                "size": 10**10, "r_cost": DRAM_PJ_PER_64B, "w_cost": DRAM_PJ_PER_64B, "area": 0.0,
                "latency": 1, "operands": all_operands,
                "ports": [_port("rw_port_1", "read_write", DRAM_BITS_PER_CYCLE, dram_allocation)],
                "served_dimensions": ["D1", "D2"],
            },
        },
    }  # fmt: skip


@lru_cache(maxsize=256)
def _parsed_accelerator(accel: Accelerator):
    from zigzag.parser.accelerator_factory import AcceleratorFactory
    from zigzag.parser.accelerator_validator import AcceleratorValidator

    validator = AcceleratorValidator(zigzag_hardware(accel))
    data = validator.normalized_data
    if not validator.validate():
        raise ValueError(f"ZigZag rejected the hardware for {accel}: {validator.validator.errors}")
    return AcceleratorFactory(data).create()


def _layer_node(layer: LayerShape, accel: Accelerator):
    from zigzag.parser.mapping_validator import MappingValidator
    from zigzag.parser.workload_factory import LayerNodeFactory
    from zigzag.parser.workload_validator import WorkloadValidator

    workload = WorkloadValidator([zigzag_workload(layer, accel.bits)])
    if not workload.validate():
        raise ValueError(f"ZigZag rejected the workload for {layer}: {workload.validator.errors}")
    mapping = MappingValidator([{
        "name": "default",
        "spatial_mapping": spatial_mapping(layer, accel),
        "memory_operand_links": {"O": "O", "W": "I2", "I": "I1"},
    }])  # fmt: skip
    if not mapping.validate():
        raise ValueError(f"ZigZag rejected the mapping for {layer}: {mapping.validator.errors}")
    return LayerNodeFactory(workload.normalized_data[0], mapping.normalized_data).create()


CRITERIA = ("latency", "energy", "EDP")


class ZigZagSimulator:
    """ZigZag with LOMA. ``lpf_limit`` bounds the loop prime factors LOMA permutes (the main cost
    knob); ``criterion`` picks the best temporal mapping; ``temporal_mapping_type`` even|uneven."""

    name = "zigzag"

    def __init__(self, lpf_limit: int = 4, criterion: str = "EDP", temporal_mapping_type: str = "even"):
        if criterion not in CRITERIA:
            raise ValueError(f"criterion must be one of {list(CRITERIA)}, got {criterion!r}")
        if temporal_mapping_type not in ("even", "uneven"):
            raise ValueError(f"temporal_mapping_type must be even|uneven, got {temporal_mapping_type!r}")
        if not 1 <= lpf_limit <= 12:
            raise ValueError(f"lpf_limit must be in 1..12, got {lpf_limit}")
        self.lpf_limit, self.criterion, self.temporal_mapping_type = (
            lpf_limit,
            criterion,
            temporal_mapping_type,
        )
        self.version = version("zigzag-dse")
        logging.getLogger("zigzag").setLevel(logging.ERROR)

    def settings(self) -> dict[str, Any]:
        return {"lpf_limit": self.lpf_limit, "criterion": self.criterion,
                "temporal_mapping_type": self.temporal_mapping_type, "model": "eyeriss_like-v1"}  # fmt: skip

    def evaluate(self, layer: LayerShape, accel: Accelerator):
        """Run ZigZag; returns its best cost-model evaluation (CME) object."""
        from zigzag.mapping.temporal_mapping import TemporalMappingType
        from zigzag.stages.evaluation.cost_model_evaluation import CostModelStage
        from zigzag.stages.main import MainStage
        from zigzag.stages.mapping.spatial_mapping_generation import SpatialMappingGeneratorStage
        from zigzag.stages.mapping.temporal_mapping_generator_stage import TemporalMappingGeneratorStage
        from zigzag.stages.results import reduce_stages

        reduce = {"latency": reduce_stages.MinimalLatencyStage, "energy": reduce_stages.MinimalEnergyStage,
                  "EDP": reduce_stages.MinimalEDPStage}[self.criterion]  # fmt: skip
        stages = [reduce, SpatialMappingGeneratorStage, reduce, TemporalMappingGeneratorStage, CostModelStage]
        (cme, _), *_ = MainStage(
            stages,
            layer=_layer_node(layer, accel),
            accelerator=_parsed_accelerator(accel),
            loma_lpf_limit=self.lpf_limit,
            loma_show_progress_bar=False,
            nb_mappings_generated=1,
            temporal_mapping_type=TemporalMappingType(self.temporal_mapping_type),
            access_same_data_considered_as_no_access=True,
            enable_mix_spatial_mapping_generation=False,
        ).run()
        return cme

    def simulate(self, layer: LayerShape, accel: Accelerator) -> Cost:
        cme = self.evaluate(layer, accel)
        return Cost(
            float(cme.latency_total2), float(cme.energy_total), accelerator_area(accel), accel.clock_mhz
        )


@register_backend("zigzag")
def _make_zigzag(**settings: Any) -> ZigZagSimulator:
    return ZigZagSimulator(**settings)
