"""The simulator dataset the evaluator network learns from: sampled accelerators x layer shapes.

Pairs are drawn with a seeded RNG in a fixed order, so a larger ``samples`` extends a smaller one and
a re-run reads everything already simulated from the cache. The table is a gzipped CSV (one row per
pair, failed ones included with their error) plus a provenance JSON beside it.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import platform
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from accel_model.cache import Record, SimulationCache, cache_key
from accel_model.domain import Accelerator, Cost, LayerShape
from accel_model.networks import network_layers
from accel_model.paths import default_cache_path
from accel_model.simulators import DEFAULT_BACKEND, make_simulator
from accel_model.space import DesignSpace
from accel_model.sweep import sweep

COLUMNS = (
    "source", "in_channels", "out_channels", "kernel_h", "kernel_w", "stride", "groups", "in_h", "in_w",
    "batch",
    "pe_rows", "pe_cols", "rf_bytes", "glb_kib", "dataflow", "bits", "clock_mhz",
    "status", "latency_cycles", "energy_pj", "area_mm2", "sim_seconds", "error",
)  # fmt: skip

# Common CNN layers beside the search space's: ImageNet ResNet-18 / MobileNetV2 and CIFAR ResNet-20.
COMMON_NETWORKS = (("resnet18", 224), ("mobilenet_v2", 224), ("resnet20", 32))


def common_layers() -> list[tuple[str, LayerShape]]:
    out = []
    for name, hw in COMMON_NETWORKS:
        out += [(name, layer) for layer in network_layers(name, hw=hw)]
    return out


def unique_pool(tagged: Sequence[tuple[str, LayerShape]]) -> list[tuple[str, LayerShape]]:
    seen, pool = set(), []
    for source, layer in tagged:
        if layer not in seen:
            seen.add(layer)
            pool.append((source, layer))
    return pool


def sample_pairs(
    pool: Sequence[tuple[str, LayerShape]],
    samples: int,
    seed: int,
    space: DesignSpace,
    exclude: Sequence[Accelerator] = (),
) -> list[tuple[str, LayerShape, Accelerator]]:
    """``samples`` draws of (uniform layer from the pool, uniform accelerator from the space), skipping
    draws of an ``exclude``d accelerator (with none excluded, every draw is kept)."""
    excluded, rng, out = set(exclude), random.Random(seed), []
    if space.size <= len(excluded):
        raise ValueError("every accelerator of the space is excluded")
    while len(out) < samples:
        source, layer = pool[rng.randrange(len(pool))]
        accel = space.sample(rng)
        if accel not in excluded:
            out.append((source, layer, accel))
    return out


def network_pool(networks: Sequence[tuple[str, int]]) -> list[tuple[str, LayerShape]]:
    """The distinct layers of the named ``(network, pixels)``s, each tagged with its first network."""
    return unique_pool([(name, layer) for name, hw in networks for layer in network_layers(name, hw=hw)])


def network_pairs(
    networks: Sequence[tuple[str, int]],
    samples: int,
    seed: int,
    space: DesignSpace,
    exclude: Sequence[Accelerator] = (),
) -> list[tuple[str, LayerShape, Accelerator]]:
    """``sample_pairs`` over ``network_pool(networks)``; a larger ``samples`` extends a smaller one with
    the same seed."""
    return sample_pairs(network_pool(networks), samples, seed, space, exclude)


def record_row(source: str, record: Record) -> dict[str, Any]:
    layer, accel, cost = record.layer, record.accel, record.cost
    return {
        "source": source, "in_channels": layer.in_channels, "out_channels": layer.out_channels,
        "kernel_h": layer.kernel[0], "kernel_w": layer.kernel[1], "stride": layer.stride,
        "groups": layer.groups,
        "in_h": layer.in_hw[0], "in_w": layer.in_hw[1], "batch": layer.batch,
        **accel.to_dict(), "status": record.status,
        "latency_cycles": cost.latency_cycles if cost else "", "energy_pj": cost.energy_pj if cost else "",
        "area_mm2": cost.area_mm2 if cost else "", "sim_seconds": round(record.seconds, 4),
        "error": record.error or "",
    }  # fmt: skip


def row_to_pair(row: dict[str, str]) -> tuple[LayerShape, Accelerator]:
    layer = LayerShape(
        int(row["in_channels"]), int(row["out_channels"]), (int(row["kernel_h"]), int(row["kernel_w"])),
        int(row["stride"]), int(row["groups"]), (int(row["in_h"]), int(row["in_w"])), int(row["batch"]),
    )  # fmt: skip
    accel = Accelerator(
        int(row["pe_rows"]), int(row["pe_cols"]), int(row["rf_bytes"]), int(row["glb_kib"]), row["dataflow"],
        int(row["bits"]), int(row["clock_mhz"]),
    )  # fmt: skip
    return layer, accel


def write_table(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """Gzipped CSV, written to a temp file and renamed (never half-written)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    tmp = path.with_name(f".{path.name}.tmp")
    with gzip.open(tmp, "wt", compresslevel=9) as fh:
        fh.write(buffer.getvalue())
    os.replace(tmp, path)


def read_table(path: str | Path) -> list[dict[str, str]]:
    path = Path(path)
    try:
        with gzip.open(path, "rt") if path.suffix == ".gz" else open(path) as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, EOFError, csv.Error) as exc:
        raise ValueError(f"{path}: not a readable dataset table ({exc})") from None
    if rows and set(COLUMNS) - set(rows[0]):
        raise ValueError(f"{path}: missing columns {sorted(set(COLUMNS) - set(rows[0]))}")
    return rows


def provenance_path(out: Path) -> Path:
    return out.with_name(out.name.removesuffix(".gz").removesuffix(".csv") + ".provenance.json")


def import_table(out: Path, sim, cache: SimulationCache) -> int:
    """Load the rows of an existing table made with the same backend version and settings into the
    cache, so a build on another machine continues it instead of simulating them again."""
    try:
        prov = json.loads(provenance_path(out).read_text())
        rows = read_table(out)
    except (OSError, ValueError):
        return 0
    if (prov.get("backend_version"), prov.get("settings")) != (sim.version, sim.settings()):
        return 0
    imported = 0
    for row in rows:
        layer, accel = row_to_pair(row)
        key = cache_key(layer, accel, sim.name, sim.version, sim.settings())
        if cache.get(key) is None:
            cost = None
            if row["status"] == "ok":
                cost = Cost(float(row["latency_cycles"]), float(row["energy_pj"]), float(row["area_mm2"]),
                            accel.clock_mhz)  # fmt: skip
            record = Record(
                layer, accel, row["status"], cost, row["error"] or None, float(row["sim_seconds"])
            )
            cache.put(key, sim.name, sim.version, sim.settings(), record)
            imported += 1
    return imported


def build_dataset(
    out: str | Path,
    search_space_layers: Sequence[LayerShape],
    samples: int,
    seed: int = 0,
    workers: int = 2,
    settings: dict[str, Any] | None = None,
    cache=None,
    scheduler: str | None = None,
    space: DesignSpace | None = None,
    command: str = "",
    progress: bool = True,
    checkpoint_every: int = 1000,
) -> dict[str, Any]:
    """Simulate ``samples`` sampled pairs and write ``out`` (.csv.gz) and its .provenance.json."""
    space = space or DesignSpace()
    pool = unique_pool([("search_space", layer) for layer in search_space_layers] + common_layers())
    meta = {
        "layer_pool": {
            "unique_layers": len(pool),
            "search_space": sum(s == "search_space" for s, _ in pool),
            "common_networks": [f"{n}@{hw}px" for n, hw in COMMON_NETWORKS],
        },
        "design_space": space.to_dict(),
        "seed": seed,
        "samples": samples,
        "rebuild": command or f"coexplore dataset build --samples {samples} --seed {seed} --out {out}",
    }
    pairs = sample_pairs(pool, samples, seed, space)
    return simulate_table(out, pairs, meta, workers, settings, cache, scheduler, progress, checkpoint_every)


def simulate_table(
    out: str | Path,
    pairs: Sequence[tuple[str, LayerShape, Accelerator]],
    meta: dict[str, Any],
    workers: int = 2,
    settings: dict[str, Any] | None = None,
    cache=None,
    scheduler: str | None = None,
    progress: bool = True,
    checkpoint_every: int = 1000,
) -> dict[str, Any]:
    """Simulate tagged (source, layer, accelerator) pairs into a table ``out`` with its provenance.

    Every ``checkpoint_every`` results the table is rewritten with the rows done so far (marked
    ``"complete": false`` in the provenance), so a long build leaves usable partial files."""

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sim = make_simulator(DEFAULT_BACKEND, **(settings or {}))
    start, done = time.time(), {}
    meta = meta | {
        "backend": sim.name,
        "backend_version": sim.version,
        "settings": sim.settings(),
        "python": platform.python_version(),
    }

    def save(complete: bool) -> dict[str, Any]:
        rows = [record_row(pairs[i][0], done[i]) for i in sorted(done)]
        write_table(out, rows)
        failed = [r["error"].split(":")[0] for r in rows if r["status"] == "failed"]
        provenance = {
            "complete": complete,
            "rows": len(rows),
            "ok": len(rows) - len(failed),
            "failed": len(failed),
            "failure_kinds": {kind: failed.count(kind) for kind in sorted(set(failed))},
            **meta,
            "wall_seconds_this_run": round(time.time() - start, 1),
        }
        provenance_path(out).write_text(json.dumps(provenance, indent=1) + "\n")
        return provenance

    def on_result(i: int, record: Record) -> None:
        done[i] = record
        if checkpoint_every and len(done) % checkpoint_every == 0 and len(done) < len(pairs):
            save(complete=False)

    db = cache if isinstance(cache, SimulationCache) else SimulationCache(cache or default_cache_path())
    try:
        imported = import_table(out, sim, db)
        todo = [(layer, accel) for _, layer, accel in pairs]
        report = sweep(
            todo, DEFAULT_BACKEND, settings, db, workers, scheduler, progress=progress, on_result=on_result
        )
    finally:
        if db is not cache:
            db.close()
    done = dict(enumerate(report.records))
    return save(complete=True) | {"simulated_this_run": report.simulated, "imported_rows": imported}
