"""The held-out test of the evaluator: whole networks x accelerators outside its training set."""

from __future__ import annotations

import json
import random
from pathlib import Path

from accel_model.dataset import (
    common_layers,
    provenance_path,
    read_table,
    row_to_pair,
    sample_pairs,
    unique_pool,
)
from accel_model.domain import Accelerator, LayerShape
from accel_model.evaluator_report import heldout_accelerators
from accel_model.networks import network_layers
from accel_model.space import DesignSpace
from nas.model import build_child, candidate_layer_shapes
from nas.space import SearchSpace

# The held-out report's defaults. `dataset refine` / `extend` / `disagree` exclude the first
# RESERVED_ACCELS of its draw (those of `evaluator report --accels 30`), so a larger report stays unseen
# as the tables grow.
HELDOUT_ACCELS, HELDOUT_SEED, RESERVED_ACCELS = 10, 1, 30

# (registered network, input pixels): ImageNet-shaped ResNet-18 / MobileNetV2, CIFAR ResNet-20.
COMMON = (("resnet18", 224), ("mobilenet_v2", 224), ("resnet20", 32))


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
