import torch

from accel_model.evaluator import CostEvaluator
from accel_model.space import DesignSpace
from search.refine import SOURCE, refinement_pairs

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
