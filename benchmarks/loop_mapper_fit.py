"""How closely the loop mapper alone (no network) tracks ZigZag, per layer family.

    .venv/bin/python benchmarks/loop_mapper_fit.py [--rows 1500] [--out benchmarks/out/loop_mapper_fit.json]

For rows of the training tables (up to ``--rows`` per family, seeded), compares the mapper's latency and
energy (``accel_model/loop_mapper.py``) with ZigZag's, in log space: the spread of the residual after its
median offset (standard deviation and median absolute deviation; 0.1 is about a 10% error) and the
correlation of the logs. The mapper is an input of the evaluator network, not a predictor: it leaves out
register-file energy and stall windows, so its energy is offset. What matters is how much of ZigZag's
variation over accelerators it explains, which this measures (latency also per dataflow).
"""

import argparse
import json
import random
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from accel_model.dataset import read_table, row_to_pair
from accel_model.loop_mapper import layer_table
from accel_model.paths import PACKAGE_DATA
from accel_model.space import FIELDS, DesignSpace

TABLES = [PACKAGE_DATA / "zigzag_dataset.csv.gz", PACKAGE_DATA / "zigzag_common.csv.gz"]


def spread(predicted: np.ndarray, simulated: np.ndarray) -> dict:
    residual = simulated - predicted
    centred = residual - np.median(residual)
    return {"n": len(residual), "std": round(float(centred.std()), 3),
            "mad": round(float(np.median(np.abs(centred))), 3),
            "corr": round(float(np.corrcoef(predicted, simulated)[0, 1]), 4)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1500, help="rows per family (seeded sample)")
    parser.add_argument("--out", default="benchmarks/out/loop_mapper_fit.json")
    args = parser.parse_args()
    space, by_family = DesignSpace(), defaultdict(list)
    for table in TABLES:
        if Path(table).exists():
            for row in read_table(table):
                if row["status"] == "ok":
                    by_family[row["source"]].append(row)
    start, report = time.perf_counter(), {}
    for family, rows in sorted(by_family.items()):
        rows = random.Random(0).sample(rows, min(args.rows, len(rows)))
        mapper, simulated, flows = [], [], []
        for row in rows:
            layer, accel = row_to_pair(row)
            index = [space.choices(f).index(getattr(accel, f)) for f in FIELDS]
            table = layer_table(layer, space)
            table.fill(np.array([[index[0], index[1], index[4]]]))
            mapper.append(table.table[(slice(2), *index)].double().numpy())
            simulated.append(np.log([float(row["latency_cycles"]), float(row["energy_pj"])]))
            flows.append(accel.dataflow)
        mapper, simulated, flows = np.array(mapper), np.array(simulated), np.array(flows)
        report[family] = {
            "latency": spread(mapper[:, 0], simulated[:, 0]),
            "energy": spread(mapper[:, 1], simulated[:, 1]),
            "latency_by_dataflow": {
                flow: spread(mapper[flows == flow, 0], simulated[flows == flow, 0]) for flow in space.dataflow
            },
        }
        parts = [f"{m} std {r['std']:.3f} mad {r['mad']:.3f} r {r['corr']:.4f}"
                 for m, r in ((m, report[family][m]) for m in ("latency", "energy"))]  # fmt: skip
        print(f"{family:<14} n={len(rows):>5}  " + " | ".join(parts), flush=True)
    report["seconds"] = round(time.perf_counter() - start, 1)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out} ({report['seconds']} s)")


if __name__ == "__main__":
    main()
