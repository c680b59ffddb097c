"""ZigZag simulator speed: seconds per evaluation for mapper settings (thorough vs cheaper), how much
the cheaper ones change the result, and sweep throughput with 1 and 2 workers.

    .venv/bin/python benchmarks/simulator_speed.py [--pairs 16] [--sweep-pairs 24] [--out FILE]

The thorough setting is LOMA with lpf_limit 6 (ZigZag's own default). Two choices are printed: the
cheapest whose worst-case latency and energy differ from it by at most 1% ("strict"), and the cheapest
whose median differences are at most 1% ("typical"). LOMA is not monotone in lpf_limit (a larger limit
explores other factorizations, not a superset), so some pairs differ in either direction.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from accel_model.dataset import common_layers, sample_pairs, unique_pool
from accel_model.simulators import make_simulator
from accel_model.simulators.zigzag_backend import _parsed_accelerator
from accel_model.space import DesignSpace
from accel_model.sweep import sweep
from nas.model import candidate_layer_shapes
from nas.space import SearchSpace

THOROUGH = {"lpf_limit": 6}
DEFAULT = make_simulator("zigzag").settings()
CANDIDATES = [{"lpf_limit": 2}, {"lpf_limit": 3}, {"lpf_limit": 4}, {"lpf_limit": 5}]


def pairs(n: int, seed: int):
    pool = unique_pool(
        [("search_space", s) for s in candidate_layer_shapes(SearchSpace(), 28)] + common_layers()
    )
    return [(layer, accel) for _, layer, accel in sample_pairs(pool, n, seed, DesignSpace())]


def time_setting(settings: dict, work) -> tuple[list[float], list]:
    """Seconds and cost per pair (cost None where the simulator failed)."""
    sim = make_simulator("zigzag", **settings)
    times, costs = [], []
    for layer, accel in work:
        start = time.perf_counter()
        try:
            costs.append(sim.simulate(layer, accel))
        except Exception as exc:  # noqa: BLE001 - reported, left out of the comparison
            print(f"failed {settings} {layer} {accel}: {type(exc).__name__}")
            costs.append(None)
        times.append(time.perf_counter() - start)
    return times, costs


def summary(diffs: list[float]) -> dict[str, float]:
    return {"max": max(diffs), "mean": statistics.mean(diffs), "median": statistics.median(diffs)}


def cheapest_within(rows: list[dict], stat: str, tolerance: float = 0.01) -> dict:
    ok = [r for r in rows if max(r["latency_diff"][stat], r["energy_diff"][stat]) <= tolerance]
    return min(ok, key=lambda r: r["s_per_eval"])


def rel_diff(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-12)


def compare_settings(work) -> dict:
    """Time every setting on ``work`` and compare its costs with the thorough setting's."""
    for _, accel in work:  # parse every accelerator once, outside the timings (it is cached in use too)
        _parsed_accelerator(accel)
    ref_times, ref_costs = time_setting(THOROUGH, work)
    zero = dict.fromkeys(("max", "mean", "median"), 0.0)
    rows = [{"settings": THOROUGH, "s_per_eval": statistics.mean(ref_times), "latency_diff": zero,
             "energy_diff": zero}]  # fmt: skip
    for settings in CANDIDATES:
        times, costs = time_setting(settings, work)
        both = [(c, r) for c, r in zip(costs, ref_costs, strict=True) if c is not None and r is not None]
        lat = [rel_diff(c.latency_cycles, r.latency_cycles) for c, r in both]
        energy = [rel_diff(c.energy_pj, r.energy_pj) for c, r in both]
        rows.append({"settings": settings, "s_per_eval": statistics.mean(times), "latency_diff": summary(lat),
                     "energy_diff": summary(energy)})  # fmt: skip
    strict, typical = cheapest_within(rows, "max"), cheapest_within(rows, "median")
    print(f"{len(work)} sampled (layer, accelerator) pairs; thorough = {THOROUGH}; relative differences:")
    print(f"{'settings':<18} {'s/eval':>7} {'speed-up':>8}  latency max/mean/median   energy max/mean/median")
    for r in rows:
        lat, en = r["latency_diff"], r["energy_diff"]
        speedup = rows[0]["s_per_eval"] / r["s_per_eval"]
        print(f"{json.dumps(r['settings']):<18} {r['s_per_eval']:>7.3f} {speedup:>7.1f}x"
              f"  {lat['max']:>7.1%} {lat['mean']:>6.1%} {lat['median']:>6.1%}"
              f"   {en['max']:>7.1%} {en['mean']:>6.1%} {en['median']:>6.1%}")  # fmt: skip
    print(f"cheapest within 1% worst case: {strict['settings']}; at the median: {typical['settings']}")
    return {"pairs": len(work), "rows": rows, "strict": strict["settings"], "typical": typical["settings"]}


def sweep_throughput(work) -> dict:
    """Samples/s of a cache-less sweep at the default settings with 1 and 2 local workers."""
    throughput = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            report = sweep(work, "zigzag", {}, Path(tmp) / "c.sqlite", workers=workers, progress=False)
        throughput[workers] = len(work) / report.seconds
        print(f"sweep of {len(work)} pairs, {workers} worker(s): {throughput[workers]:.2f} samples/s")
    print(f"2 workers vs 1: {throughput[2] / throughput[1]:.2f}x")
    return {"sweep_pairs": len(work), "default": DEFAULT, "sweep_samples_per_s": throughput}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=16, help="pairs for the settings comparison")
    parser.add_argument("--sweep-pairs", type=int, default=24, help="pairs for the sweep throughput")
    parser.add_argument("--seed", type=int, default=123)
    parser.add_argument("--sections", default="settings,sweep", help="comma list of: settings, sweep")
    parser.add_argument("--out", default="benchmarks/out/simulator_speed.json")
    args = parser.parse_args()
    sections = set(args.sections.split(","))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    report = json.loads(out.read_text()) if out.is_file() else {}
    if "settings" in sections:
        report["settings"] = compare_settings(pairs(args.pairs, args.seed))
    if "sweep" in sections:
        report["sweep"] = sweep_throughput(pairs(args.sweep_pairs, args.seed + 1))
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
