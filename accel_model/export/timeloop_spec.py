"""The accelerator as a Timeloop/Accelergy architecture spec (the v0.3 YAML of Timeloop's examples),
written from the same ``Accelerator`` as the ZigZag files: DRAM -> global buffer -> a ``pe_rows x pe_cols``
PE array, each PE with three register files (inputs, weights, partial sums: the split the ZigZag model
uses) and a MAC; word bits, depths, widths and instance counts from the template. Its
``architecture_constraints`` say what the dataflow fixes: which register file keeps which operand, and
which problem dimensions may be unrolled across the array's X (columns) and Y (rows). Timeloop's problem
dimensions: C (input channels), M (output channels), R/S (filter rows/columns), P/Q (output rows/columns),
N (batch)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from accel_model.area import accelerator_area
from accel_model.domain import Accelerator, LayerShape
from accel_model.files import atomic_write_bytes
from accel_model.mapping import DATAFLOW_UNROLLING
from accel_model.technology import DRAM_BITS_PER_CYCLE, GLB_PORT_BITS, TECHNOLOGY_NM, psum_bits, rf_split_bits

FILE = "accelerator.timeloop.yaml"
DIMS = ("C", "M", "R", "S", "N", "P", "Q")
# the project's loop names (accel_model.mapping) as Timeloop's problem dimensions
TIMELOOP_DIM = {"OC": "M", "RC": "C", "FY": "R", "FX": "S", "OY": "P", "OX": "Q", "B": "N"}
OPERANDS = {"ifmap_spad": "Inputs", "weights_spad": "Weights", "psum_spad": "Outputs"}


def _storage(name: str, klass: str, depth: int, width: int, datawidth: int, **extra) -> dict:
    attributes = {"depth": depth, "width": width, "datawidth": datawidth, "word-bits": datawidth,
                  "block-size": max(width // datawidth, 1), **extra}  # fmt: skip
    return {"name": name, "class": klass, "attributes": attributes}


def architecture(accel: Accelerator) -> dict:
    """The ``architecture`` section: system (DRAM) -> chip (global buffer) -> PE[0..n-1] (spads, MAC)."""
    bits, split = accel.bits, rf_split_bits(accel.rf_bytes, accel.bits)
    glb_bits = accel.glb_kib * 1024 * 8
    mesh = {"meshX": accel.pe_cols}
    pe_locals = [
        _storage("ifmap_spad", "smartbuffer_RF", split["I"] // bits, bits, bits, **mesh),
        _storage("weights_spad", "smartbuffer_RF", split["W"] // bits, bits, bits, **mesh),
        _storage(
            "psum_spad",
            "smartbuffer_RF",
            split["O"] // psum_bits(bits),
            psum_bits(bits),
            psum_bits(bits),
            **mesh,
        ),  # fmt: skip
        {"name": "mac", "class": "intmac", "attributes": {"datawidth": bits, **mesh}},
    ]
    chip = {
        "name": "chip",
        "attributes": {"technology": f"{TECHNOLOGY_NM}nm"},
        "local": [
            _storage(
                "shared_glb", "smartbuffer_SRAM", glb_bits // GLB_PORT_BITS, GLB_PORT_BITS, bits, n_banks=1
            )
        ],  # fmt: skip
        "subtree": [{"name": f"PE[0..{accel.num_pes - 1}]", "local": pe_locals}],
    }
    dram = {"name": "DRAM", "class": "DRAM",
            "attributes": {"type": "LPDDR4", "width": DRAM_BITS_PER_CYCLE, "datawidth": bits,
                           "word-bits": bits, "block-size": DRAM_BITS_PER_CYCLE // bits}}  # fmt: skip
    return {"version": 0.3, "subtree": [{"name": "system", "local": [dram], "subtree": [chip]}]}


def constraints(accel: Accelerator) -> dict:
    """``architecture_constraints``: each register file keeps its operand alone; the array unrolls only
    the dataflow's dimensions, the columns' on X and the rows' on Y (``permutation`` split at ``split``)."""
    rows, cols = ([TIMELOOP_DIM[d] for d in axis] for axis in DATAFLOW_UNROLLING[accel.dataflow])
    unrolled = cols + rows
    targets = [
        {
            "target": spad,
            "type": "bypass",
            "keep": [kept],
            "bypass": [o for o in OPERANDS.values() if o != kept],
        }
        for spad, kept in OPERANDS.items()
    ]
    targets.append({"target": "shared_glb", "type": "bypass", "keep": list(OPERANDS.values()), "bypass": []})
    targets.append({
        "target": "shared_glb", "type": "spatial",
        "factors": " ".join(f"{d}=1" for d in DIMS if d not in unrolled),
        "permutation": "".join(unrolled) + "".join(d for d in DIMS if d not in unrolled),
        "split": len(cols),
    })  # fmt: skip
    return {"targets": targets}


def write(accel: Accelerator, layers: Sequence[LayerShape], out: Path) -> list[Path]:
    spec = {"architecture": architecture(accel), "architecture_constraints": constraints(accel)}
    header = (f"# Written by coexplore from {accel.to_dict()}: {accel.dataflow} dataflow, "
              f"{accel.pe_rows} x {accel.pe_cols} PEs at {accel.clock_mhz} MHz.\n"
              f"# coexplore_area_mm2: {accelerator_area(accel)!r} (the project's own area model)\n"
              )  # fmt: skip
    text = header + yaml.safe_dump(spec, sort_keys=False)
    path = out / FILE
    atomic_write_bytes(path, lambda fh: fh.write(text.encode()))
    return [path]
