"""Evaluator speed on CPU: predictions per second in batch, and the ratio to the simulator.

    .venv/bin/python benchmarks/evaluator_speed.py [--threads 2] [--out benchmarks/out/evaluator_speed.json]

Three batch workloads, each timed after a warm-up (best of 3 repeats); `first_call_s` is the layers
workload's first call, which also tabulates the loop mapper (an evaluator trained with `--mapper`):
- layers: distinct (layer, accelerator) pairs (the 52 distinct layers of ResNet-18, MobileNetV2 and
  ResNet-20 x A);
- search-space networks x accelerators: random children of the search space share their candidate
  layers, so each distinct layer is predicted once per accelerator and networks are sums (this is how
  the search and the hardware generator use it);
- ResNet-18 / MobileNetV2 (ImageNet shapes) x accelerators.
The simulator's time per network comes from the cache (seconds ZigZag took for each layer, recorded
when it was simulated), for the networks the held-out report simulated.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path

import torch

from accel_model.cache import SimulationCache, cache_key
from accel_model.dataset import common_layers, unique_pool
from accel_model.evaluator import load_evaluator
from accel_model.layer_features import layer_batch
from accel_model.networks import network_layers
from accel_model.paths import default_cache_path
from accel_model.simulators import make_simulator
from nas.model import build_child
from nas.space import SearchSpace


def best_of(fn, repeats: int = 3) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def simulator_seconds(networks: dict[str, list], accels) -> dict[str, float | int]:
    """Mean seconds ZigZag took per network, over (network, accelerator) pairs fully in the cache."""
    sim = make_simulator("zigzag")
    per_net = []
    with SimulationCache(default_cache_path()) as db:
        for layers in networks.values():
            for accel in accels:
                recs = [db.get(cache_key(x, accel, sim.name, sim.version, sim.settings())) for x in layers]
                if all(r is not None and r.status == "ok" for r in recs):
                    per_net.append(sum(r.seconds for r in recs))
    return {"pairs": len(per_net), "mean_s": statistics.mean(per_net) if per_net else float("nan")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--accels", type=int, default=1024)
    parser.add_argument("--archs", type=int, default=1000)
    parser.add_argument("--out", default="benchmarks/out/evaluator_speed.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_evaluator()
    rng = random.Random(0)
    accels = list(dict.fromkeys(model.space.sample(rng) for _ in range(args.accels)))
    probs = model.relax.hard(accels)
    space = SearchSpace()
    layers = [layer for _, layer in unique_pool(common_layers())]
    archs = [build_child(space, space.sample_arch(rng)).layer_shapes(28) for _ in range(args.archs)]
    imagenet = [network_layers("resnet18", hw=224), network_layers("mobilenet_v2", hw=224)]
    results = {"threads": args.threads, "accelerators": len(accels)}

    with torch.no_grad():
        lb = layer_batch(layers, model.space)
        start = time.perf_counter()
        model.grid(lb, probs)  # the first call also tabulates the loop mapper for these layers, if used
        results["first_call_s"] = time.perf_counter() - start
        t = best_of(lambda: model.grid(lb, probs))
    results["layers"] = {
        "pairs": len(layers) * len(accels),
        "seconds": t,
        "per_s": len(layers) * len(accels) / t,
    }
    t = best_of(lambda: model.predict_networks(archs, accels))
    results["search_space_networks"] = {
        "pairs": len(archs) * len(accels),
        "seconds": t,
        "per_s": len(archs) * len(accels) / t,
    }
    t = best_of(lambda: model.predict_networks(imagenet, accels))
    results["imagenet_networks"] = {"pairs": 2 * len(accels), "seconds": t, "per_s": 2 * len(accels) / t}

    # Simulator time for the networks of the held-out report (seed 1): what one prediction replaces.
    from search.heldout import heldout_networks

    report = Path("results/evaluator/networks.csv")
    if report.exists():
        import csv

        from accel_model.domain import Accelerator

        with open(report) as fh:
            rows = list(csv.DictReader(fh))
        held_accels = list(
            dict.fromkeys(
                Accelerator(
                    int(r["pe_rows"]),
                    int(r["pe_cols"]),
                    int(r["rf_bytes"]),
                    int(r["glb_kib"]),
                    r["dataflow"],
                    int(r["bits"]),
                    int(r["clock_mhz"]),
                )
                for r in rows
            )
        )
        nets = heldout_networks(30, 1)
        for family, key in (("search_space", "search_space_networks"), ("imagenet", "imagenet_networks")):
            chosen = {
                n: v
                for n, v in nets.items()
                if (n.startswith("search_space")) == (family == "search_space")
                and not n.startswith("resnet20")
            }
            sim = simulator_seconds(chosen, held_accels)
            results[key]["simulator_s_per_network"] = sim["mean_s"]
            results[key]["simulator_pairs_timed"] = sim["pairs"]
            results[key]["speedup_vs_simulator"] = sim["mean_s"] * results[key]["per_s"]

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    print(f"first call (with the loop mapper's tables): {results['first_call_s']:.1f} s")
    print(f"{'workload':<24} {'pairs':>9} {'per second':>12} {'sim s/net':>10} {'speed-up':>10}")
    for key in ("layers", "search_space_networks", "imagenet_networks"):
        r, nan = results[key], float("nan")
        sim_s, speedup = r.get("simulator_s_per_network", nan), r.get("speedup_vs_simulator", nan)
        print(f"{key:<24} {r['pairs']:>9} {r['per_s']:>12.0f} {sim_s:>10.2f} {speedup:>10.3g}")


if __name__ == "__main__":
    main()
