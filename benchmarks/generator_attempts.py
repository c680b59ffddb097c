r"""What a generator attempt the collapse check judges would have given: one generator source trained with
one seed (the check recorded, not judged), then W4A4 KD on the committed default child, scored on the
*validation* split. The check's limits were read from runs like these (docs/results/dfq.md).

    .venv/bin/python benchmarks/generator_attempts.py dsg 2000 --threads 1

A table's attempt k of seed s trains with seed s + 1000 k; its fine-tuning keeps seed s (here: 0), so
the generator and its check are those of the table's attempt. Writes
benchmarks/out/generator_attempt_<source>_<seed>_t<threads>.json and prints it.
"""

import argparse
import json
from pathlib import Path

import torch

from dfq.api import dfq_profile, prepare_source, quantize
from dfq.quant_model import QuantSpec
from dfq.sources import generator_check
from nas.data import load_splits
from nas.train import load_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="a generator source: gdfq, dsg, clusterq or qimera")
    parser.add_argument("seed", type=int, help="the generator's seed")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--checkpoint", default="results/teachers/default_child.pt")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator_check.MIN_STEPS_JUDGED = 10**9  # every attempt recorded, none judged
    teacher, meta = load_checkpoint(args.checkpoint)
    splits = load_splits()
    source = prepare_source(args.source, teacher, meta, dfq_profile("quick"), args.seed, splits)
    _, m = quantize(teacher, QuantSpec(4, 4), meta, source, "kd", seed=0, splits=splits, evaluate_on="val")
    record = {"source": args.source, "seed": args.seed, "threads": args.threads, **m["generator_checks"][0]}
    record |= {k: m[k] for k in ("fp_val_acc", "quant_val_acc")} | {"time_s": m["total_time_s"]}
    out = Path("benchmarks/out") / f"generator_attempt_{args.source}_{args.seed}_t{args.threads}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record))


if __name__ == "__main__":
    main()
