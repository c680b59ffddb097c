import pytest
import torch

from accel_model.domain import LayerShape
from accel_model.evaluator import CostEvaluator
from accel_model.layer_features import layer_batch
from accel_model.space import DesignSpace
from search.refine import SOURCE, disagreement_pairs, refinement_pairs

SMALL = DesignSpace(
    pe_rows=(8, 16), pe_cols=(8, 16), rf_bytes=(16,), glb_kib=(32,), dataflow=("WS", "OS"), bits=(8,)
)


def test_refinement_pairs_cover_top_accelerators_with_every_candidate_layer():
    torch.manual_seed(0)
    evaluator = CostEvaluator(SMALL, hidden=8, depth=1, members=1).eval()
    torch.nn.init.normal_(evaluator.members[0][-1].weight, std=0.5)
    all_accels = [
        SMALL.from_indices((r, c, 0, 0, d, 0)) for r in range(2) for c in range(2) for d in range(2)
    ]
    excluded = all_accels[0]
    pairs = refinement_pairs(evaluator, archs=2, top_k=3, seed=0, objectives=("edap",), exclude=[excluded])
    accels = {accel for _, _, accel in pairs}
    layers = {layer for _, layer, _ in pairs}
    assert excluded not in accels and 1 <= len(accels) <= 6
    assert all(source == SOURCE for source, _, _ in pairs)
    assert len(pairs) == len(accels) * len(layers)  # every candidate layer on every chosen accelerator


def _two_member_evaluator():
    torch.manual_seed(1)
    evaluator = CostEvaluator(SMALL, hidden=8, depth=1, members=2).eval()
    for member in evaluator.members:
        torch.nn.init.normal_(member[-1].weight, std=0.5)
    return evaluator


def _spread(evaluator, layer, accels):
    with torch.no_grad():
        members = evaluator.grid_members(layer_batch([layer], SMALL), evaluator.relax.hard(accels))[:, 0]
    return members.std(0).sum(-1).tolist()


def test_disagreement_pairs_draw_distinct_pairs_from_each_layers_most_disputed_accelerators():
    evaluator = _two_member_evaluator()
    pool = [("a", LayerShape(8, 16, (3, 3), 1, 1, (14, 14))), ("b", LayerShape(16, 16, (1, 1), 1, 1, (7, 7)))]
    accels = [SMALL.from_indices((r, c, 0, 0, d, 0)) for r in range(2) for c in range(2) for d in range(2)]
    excluded = accels[:2]
    pairs = disagreement_pairs(evaluator, pool, samples=4, seed=3, top_fraction=0.5, exclude=excluded)
    assert len(set(pairs)) == 4 and not {accel for _, _, accel in pairs} & set(excluded)
    for source, layer in pool:
        allowed = accels[2:]
        spread = dict(zip(allowed, _spread(evaluator, layer, allowed), strict=True))
        cutoff = sorted(spread.values(), reverse=True)[2]  # top half of the 6 allowed: 3 accelerators
        chosen = [accel for s, lay, accel in pairs if lay == layer]
        assert all(s == source for s, lay, _ in pairs if lay == layer)
        assert all(spread[accel] >= cutoff for accel in chosen)
    more = disagreement_pairs(evaluator, pool, samples=6, seed=3, top_fraction=0.5, exclude=excluded)
    assert more[:4] == pairs  # a larger N extends a smaller one
    with pytest.raises(ValueError, match="only 6 candidate pairs"):
        disagreement_pairs(evaluator, pool, samples=7, seed=3, top_fraction=0.5, exclude=excluded)


def test_disagreement_needs_an_ensemble():
    with pytest.raises(ValueError, match="one member"):
        disagreement_pairs(CostEvaluator(SMALL, hidden=8, depth=1, members=1), [], 1, 0)
