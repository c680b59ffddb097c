"""SRAM energy per access and area from CACTI (the copy ZigZag ships), cached.

Lookups go: the committed table (``data/cacti_45nm.json``, covering the default design space) ->
the user's table in the data dir -> a CACTI run. CACTI writes into its own folder inside ZigZag's
package, so runs are serialized with a file lock and the result is copied into our own table.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from accel_model.paths import PACKAGE_DATA, data_dir
from accel_model.technology import TECHNOLOGY_NM

COMMITTED_TABLE = PACKAGE_DATA / f"cacti_{TECHNOLOGY_NM}nm.json"


@dataclass(frozen=True)
class SramCost:
    read_pj: float  # per access of ``port_bits``
    write_pj: float
    area_mm2: float


def _key(size_bytes: int, port_bits: int) -> str:
    return f"{size_bytes}B_{port_bits}b"


def _read_table(path: Path) -> dict:
    try:
        return json.loads(path.read_text())["entries"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return {}


@contextmanager
def _locked(path: Path):
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def run_cacti(size_bytes: int, port_bits: int) -> SramCost:
    """One CACTI run: SRAM of ``size_bytes`` with one read and one write port of ``port_bits``."""
    from zigzag.cacti.cacti_parser import CactiParser

    # ZigZag starts CACTI's helper script with a bare `python`: make it ours (it imports zigzag).
    env_path = os.environ.get("PATH", "")
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env_path
    try:
        read_pj, write_pj, area = CactiParser().get_item(
            mem_name="glb", mem_type="sram", size=size_bytes * 8, r_bw=port_bits,
            r_port=1, w_port=1, rw_port=0, bank=1, technology=TECHNOLOGY_NM / 1000,
        )  # fmt: skip
    finally:
        os.environ["PATH"] = env_path
    return SramCost(float(read_pj), float(write_pj), float(area))


@cache
def sram_cost(size_bytes: int, port_bits: int) -> SramCost:
    key = _key(size_bytes, port_bits)
    for table in (_read_table(COMMITTED_TABLE), _read_table(data_dir() / COMMITTED_TABLE.name)):
        if key in table:
            return SramCost(**table[key])
    user_table = data_dir() / COMMITTED_TABLE.name
    with _locked(data_dir() / "cacti.lock"):
        entries = _read_table(user_table)
        if key not in entries:
            entries[key] = run_cacti(size_bytes, port_bits).__dict__
            write_table(user_table, entries)
    return SramCost(**entries[key])


def write_table(path: Path, entries: dict) -> None:
    payload = {
        "source": f"CACTI 7 as shipped in zigzag-dse, {TECHNOLOGY_NM} nm, 1 read + 1 write port, 1 bank",
        "units": {
            "read_pj": "pJ per access of the port width",
            "write_pj": "pJ per access",
            "area_mm2": "mm^2",
        },
        "rebuild": "python -m accel_model.cacti",
        "entries": dict(sorted(entries.items())),
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=1) + "\n")
    tmp.replace(path)


def build_committed_table(sizes_kib, port_bits: int) -> None:
    entries = _read_table(COMMITTED_TABLE)
    for kib in sizes_kib:
        entries.setdefault(_key(kib * 1024, port_bits), run_cacti(kib * 1024, port_bits).__dict__)
    write_table(COMMITTED_TABLE, entries)


if __name__ == "__main__":
    from accel_model.space import DesignSpace
    from accel_model.technology import GLB_PORT_BITS

    build_committed_table(DesignSpace().glb_kib, GLB_PORT_BITS)
    print(f"wrote {COMMITTED_TABLE}")
