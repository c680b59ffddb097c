"""Where the evaluator's error comes from, per network family, on accelerators it was not trained on.

    .venv/bin/python benchmarks/evaluator_validation.py '[{}, {"members": 5}, {"frac": 0.5}]'

Holds out 15% of the training tables' accelerators (the `unseen_accelerators` split of
`coexplore evaluator train`, seed 0), trains one evaluator per variant on the rest and prints the per-layer
latency / energy MAPE on the held-out rows: all of them, those of the ResNet-18, MobileNetV2 and
ResNet-20 layers (with their latency MAPE per dataflow and their mean signed error, `bias`), and per
training table (`by_table`: each row counted in the first table holding its pair). The held-out
*report* (`coexplore evaluator report`) is never used here, so design choices made with this script do
not tune on the test.

Each variant is a JSON object: EvaluatorSettings fields (`members`, `epochs`, `hidden`, `depth`, `lr`,
`weight_decay`, `mapper`, `mapper_base`, `seed`, which also draws another held-out split; defaults
here: 1 member, 200 epochs), `frac`, the fraction of the training rows kept (the learning curve), and
`drop`, training tables (file names or paths) left out of training; the held-out accelerators stay the
same, drawn over every table. One fit of one member takes about 20 s on one core; `mapper` first
tabulates the loop mapper for every layer (minutes).
"""

import json
import sys
import time

import torch

from accel_model.dataset import common_layers, read_table, row_to_pair
from accel_model.evaluator_train import (
    SPLITS,
    EvaluatorSettings,
    fit,
    load_samples,
    new_evaluator,
    predict_rows,
)
from accel_model.paths import PACKAGE_DATA
from accel_model.space import DesignSpace
from accel_model.training_tables import TRAINING_TABLES

TABLES = [path for path in TRAINING_TABLES if path.exists()]
FAMILIES = ("resnet18", "mobilenet_v2", "resnet20")


def table_of_rows(samples) -> list[str]:
    """The file name of the first training table holding each sample's pair (``load_samples`` order)."""
    first = {}
    for path in TABLES:
        for row in read_table(path):
            first.setdefault(row_to_pair(row), path.name)
    return [first[pair] for pair in zip(samples.layers, samples.accels, strict=True)]


def run_variant(samples, tables: list[str], space: DesignSpace, variant: dict) -> dict:
    variant = dict(variant)
    frac = variant.pop("frac", 1.0)
    dropped = variant.pop("drop", [])
    settings = EvaluatorSettings(**{"members": 1, "epochs": 200, **variant})
    held = SPLITS["unseen_accelerators"](samples, settings.test_fraction, settings.seed)
    keep = ~held
    for name in dropped:  # the same held-out rows; the table's other rows are not trained on
        pairs = {row_to_pair(row) for row in read_table(PACKAGE_DATA / name)}
        keep &= torch.tensor([pair not in pairs for pair in zip(samples.layers, samples.accels, strict=True)])
    train = torch.nonzero(keep).squeeze(1)
    if frac < 1:
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(5))
        train = train[order[: int(frac * len(train))]]
    model = new_evaluator(space, settings)
    start = time.perf_counter()
    info = fit(model, samples, train, settings, progress=False)
    test = torch.nonzero(held).squeeze(1)
    actual = samples.log_targets[test].double().exp()
    signed = (predict_rows(model, samples, test) - actual) / actual * 100
    ape = signed.abs()
    family = {}
    for name, layer in common_layers():
        family.setdefault(layer, name)
    out = {"fit_s": round(time.perf_counter() - start), "best_epoch": info["best_epoch"],
           "all": [round(x, 2) for x in ape.mean(0).tolist()]}  # fmt: skip
    dataflows = [samples.accels[i].dataflow for i in test.tolist()]
    out["latency_by_dataflow"] = {}
    for name in FAMILIES:
        rows = torch.tensor([family.get(samples.layers[i]) == name for i in test.tolist()])
        out[name] = [round(x, 2) for x in ape[rows].mean(0).tolist()]
        out.setdefault("bias", {})[name] = [round(x, 2) for x in signed[rows].mean(0).tolist()]
        out["latency_by_dataflow"][name] = {
            flow: round(float(ape[rows & torch.tensor([d == flow for d in dataflows]), 0].mean()), 2)
            for flow in space.dataflow
        }
    held_tables = [tables[i] for i in test.tolist()]
    out["by_table"] = {}
    for path in TABLES:
        rows = torch.tensor([t == path.name for t in held_tables])
        out["by_table"][path.name] = [round(x, 2) for x in ape[rows].mean(0).tolist()]
    return out


def main(variants: list[dict]) -> None:
    space = DesignSpace()
    samples = load_samples(TABLES, space)
    tables = table_of_rows(samples)
    print("per-layer MAPE % on held-out accelerators: [latency, energy]", flush=True)
    for variant in variants:
        print(json.dumps(variant), json.dumps(run_variant(samples, tables, space, variant)), flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        sys.exit(__doc__)
    torch.set_num_threads(1)
    main(json.loads(sys.argv[1]))
