"""Hardware-generator commands: ``hwgen train`` and ``hwgen check``."""

from __future__ import annotations

import json
import random
from pathlib import Path

import click
import torch

from accel_model.evaluator import DEFAULT_EVALUATOR
from accel_model.files import atomic_write_bytes, load_torch_file
from search.cli_evaluator import EVALUATOR_OPTION, load_evaluator_or_exit
from search.cli_util import InputError, bad_input_is_exit_2

DEFAULT_GENERATOR = DEFAULT_EVALUATOR.with_name("hwgen_edap.pt")
GENERATOR_FORMAT = "coexplore-hwgen-v1"


def save_generator(model, path: Path, meta: dict) -> None:
    payload = {"format": GENERATOR_FORMAT, "state_dict": model.state_dict(), **meta}
    atomic_write_bytes(path, lambda fh: torch.save(payload, fh))


def load_generator(path: str):
    """(generator, objective weights, image size); ValueError naming the problem otherwise."""
    from accel_model.hwgen import HardwareGenerator, PerDataflowGenerator

    blob = load_torch_file(path, "generator", " (train one: coexplore hwgen train)")
    if not isinstance(blob, dict) or blob.get("format") != GENERATOR_FORMAT:
        raise ValueError(f"{path}: not a coexplore hardware generator")
    kind = PerDataflowGenerator if blob.get("kind") == "per_dataflow" else HardwareGenerator
    model = kind(blob["slots"], blob["ops"], blob["field_sizes"], blob["hidden"])
    model.load_state_dict(blob["state_dict"])
    return model.eval(), blob["objective"], blob["image_size"]


def register(main: click.Group) -> None:
    @main.group()
    def hwgen():
        """Hardware generation: architecture -> accelerator, trained through the evaluator."""

    @hwgen.command("train")
    @EVALUATOR_OPTION
    @click.option(
        "--objective",
        default="edap",
        show_default=True,
        help="latency, energy, area, edp, edap or weights like latency=1,energy=0.5.",
    )
    @click.option("--steps", type=click.IntRange(min=1), default=2000, show_default=True)
    @click.option("--image-size", type=click.IntRange(min=1), default=28, show_default=True)
    @click.option("--seed", type=int, default=0, show_default=True)
    @click.option("--out", default=str(DEFAULT_GENERATOR), show_default=True, help="Generator file (.pt).")
    @click.option(
        "--per-dataflow/--single",
        default=True,
        show_default=True,
        help="One generator per dataflow, the evaluator picks (avoids the shape/dataflow trap).",
    )
    def hwgen_train(evaluator_path, objective, steps, image_size, seed, out, per_dataflow):
        """Train the generator on random (soft and hard) architectures of the search space."""
        from accel_model.hwgen import (
            HardwareGenerator,
            PerDataflowGenerator,
            parse_objective,
            train_generator,
            train_per_dataflow,
        )
        from nas.cost_template import cost_template
        from nas.space import SearchSpace

        with bad_input_is_exit_2("--objective"):
            weights = parse_objective(objective)
        evaluator = load_evaluator_or_exit(evaluator_path)
        template = cost_template(SearchSpace(), image_size)
        torch.manual_seed(seed)
        sizes = evaluator.relax.sizes
        kind = PerDataflowGenerator if per_dataflow else HardwareGenerator
        model = kind(len(template.options), len(template.ops), sizes)
        if per_dataflow:
            final = [
                losses[-1]
                for losses in train_per_dataflow(model, evaluator, template, weights, steps, seed=seed)
            ]
        else:
            final = [train_generator(model, evaluator, template, weights, steps, seed=seed)[-1]]
        meta = {
            "slots": len(template.options),
            "ops": len(template.ops),
            "field_sizes": sizes,
            "hidden": 128,
            "kind": "per_dataflow" if per_dataflow else "single",
            "objective": weights,
            "image_size": image_size,
            "steps": steps,
            "final_loss": final,
        }
        save_generator(model, Path(out), meta)
        click.echo(f"wrote {out} (objective {weights}, final mean log objective per member {final})")

    @hwgen.command("check")
    @EVALUATOR_OPTION
    @click.option("--generator", default=str(DEFAULT_GENERATOR), show_default=True, help="Generator file.")
    @click.option("--archs", type=click.IntRange(min=1), default=20, show_default=True)
    @click.option("--top-k", type=click.IntRange(min=1), default=10, show_default=True)
    @click.option("--seed", type=int, default=7, show_default=True, help="Seed of the random archs.")
    @click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
    @click.option("--out", default="results/tables/hwgen_check.csv", show_default=True)
    def hwgen_check_cmd(evaluator_path, generator, archs, top_k, seed, workers, out):
        """Simulated objective of generated accelerators vs. the best of the evaluator's top-k."""
        from accel_model.files import write_rows
        from nas.cost_template import cost_template
        from nas.space import SearchSpace
        from search.hwgen_check import hwgen_check

        evaluator = load_evaluator_or_exit(evaluator_path)
        with bad_input_is_exit_2("--generator"):
            model, weights, image_size = load_generator(generator)
        space = SearchSpace()
        rng = random.Random(seed)
        chosen = [space.sample_arch(rng) for _ in range(archs)]
        template = cost_template(space, image_size)
        if _input_size(model) != template.allowed.numel():
            raise InputError(f"--generator: {generator} was trained for another search space")
        rows = hwgen_check(evaluator, model, template, chosen, weights, image_size, top_k, workers)
        write_rows(out, rows)
        ratios = [r["ratio"] for r in rows]
        within = sum(r <= 1.05 for r in ratios)
        click.echo(
            f"wrote {out}: {within}/{len(rows)} generated accelerators within 5% of the best "
            f"verified top-{top_k} (worst ratio {max(ratios):.3f}, mean {sum(ratios) / len(ratios):.3f})"
        )
        click.echo(json.dumps({"objective": weights}))


def _input_size(model) -> int:
    first = model.members[0] if hasattr(model, "members") else model
    return first.net[0].in_features
