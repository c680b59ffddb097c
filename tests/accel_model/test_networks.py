import random

import pytest

from accel_model.dataset import (
    common_layers,
    read_table,
    record_row,
    sample_pairs,
    unique_pool,
    write_table,
)
from accel_model.domain import LayerShape
from accel_model.networks import network_layers
from accel_model.space import DesignSpace


@pytest.mark.parametrize("name,hw,macs_m,layers", [
    ("resnet18", 224, 1814.1, 21),  # 1.8 GMACs, as published
    ("mobilenet_v2", 224, 300.8, 53),  # 300 MMACs (Sandler et al. 2018)
    ("resnet20", 32, 40.8, 22),  # ~41 MMACs (He et al. 2016, CIFAR)
])  # fmt: skip
def test_known_networks_have_published_mac_counts(name, hw, macs_m, layers):
    shapes = network_layers(name, hw=hw)
    assert len(shapes) == layers
    assert sum(s.macs for s in shapes) / 1e6 == pytest.approx(macs_m, rel=1e-3)


def test_unknown_network():
    with pytest.raises(ValueError, match="unknown network 'vgg'"):
        network_layers("vgg")


def test_sampling_is_seeded_and_a_prefix_of_larger_runs():
    pool = unique_pool(common_layers())
    assert len(pool) == len({layer for _, layer in pool})
    small, large = sample_pairs(pool, 10, 0, DesignSpace()), sample_pairs(pool, 30, 0, DesignSpace())
    assert large[:10] == small and sample_pairs(pool, 10, 1, DesignSpace()) != small


def test_table_roundtrip(tmp_path):
    from accel_model.cache import Record
    from accel_model.domain import Accelerator, Cost

    rng = random.Random(0)
    recs = [Record(LayerShape(4, 8, 3, 1, 1, (6, 6)), DesignSpace().sample(rng), "ok", Cost(10.0, 2.0, 1.5)),
            Record(LayerShape(8, 8), Accelerator(), "failed", None, "SimulationTimeout: x")]  # fmt: skip
    write_table(tmp_path / "t.csv.gz", [record_row("search_space", r) for r in recs])
    rows = read_table(tmp_path / "t.csv.gz")
    assert [r["status"] for r in rows] == ["ok", "failed"] and rows[1]["error"] == "SimulationTimeout: x"
    assert float(rows[0]["latency_cycles"]) == 10.0
    with pytest.raises(ValueError, match="not a readable dataset table"):
        (tmp_path / "bad.csv.gz").write_bytes(b"nope")
        read_table(tmp_path / "bad.csv.gz")


def test_build_dataset_checkpoints_partial_tables(tmp_path):
    import json

    from accel_model.dataset import build_dataset

    out = tmp_path / "d.csv.gz"
    layers = [LayerShape(4, 8, 3, 1, 1, (6, 6)), LayerShape(8, 8, 1, 1, 1, (6, 6))]
    prov = build_dataset(out, layers, 3, workers=1, settings={"lpf_limit": 2}, cache=tmp_path / "c.sqlite",
                         progress=False, checkpoint_every=1)  # fmt: skip
    assert prov["complete"] and prov["rows"] == 3 and prov["simulated_this_run"] >= 1
    assert len(read_table(out)) == 3
    assert json.loads((tmp_path / "d.provenance.json").read_text())["complete"] is True


def test_build_continues_from_the_committed_table_without_its_cache(tmp_path):
    from accel_model.dataset import build_dataset

    out = tmp_path / "d.csv.gz"
    layers = [LayerShape(4, 8, 3, 1, 1, (6, 6)), LayerShape(8, 8, 1, 1, 1, (6, 6))]
    first = build_dataset(out, layers, 2, settings={"lpf_limit": 2}, cache=tmp_path / "a.sqlite", workers=1,
                          progress=False)  # fmt: skip
    assert first["simulated_this_run"] == 2
    # another machine: a fresh cache, the committed table only; a larger N extends it
    more = build_dataset(out, layers, 3, settings={"lpf_limit": 2}, cache=tmp_path / "b.sqlite", workers=1,
                         progress=False)  # fmt: skip
    assert more["imported_rows"] == 2 and more["simulated_this_run"] == 1 and more["rows"] == 3
    other = build_dataset(out, layers, 3, settings={"lpf_limit": 3}, cache=tmp_path / "c.sqlite", workers=1,
                          progress=False)  # fmt: skip
    assert other["imported_rows"] == 0  # other settings never mix
