"""Training throughput (images/s) of the default child network on this machine.

Compares memory formats (channels_last vs NCHW) and thread counts, all in one process, with the
NCHW / all-threads run as the baseline of the ratio column. Prints a table and writes JSON.

    .venv/bin/python benchmarks/train_throughput.py [--batch-size 128] [--steps 20] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from nas.model import build_child
from nas.space import SearchSpace


def images_per_second(
    channels_last: bool, threads: int, batch_size: int, steps: int, size: int = 28
) -> float:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    space = SearchSpace()
    model = build_child(space, space.default_arch())
    x, y = torch.randn(batch_size, 1, size, size), torch.randint(0, 10, (batch_size,))
    if channels_last:
        model, x = (
            model.to(memory_format=torch.channels_last),
            x.contiguous(memory_format=torch.channels_last),
        )
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)

    def step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):  # warm-up: allocator, oneDNN primitive caches
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return batch_size * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--out", default="benchmarks/out/train_throughput.json")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    thread_counts = sorted({1, cores})
    rows = []
    for threads in thread_counts:
        for channels_last in (False, True):
            ips = images_per_second(channels_last, threads, args.batch_size, args.steps)
            rows.append({"threads": threads, "channels_last": channels_last, "images_per_s": round(ips, 1)})
    base = next(r for r in rows if r["threads"] == max(thread_counts) and not r["channels_last"])
    print(
        f"default child, batch {args.batch_size}, {args.steps} steps, "
        f"torch {torch.__version__}, {cores} cores"
    )
    print(f"{'threads':>7}  {'format':<13}  {'images/s':>9}  {'vs NCHW@' + str(max(thread_counts)):>10}")
    for r in rows:
        r["ratio_vs_baseline"] = round(r["images_per_s"] / base["images_per_s"], 3)
        fmt = "channels_last" if r["channels_last"] else "NCHW"
        print(f"{r['threads']:>7}  {fmt:<13}  {r['images_per_s']:>9.1f}  {r['ratio_vs_baseline']:>10.2f}x")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "torch": torch.__version__,
        "cores": cores,
        "machine": platform.machine(),
        "batch_size": args.batch_size,
        "steps": args.steps,
        "rows": rows,
    }
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
