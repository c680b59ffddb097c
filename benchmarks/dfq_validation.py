r"""How the DFQ defaults were chosen: variants of one quantization run (W4A4 unless a variant says),
scored on the *validation* split (never the test split), on the committed default child or the
checkpoint given second.

    .venv/bin/python benchmarks/dfq_validation.py '[{}, {"spec": {"observer": "ema"}}]'
    .venv/bin/python benchmarks/dfq_validation.py '[{"source": "zeroq", "bits": "W2A4"}]' \
        results/teachers/resnet20.pt
    .venv/bin/python benchmarks/dfq_validation.py '[{"source": "real", "ft": "none"},
        {"source": "real", "ft": "none", "spec": {"observer": "ema"}}]'

Each variant is a JSON object: ``source`` (default gdfq), ``ft`` (fine-tuning, default kd), ``bits`` (default
"W4A4"), ``source_settings`` (profile overrides for the source, e.g. generator_steps), ``settings``
(overrides for the fine-tuning), ``spec`` (QuantSpec fields), ``seed`` (default 0; of the source and the
fine-tuning) and ``every`` (also print the validation drop every that many fine-tuning steps). A source
is prepared once per (source, overrides, seed). Prints one line per variant: validation accuracy of FP
and quantized, drop, top-1 agreement, seconds.
"""

import json
import sys
import time

import torch

from dfq.api import dfq_profile, prepare_source, quantize
from dfq.pipeline import compare_with_teacher
from dfq.quant_model import QuantSpec
from dfq.table import parse_bits
from nas.data import load_splits
from nas.train import load_checkpoint


def every_steps(every: int, validate):
    """The fine-tuning callback that prints the validation drop every ``every`` steps (None for 0)."""

    def on_step(student, step, _loss):
        if step % every == 0:
            r = validate(student)
            print(f"  step {step}: val drop {(r['fp_acc'] - r['quant_acc']) * 100:.2f}", flush=True)

    return on_step if every else None


def main(variants: list[dict], checkpoint: str = "results/teachers/default_child.pt") -> None:
    teacher, meta = load_checkpoint(checkpoint)
    splits = load_splits(None)

    def validate(student):
        return compare_with_teacher(student, teacher, splits.x_val, splits.y_val, meta["mean"], meta["std"])

    sources: dict[str, tuple] = {}
    for v in variants:
        name, extra, seed = v.get("source", "gdfq"), v.get("source_settings", {}), v.get("seed", 0)
        key = json.dumps([name, extra, seed], sort_keys=True)
        if key not in sources:
            settings = dfq_profile("quick", **extra)
            start = time.perf_counter()
            sources[key] = (prepare_source(name, teacher, meta, settings, seed, splits), settings)
            print(f"prepared {name} {extra} seed {seed} in {time.perf_counter() - start:.0f} s", flush=True)
        source, settings = sources[key]
        start = time.perf_counter()
        ((w_bits, a_bits),) = parse_bits(v.get("bits", "W4A4"))
        on_step = every_steps(v.get("every", 0), validate)
        spec = QuantSpec(w_bits, a_bits, **v.get("spec", {}))
        tuned = dfq_profile("quick", **{**extra, **v.get("settings", {})})
        student, _ = quantize(teacher, spec, meta, source, v.get("ft", "kd"), tuned, seed, on_step=on_step)
        r = validate(student)
        print(
            f"{json.dumps(v)}: val FP {r['fp_acc'] * 100:.2f} W{w_bits}A{a_bits} {r['quant_acc'] * 100:.2f} "
            f"drop {(r['fp_acc'] - r['quant_acc']) * 100:.2f} agreement {r['top1_agreement'] * 100:.2f} "
            f"({time.perf_counter() - start:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3) or sys.argv[1] in ("-h", "--help"):
        sys.exit(__doc__)
    torch.set_num_threads(2)
    main(json.loads(sys.argv[1]), *sys.argv[2:])
