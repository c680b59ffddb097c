import pytest

from accel_model.dataset import network_pairs
from accel_model.networks import network_layers
from accel_model.space import DesignSpace

SMALL = DesignSpace(
    pe_rows=(8, 16), pe_cols=(8,), rf_bytes=(16,), glb_kib=(32,), dataflow=("WS", "OS"), bits=(8,)
)


def test_network_pairs_sample_the_networks_layers_outside_the_excluded_accelerators():
    excluded = [SMALL.from_indices((0, 0, 0, 0, 0, 0))]
    pairs = network_pairs([("resnet20", 32)], 40, seed=3, space=SMALL, exclude=excluded)
    assert len(pairs) == 40
    assert {source for source, _, _ in pairs} == {"resnet20"}
    assert {layer for _, layer, _ in pairs} <= set(network_layers("resnet20", hw=32))
    assert not {accel for _, _, accel in pairs} & set(excluded)
    assert len({accel for _, _, accel in pairs}) == SMALL.size - 1


def test_a_larger_sample_extends_a_smaller_one():
    small = network_pairs([("resnet18", 224)], 5, seed=1, space=SMALL)
    assert network_pairs([("resnet18", 224)], 9, seed=1, space=SMALL)[:5] == small


def test_excluding_every_accelerator_is_an_error():
    everything = [SMALL.from_indices((r, 0, 0, 0, d, 0)) for r in range(2) for d in range(2)]
    with pytest.raises(ValueError, match="every accelerator"):
        network_pairs([("resnet20", 32)], 1, seed=0, space=SMALL, exclude=everything)
