"""A targeted extension of the simulator dataset: the accelerators the evaluator ranks best.

Uniform samples cover the design space thinly where a search ends up (small bit widths, small buffers).
For random architectures (their own seed) and several objectives, the evaluator's top-k accelerators are
simulated with every candidate layer of the search space. Accelerators of the held-out report are
excluded, so that test stays unseen.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from accel_model.domain import Accelerator, LayerShape
from accel_model.evaluator import CostEvaluator
from accel_model.hwgen import OBJECTIVES, enumerate_space
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
