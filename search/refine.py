"""Targeted extensions of the simulator dataset: where a search ends up, and where the evaluator is unsure.

- ``refinement_pairs``: uniform samples cover the design space thinly where a search ends up (small bit
  widths, small buffers). For random architectures (their own seed) and several objectives, the
  evaluator's top-k accelerators are simulated with every candidate layer of the search space.
- ``disagreement_pairs``: for the layers of common networks, the accelerators on which the evaluator's
  ensemble members disagree most (query by committee), which is where ZigZag's mapping jumps between
  buffer sizes and the training rows are too thin to show it.

Accelerators of the held-out report are excluded from both, so that test stays unseen.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence

import torch

from accel_model.domain import Accelerator, LayerShape
from accel_model.evaluator import CostEvaluator
from accel_model.hwgen import OBJECTIVES, enumerate_space
from accel_model.layer_features import layer_batch
from nas.cost_template import cost_template
from nas.space import SearchSpace

SOURCE = "refine_topk"


def refinement_pairs(
    evaluator: CostEvaluator,
    archs: int,
    top_k: int,
    seed: int,
    objectives: Iterable[str] = ("edap", "latency", "energy"),
    exclude: Iterable[Accelerator] = (),
    image_size: int = 28,
) -> list[tuple[str, LayerShape, Accelerator]]:
    space, rng = SearchSpace(), random.Random(seed)
    template = cost_template(space, image_size)
    excluded, accels = set(exclude), {}
    for _ in range(archs):
        probs = template.one_hot([space.sample_arch(rng).ops])
        for objective in objectives:
            for accel, _ in enumerate_space(evaluator, template, probs, OBJECTIVES[objective], top_k):
                if accel not in excluded:
                    accels[accel] = None
    return [(SOURCE, layer, accel) for accel in accels for layer in template.unique_layers]


def disagreement_pairs(
    evaluator: CostEvaluator,
    pool: Sequence[tuple[str, LayerShape]],
    samples: int,
    seed: int,
    top_fraction: float = 0.05,
    exclude: Iterable[Accelerator] = (),
) -> list[tuple[str, LayerShape, Accelerator]]:
    """Query by committee: per layer of ``pool``, the ``top_fraction`` of the allowed accelerators on
    which the ensemble's members disagree most (the spread of their log latency plus that of their log
    energy); ``samples`` distinct draws of (uniform layer, uniform accelerator of its top set), tagged with
    the pool's source name. Mapping jumps the training rows miss show up there: the members, trained
    apart, each smooth over them their own way."""
    if evaluator.n_members < 2:
        raise ValueError("the evaluator has one member: no disagreement to rank by")
    space, relax = evaluator.space, evaluator.relax
    index = relax.all_indices()
    accels = [space.from_indices(tuple(i)) for i in index.tolist()]
    excluded = set(exclude)
    allowed = torch.tensor([a not in excluded for a in accels])
    keep = max(1, math.ceil(top_fraction * int(allowed.sum())))
    if samples > len(pool) * keep:
        raise ValueError(f"only {len(pool) * keep} candidate pairs for {samples} samples")
    probs = relax.from_index_tensor(index)
    top = []
    for _, layer in pool:
        with torch.no_grad():
            members = evaluator.grid_members(layer_batch([layer], space), probs)[:, 0]  # [M, A, 2]
        spread = members.std(0).sum(-1).masked_fill(~allowed, -1.0)
        top.append(torch.argsort(spread, descending=True, stable=True)[:keep].tolist())
    rng, chosen = random.Random(seed), {}
    while len(chosen) < samples:
        i = rng.randrange(len(pool))
        chosen.setdefault((i, top[i][rng.randrange(keep)]), None)
    return [(pool[i][0], pool[i][1], accels[a]) for i, a in chosen]
