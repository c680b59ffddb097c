"""The hardware generator's file: train one (``train_generator_file``), save it, load it back.

Format (``torch.save`` of a dict, weights-only loadable): ``format`` = ``GENERATOR_FORMAT``, the
``state_dict``, and the facts that rebuild and check it: ``slots``, ``ops``, ``field_sizes``, ``hidden``,
``kind`` (``per_dataflow`` or ``single``), ``objective`` (metric weights), ``input`` (the deployment
input it was trained at: channels, height, width; a file with only ``image_size`` was trained at
1 x image_size x image_size), ``steps``, ``final_loss``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from accel_model.evaluator import CostEvaluator
from accel_model.expected_cost import CostTemplate
from accel_model.files import atomic_write_bytes, load_torch_file
from accel_model.hwgen import (
    BITS,
    HardwareGenerator,
    PerDataflowGenerator,
    train_generator,
    train_per_dataflow,
)

GENERATOR_FORMAT = "coexplore-hwgen-v2"  # v2: conditioned on the bit width
HIDDEN = 128


def train_generator_file(
    evaluator: CostEvaluator,
    template: CostTemplate,
    weights: dict[str, float],
    steps: int,
    input_size: dict[str, int],
    seed: int = 0,
    per_dataflow: bool = True,
) -> tuple[nn.Module, dict[str, Any]]:
    """A generator trained on random architectures of ``template`` through the frozen ``evaluator``, and
    the metadata ``save_generator`` stores with it (``final_loss``: mean log objective per member)."""
    torch.manual_seed(seed)
    sizes = evaluator.relax.sizes
    kind = PerDataflowGenerator if per_dataflow else HardwareGenerator
    model = kind(len(template.options), len(template.ops), sizes)
    if per_dataflow:
        runs = train_per_dataflow(model, evaluator, template, weights, steps, seed=seed)
        final = [losses[-1] for losses in runs]
    else:
        final = [train_generator(model, evaluator, template, weights, steps, seed=seed)[-1]]
    meta = {
        "slots": len(template.options),
        "ops": len(template.ops),
        "field_sizes": sizes,
        "hidden": HIDDEN,
        "kind": "per_dataflow" if per_dataflow else "single",
        "objective": weights,
        "input": dict(input_size),
        "steps": steps,
        "final_loss": final,
    }
    return model, meta


def save_generator(model: nn.Module, path: str | Path, meta: dict) -> None:
    payload = {"format": GENERATOR_FORMAT, "state_dict": model.state_dict(), **meta}
    atomic_write_bytes(Path(path), lambda fh: torch.save(payload, fh))


def load_generator(path: str | Path) -> tuple[nn.Module, dict[str, float], dict[str, int]]:
    """(generator in eval mode, objective weights, input it was trained at: channels, height, width);
    ValueError naming the problem otherwise."""
    blob = load_torch_file(path, "generator", " (train one: coexplore hwgen train)")
    if not isinstance(blob, dict) or not str(blob.get("format", "")).startswith("coexplore-hwgen-"):
        raise ValueError(f"{path}: not a coexplore hardware generator")
    if blob["format"] != GENERATOR_FORMAT:
        raise ValueError(
            f"{path}: a {blob['format']} generator, which ignores the bit width; this version needs "
            f"{GENERATOR_FORMAT} (retrain it: coexplore hwgen train)"
        )
    kind = PerDataflowGenerator if blob.get("kind") == "per_dataflow" else HardwareGenerator
    model = kind(blob["slots"], blob["ops"], blob["field_sizes"], blob["hidden"])
    model.load_state_dict(blob["state_dict"])
    size = blob.get("image_size")
    trained_at = blob.get("input") or {"channels": 1, "height": size, "width": size}
    return model.eval(), blob["objective"], trained_at


def generator_input_size(model: nn.Module) -> int:
    """How many architecture inputs (slots x ops of the search space it was trained for) the generator
    reads (besides the bit-width choice)."""
    first = model.members[0] if hasattr(model, "members") else model
    return first.net[0].in_features - first.field_sizes[BITS]
