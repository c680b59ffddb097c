"""How smooth is the simulator's answer in the accelerator's fields? One ResNet-18 layer (128 -> 128,
3x3, 28x28) on one accelerator, changing one field at a time through its allowed values.

    .venv/bin/python benchmarks/zigzag_smoothness.py [--lpf-limit 4] [--criterion EDP] [--out FILE.json]

ZigZag's LOMA picks the temporal mapping with the least energy-delay product among the ones it
enumerates (`lpf_limit` 4); latency and energy are those of that mapping, so they can jump, and need not
fall when a resource grows. Each row also records the chosen temporal mapping (loops per memory level,
innermost first). This layer keeps 5 or 6 loop dims temporal on OS, more than `lpf_limit`; LOMA then
raises the limit to the number of dims and keeps every dim as one whole loop, so a memory level holds a
dim entirely or not at all. This is the part of the evaluator's error on large layers that more rows of
the same kind cannot remove. About 80 s (every point is a fresh simulation; no cache).
"""

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from accel_model.domain import Accelerator, LayerShape
from accel_model.mapping import ideal_compute_cycles
from accel_model.simulators import make_simulator
from accel_model.simulators.zigzag_backend import CRITERIA
from accel_model.space import DesignSpace

LAYER = LayerShape(128, 128, 3, 1, 1, (28, 28), 1)
BASE = Accelerator(20, 20, 64, 256, "OS", 8, 200)
SWEPT = ("pe_rows", "rf_bytes", "glb_kib", "bits")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lpf-limit", type=int, default=4, help="LOMA lpf_limit (4: the dataset's setting)")
    parser.add_argument(
        "--criterion",
        default="EDP",
        choices=CRITERIA,
        help="which LOMA mapping is reported (EDP: the dataset's setting)",
    )
    parser.add_argument("--out", default="benchmarks/out/zigzag_smoothness.json")
    args = parser.parse_args()
    sim = make_simulator("zigzag", lpf_limit=args.lpf_limit, criterion=args.criterion)
    space, rows = DesignSpace(), []
    print(f"layer {LAYER}\nbase {BASE}")
    for name in SWEPT:
        for value in space.choices(name):
            accel = replace(BASE, **{name: value})
            start = time.perf_counter()
            cme = sim.evaluate(LAYER, accel)
            latency, energy = float(cme.latency_total2), float(cme.energy_total)
            ideal = ideal_compute_cycles(LAYER, accel.pe_rows, accel.pe_cols, accel.dataflow)
            rows.append({"field": name, "value": value, "latency_cycles": latency, "ideal_cycles": ideal,
                         "energy_pj": energy, "seconds": round(time.perf_counter() - start, 2),
                         "temporal_mapping": str(cme.temporal_mapping)})  # fmt: skip
            print(f"{name:>9} {value:>4}: latency {latency:>10.0f} cycles ({latency / ideal:5.2f} x ideal)"
                  f"  energy {energy:.3e} pJ\n{'':>15}loops per memory level, innermost first: "
                  f"{cme.temporal_mapping}")  # fmt: skip
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"layer": LAYER.to_dict(), "base": BASE.to_dict(), "simulator": sim.settings(),
                               "rows": rows}, indent=1) + "\n")  # fmt: skip
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
