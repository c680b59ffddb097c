import torch

from accel_model.domain import LayerShape
from accel_model.layer_features import layer_batch

LAYERS = [
    LayerShape(8, 16, 3, 1, 1, (8, 8)),
    LayerShape(16, 16, 1, 1, 1, (8, 8)),
    LayerShape(4, 8, 3, 2, 1, (16, 16)),
]


def test_select_keeps_layers_and_features_aligned():
    batch = layer_batch(LAYERS)
    assert batch.layers == tuple(LAYERS)
    for index, expected in ((torch.tensor([2, 0]), [2, 0]), (torch.tensor([True, False, True]), [0, 2])):
        picked = batch.select(index)
        assert picked.layers == tuple(LAYERS[i] for i in expected)
        assert torch.equal(picked.feats, layer_batch([LAYERS[i] for i in expected]).feats)
