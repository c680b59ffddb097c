"""Supernet step time against the child network's step time, in one process.

For each of several random children of the search space (uniform op per layer), on the same batch:

- ``child``: one SGD step of that child alone (``nas.model.build_child``), the baseline;
- ``supernet``: one weight step of the quantization-aware supernet through that child's path at a
  drawn bit width (``search.dance.weight_step``: weights and layer inputs fake-quantized);
- ``search iteration``: a weight step through binary-gate sampled paths at a drawn bit width followed by
  one architecture step (``search.dance.arch_step``: CE on a validation batch through the supernet at a
  straight-through mix of every bit width + lam * evaluator cost through the hardware generator), i.e.
  what one step of the DANCE search costs.

Ratios are mean step times over the same children against the child mean. Prints a table and writes
JSON. Random inputs (throughput does not depend on the pixels); channels_last as in training.

    .venv/bin/python benchmarks/search_overhead.py [--archs 6] [--steps 5] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from statistics import fmean

import torch
import torch.nn.functional as F

from accel_model.evaluator import load_evaluator
from accel_model.hwgen import SelectedMember, parse_objective
from accel_model.hwgen_io import load_generator
from accel_model.paths import DEFAULT_GENERATOR
from nas.arch import Arch
from nas.cost_template import cost_template
from nas.model import build_child
from nas.space import SearchSpace
from nas.supernet import arch_paths, sample_paths, uniform_paths
from search.dance import SearchConfig, arch_step, build_search, weight_step


def timed(step, steps: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def child_step_time(space: SearchSpace, arch: Arch, x, y, steps: int, channels_last: bool) -> float:
    model = build_child(space, arch)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)

    def step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return timed(step, steps)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--archs", type=int, default=6, help="random children to average over")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per child and mode")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--out", default="benchmarks/out/search_overhead.json")
    args = parser.parse_args()

    torch.manual_seed(0)
    space, cfg = SearchSpace(), SearchConfig()
    weights = parse_objective(cfg.objective)
    evaluator = load_evaluator()
    template = cost_template(space, 28, 1, 10)
    generator, _, _ = load_generator(str(DEFAULT_GENERATOR))
    generator.requires_grad_(False)
    hardware = (
        SelectedMember(generator, evaluator, template, weights)
        if hasattr(generator, "members")
        else generator
    )
    state, opts = build_search(space, 1, 10, cfg, evaluator, template, weights, hardware)
    x, y = torch.randn(args.batch_size, 1, 28, 28), torch.randint(0, 10, (args.batch_size,))
    xv, yv = torch.randn(args.batch_size, 1, 28, 28), torch.randint(0, 10, (args.batch_size,))
    if cfg.channels_last:
        x, xv = (t.contiguous(memory_format=torch.channels_last) for t in (x, xv))
    gen = torch.Generator().manual_seed(0)

    def search_iteration():
        with torch.no_grad():
            paths = sample_paths(state.alpha, cfg.sampling, cfg.paths, 1.0, gen)
        weight_step(state, opts.weights, x, y, paths, state.bits.draw(gen))
        arch_step(state, cfg, opts.alpha, opts.hardware, xv, yv, 1.0, gen)

    rows = []
    for i in range(args.archs):
        arch = Arch(tuple(space.ops[p[0][0]] for p in uniform_paths(space, gen)))
        paths = arch_paths(space, arch)
        child = child_step_time(space, arch, x, y, args.steps, cfg.channels_last)

        def supernet_step(paths=paths):
            weight_step(state, opts.weights, x, y, paths, state.bits.draw(gen))

        supernet = timed(supernet_step, args.steps)
        iteration = timed(search_iteration, args.steps)
        rows.append({"arch": ",".join(arch.ops), "child_s": child, "supernet_s": supernet,
                     "search_iteration_s": iteration})  # fmt: skip
        print(f"child {i + 1}/{args.archs}: child {child * 1e3:.0f} ms, supernet {supernet * 1e3:.0f} ms, "
              f"search iteration {iteration * 1e3:.0f} ms")  # fmt: skip
    child = fmean(r["child_s"] for r in rows)
    summary = {
        "child_step_ms": round(child * 1e3, 1),
        "supernet_step_ms": round(fmean(r["supernet_s"] for r in rows) * 1e3, 1),
        "search_iteration_ms": round(fmean(r["search_iteration_s"] for r in rows) * 1e3, 1),
    }
    summary["supernet_vs_child"] = round(summary["supernet_step_ms"] / summary["child_step_ms"], 2)
    summary["search_iteration_vs_child"] = round(summary["search_iteration_ms"] / summary["child_step_ms"], 2)
    print(f"batch {args.batch_size}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    for key, value in summary.items():
        print(f"  {key:<26} {value}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    report = {"torch": torch.__version__, "cores": os.cpu_count(), "threads": torch.get_num_threads(),
              "batch_size": args.batch_size, "steps": args.steps, "channels_last": cfg.channels_last,
              "quantization_aware": cfg.quantization_aware, "summary": summary, "rows": rows}  # fmt: skip
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
