"""The held-out test of the evaluator: whole networks x accelerators outside its training set."""

from __future__ import annotations

import json
import random
from pathlib import Path

from accel_model.dataset import (
    COMMON_NETWORKS,
    common_layers,
    provenance_path,
    read_table,
    row_to_pair,
    sample_pairs,
    unique_pool,
)
from accel_model.domain import Accelerator, LayerShape
from accel_model.evaluator_report import heldout_accelerators, network_errors, parity_plot, simulate_networks
from accel_model.files import write_rows
from accel_model.networks import network_layers
from accel_model.space import DesignSpace
from accel_model.training_tables import (
    DEFAULT_DATASET,
    HELDOUT_SEED,
    RESERVED_ACCELS,
    TRAINING_TABLES,
)
from nas.model import build_child, candidate_layer_shapes
from nas.space import SearchSpace

# (registered network, input pixels): ImageNet-shaped ResNet-18 / MobileNetV2, CIFAR ResNet-20.
COMMON = COMMON_NETWORKS


def heldout_networks(archs: int, seed: int, image_size: int = 28) -> dict[str, list[LayerShape]]:
    """``archs`` random children of the search space (1-channel ``image_size`` input) and the common
    CNNs; names are ``family#id``."""
    space, rng = SearchSpace(), random.Random(seed)
    nets = {
        f"search_space#{i}": build_child(space, space.sample_arch(rng)).layer_shapes(image_size)
        for i in range(archs)
    }
    for name, hw in COMMON:
        nets[f"{name}#{hw}px"] = network_layers(name, hw=hw)
    return nets


def dataset_search_space_layers() -> list[LayerShape]:
    """The search-space layers of the simulator dataset: 1-channel 28 px and 3-channel 32 px inputs."""
    space = SearchSpace()
    return candidate_layer_shapes(space, 28, 1) + candidate_layer_shapes(space, 32, 3)


def dataset_accelerators(dataset: str) -> set[Accelerator]:
    """Accelerators in the table, and those its provenance plans (a partial build will add them)."""
    found = {row_to_pair(row)[1] for row in read_table(dataset)}
    try:
        prov = json.loads(provenance_path(Path(dataset)).read_text())
        pool = unique_pool([("search_space", x) for x in dataset_search_space_layers()] + common_layers())
        found |= {accel for _, _, accel in sample_pairs(pool, prov["samples"], prov["seed"], DesignSpace())}
    except (OSError, ValueError, KeyError):
        pass
    return found


def tables_accelerators(paths) -> set[Accelerator]:
    """The accelerators of every row of the given tables."""
    return {row_to_pair(row)[1] for path in paths for row in read_table(path)}


def heldout_setup(dataset: str, accels: int, archs: int, seed: int, exclude=()):
    """Networks and accelerators for the report; no accelerator appears in ``dataset`` or ``exclude``
    (the other training tables': built without the first RESERVED_ACCELS of this draw, older ones
    without the first HELDOUT_ACCELS, so excluding them leaves those as they are and only steers
    larger draws)."""
    space = DesignSpace()
    accelerators = heldout_accelerators(space, dataset_accelerators(dataset) | set(exclude), accels, seed)
    return heldout_networks(archs, seed), accelerators


def reserved_accelerators() -> tuple[list[Accelerator], str]:
    """The held-out report's first RESERVED_ACCELS accelerators, which every dataset extension leaves
    out (drawn, as the report does, outside every training table), and a sentence saying so."""
    extensions = [path for path in TRAINING_TABLES if path != DEFAULT_DATASET and path.exists()]
    trained = tables_accelerators(extensions)  # heldout_setup skips the uniform table's itself
    _, heldout = heldout_setup(str(DEFAULT_DATASET), RESERVED_ACCELS, 1, HELDOUT_SEED, trained)
    excluded = (
        f"the {RESERVED_ACCELS} held-out accelerators of `coexplore evaluator report --accels "
        f"{RESERVED_ACCELS}` (seed {HELDOUT_SEED})"
    )
    return heldout, excluded


def select_common_networks(networks: str) -> list[tuple[str, int]]:
    """Comma-separated names of ``COMMON`` as (name, input pixels); ``ValueError`` for an unknown one."""
    sizes = dict(COMMON)
    names = [n.strip() for n in networks.split(",") if n.strip()]
    unknown = [n for n in names if n not in sizes]
    if unknown or not names:
        raise ValueError(
            f"unknown network {unknown[0] if unknown else networks!r}; choose from {', '.join(sizes)}"
        )
    return [(n, sizes[n]) for n in names]


def trained_on(model) -> set[Accelerator]:
    """The accelerators of every table the evaluator ``model`` was trained on (its metadata names them;
    recorded paths are absolute, so on another machine they are looked up in the package data)."""
    recorded = [Path(t) for t in getattr(model, "metadata", {}).get("dataset", [])]
    tables = [t if t.exists() else DEFAULT_DATASET.with_name(t.name) for t in recorded]
    return tables_accelerators([t for t in tables if t.exists()])


def heldout_report(
    model,
    dataset: str,
    accels: int,
    archs: int,
    seed: int,
    workers: int,
    out: str | Path,
    baseline=None,
    baseline_name: str = "",
) -> dict:
    """Simulate held-out networks x accelerators (none in any training table) and compare the evaluator
    ``model`` (and ``baseline``, scored on the same draw) with ZigZag: ``networks.csv``, ``summary.json``
    and ``parity.png`` in ``out``. Returns the summary."""

    networks, accelerators = heldout_setup(dataset, accels, archs, seed, trained_on(model))
    simulated = simulate_networks(networks, accelerators, workers=workers)
    rows, summary = network_errors(model, networks, accelerators, simulated)
    summary["training_tables_excluded"] = getattr(model, "metadata", {}).get("dataset", [])
    if baseline is not None:  # the draw is the reported evaluator's, whatever the baseline saw
        _, scored = network_errors(baseline, networks, accelerators, simulated)
        summary["baseline"] = {"evaluator": baseline_name, **scored}
    out = Path(out)
    write_rows(out / "networks.csv", rows)
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    parity_plot(
        out / "parity.png",
        rows,
        f"evaluator vs ZigZag: {len(networks)} networks x {len(accelerators)} held-out accelerators",
    )
    return summary
