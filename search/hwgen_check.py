"""Does the hardware generator pick good accelerators? Compared, per architecture, with enumerating
the whole design space with the evaluator and verifying the top candidates with the simulator."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

import torch

from accel_model.area import accelerator_area
from accel_model.evaluator import CostEvaluator
from accel_model.expected_cost import CostTemplate
from accel_model.hwgen import enumerate_space, select_accelerators
from accel_model.hwgen_io import generator_input_size, load_generator
from accel_model.simulators import DEFAULT_BACKEND
from accel_model.sweep import sweep
from nas.arch import Arch
from nas.cost_template import cost_template
from nas.deployment import InputSize, deployed_layers
from nas.space import SearchSpace


def simulated_objective(layer_costs, accel, objective: dict[str, float]) -> float:
    """Log objective from simulated per-layer costs (summed) and the exact area."""
    totals = {
        "latency": sum(c.latency_cycles for c in layer_costs),
        "energy": sum(c.energy_pj for c in layer_costs),
        "area": accelerator_area(accel),
    }
    return sum(w * math.log(totals[m]) for m, w in objective.items())


def hwgen_check(
    evaluator: CostEvaluator,
    generator: torch.nn.Module,
    template: CostTemplate,
    archs: Sequence[Arch],
    objective: dict[str, float],
    deploy: InputSize | None = None,
    top_k: int = 10,
    workers: int = 2,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Per architecture, at a bit width taken in turn from the design space's (the generator proposes the
    other fields for a given width): the generated accelerator against the evaluator's top ``top_k`` of
    that width, all simulated."""
    space, deploy = SearchSpace(), deploy or InputSize(1, 28, 28)
    choices = evaluator.space.choices("bits")
    plans = []
    for i, arch in enumerate(archs):
        probs, bits = template.one_hot([arch.ops]), choices[i % len(choices)]
        onehot = torch.nn.functional.one_hot(torch.tensor([i % len(choices)]), len(choices)).float()
        top = [accel for accel, _ in enumerate_space(evaluator, template, probs, objective, top_k, bits=bits)]
        generated = select_accelerators(generator, evaluator, template, objective, probs, onehot)[0]
        plans.append((arch, generated, top))
    pairs, index = [], {}
    for arch, generated, top in plans:
        layers = deployed_layers(space, arch, deploy, 10)
        for accel in dict.fromkeys([generated, *top]):
            index[(arch, accel)] = (len(pairs), len(layers))
            pairs += [(layer, accel) for layer in layers]
    records = sweep(pairs, DEFAULT_BACKEND, None, None, workers, progress=progress).records

    def simulated(arch, accel) -> float:
        start, n = index[(arch, accel)]
        chunk = records[start : start + n]
        if any(r.status != "ok" for r in chunk):
            return math.inf
        return simulated_objective([r.cost for r in chunk], accel, objective)

    rows = []
    for arch, generated, top in plans:
        scores = {accel: simulated(arch, accel) for accel in top}
        best = min(scores, key=scores.get)
        gen_score = simulated(arch, generated)
        rows.append(
            {
                "arch": ",".join(arch.ops),
                "bits": generated.bits,
                "generated": _short(generated),
                "best_of_top": _short(best),
                "generated_in_top": generated in top,
                "generated_rank_in_top": top.index(generated) + 1 if generated in top else "",
                "ratio": math.exp(gen_score - scores[best]),
            }
        )
    return rows


def _short(accel) -> str:
    a = accel
    return f"{a.pe_rows}x{a.pe_cols} rf{a.rf_bytes} glb{a.glb_kib} {a.dataflow} {a.bits}b"


def load_checked_generator(path: str, template: CostTemplate):
    """(generator, objective weights, deployment input it was trained at) of the file at ``path``,
    refused (``ValueError``) when it was trained for another search space than ``template``'s."""
    model, weights, trained_at = load_generator(path)
    if generator_input_size(model) != template.allowed.numel():
        raise ValueError(f"{path} was trained for another search space")
    return model, weights, InputSize.from_dict(trained_at)


def check_random_archs(
    evaluator: CostEvaluator,
    generator,
    weights: dict[str, float],
    deploy: InputSize,
    archs: int,
    top_k: int,
    seed: int,
    workers: int,
) -> list[dict[str, Any]]:
    """``hwgen_check`` on ``archs`` random architectures of the search space (drawn with ``seed``) at the
    deployment input ``deploy``."""
    space, rng = SearchSpace(), random.Random(seed)
    chosen = [space.sample_arch(rng) for _ in range(archs)]
    template = cost_template(space, deploy.hw, deploy.channels)
    return hwgen_check(evaluator, generator, template, chosen, weights, deploy, top_k, workers)
