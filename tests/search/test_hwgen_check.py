import pytest
import torch

from accel_model.evaluator import CostEvaluator
from accel_model.hwgen import OBJECTIVES, FreeAccelerator
from accel_model.space import DesignSpace
from nas.cost_template import cost_template
from nas.deployment import InputSize
from nas.space import SearchSpace
from search.hwgen_check import hwgen_check

SMALL = DesignSpace(
    pe_rows=(8, 16), pe_cols=(8,), rf_bytes=(64,), glb_kib=(32, 128), dataflow=("WS",), bits=(8,)
)


def test_hwgen_check_simulates_generated_and_top_accelerators():
    torch.manual_seed(0)
    evaluator = CostEvaluator(SMALL, hidden=8, depth=1).eval()
    template = cost_template(SearchSpace(), 16)  # 16 px: the smallest maps (4x4) still take a 7x7 kernel
    generator = FreeAccelerator(evaluator.relax.sizes)  # zero logits: the first value of every field
    arch = SearchSpace().default_arch()
    deploy = InputSize(1, 16, 16)
    rows = hwgen_check(
        evaluator, generator, template, [arch], OBJECTIVES["edap"], deploy, top_k=2, progress=False
    )
    (row,) = rows
    assert row["generated"] == "8x8 rf64 glb32 WS 8b"
    assert row["ratio"] > 0
    # the best of the simulated top-2 is at least as good as either; ratio 1 when generated is the best
    if row["generated"] == row["best_of_top"]:
        assert row["ratio"] == pytest.approx(1.0)
