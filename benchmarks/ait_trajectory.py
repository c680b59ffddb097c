r"""What AIT's gradient inundation does to a student during fine-tuning, scored on the *validation* split.

    .venv/bin/python benchmarks/ait_trajectory.py --checkpoint results/teachers/resnet20.pt \
        --source dsg --bits W2A4 --seed 0 --every 25

One run of ``<source>+<finetune>`` (the table's protocol: quick profile, seeds as in ``dfq table``). Every
``--every`` fine-tuning steps it prints: validation accuracy of the student, the step's KL loss, the
largest inundation scale any layer took since the last line (AIT only), and how far the weights drifted:
the largest ratio of a layer's current weight range (max |w| over the layer) to its range before
fine-tuning. Writes the same as JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from dfq.api import dfq_profile, prepare_source, quantize
from dfq.finetunes import ait
from dfq.pipeline import compare_with_teacher
from dfq.quant_model import QuantSpec, QuantWrapper
from dfq.table import parse_bits
from nas.data import load_splits
from nas.train import load_checkpoint


def weight_ranges(student) -> dict[QuantWrapper, float]:
    return {m: float(m.layer.weight.abs().max()) for m in student.modules() if isinstance(m, QuantWrapper)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="results/teachers/resnet20.pt")
    parser.add_argument("--source", default="dsg")
    parser.add_argument("--finetune", default="ait", help="ait or kd (the comparison)")
    parser.add_argument("--bits", default="W2A4")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--every", type=int, default=25, help="fine-tuning steps between two lines")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=None, help="JSON of the trajectory (default: benchmarks/out/...)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ((w_bits, a_bits),) = parse_bits(args.bits)
    teacher, meta = load_checkpoint(args.checkpoint)
    splits = load_splits(None)
    settings = dfq_profile("quick")
    start = time.perf_counter()
    source = prepare_source(args.source, teacher, meta, settings, args.seed, splits)
    print(f"prepared {args.source} in {time.perf_counter() - start:.0f} s", flush=True)

    trajectory: list[dict] = []
    scales: list[float] = []
    state: dict = {"step": 0, "ranges": None}
    original_scale = ait.inundation_scale

    def recording_scale(*a, **k):
        scales.append(original_scale(*a, **k))
        return scales[-1]

    def observe(student, step: int, loss: float) -> None:
        state["step"] = step
        if state["ranges"] is None:
            state["ranges"] = weight_ranges(student)
        if state["step"] % args.every and state["step"] != settings.finetune_steps:
            return
        was_training = student.training
        r = compare_with_teacher(student, teacher, splits.x_val, splits.y_val, meta["mean"], meta["std"])
        student.train(was_training)
        now = weight_ranges(student)
        drift = max(now[m] / max(state["ranges"][m], 1e-12) for m in now)
        point = {
            "step": state["step"],
            "val_acc": round(100 * r["quant_acc"], 2),
            "loss": round(loss, 4),
            "max_scale": max(scales, default=1.0),
            "max_range_ratio": round(drift, 3),
            "nan_weights": int(sum(torch.isnan(m.layer.weight).sum() for m in now)),
        }
        scales.clear()
        trajectory.append(point)
        print(json.dumps(point), flush=True)

    ait.inundation_scale = recording_scale
    student, _ = quantize(
        teacher, QuantSpec(w_bits, a_bits), meta, source, args.finetune, seed=args.seed, on_step=observe
    )
    out = Path(
        args.out
        or f"benchmarks/out/ait_trajectory_{Path(args.checkpoint).stem}_{args.source}_"
        f"{args.finetune}_{args.bits}_seed{args.seed}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "trajectory": trajectory}, indent=1) + "\n")
    print(f"-> {out}")


if __name__ == "__main__":
    main()
