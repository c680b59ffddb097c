import json
import random
from collections import Counter
from dataclasses import replace

import pytest
import torch

from accel_model.hwgen import FreeAccelerator, parse_objective
from nas.cost_template import cost_template
from nas.model import build_child
from nas.space import SearchSpace, Stage
from nas.supernet import ArchParams, Supernet
from nas.train import PROFILES
from search.dance import SEARCH_PROFILES, SearchState, arch_step, derived_point, hardware_cost, run_search
from search.derive import load_run, verify_design
from search.precision import BitsParams, make_quantization_aware

EDAP = parse_objective("edap")
TINY = SearchSpace(stem_channels=8, stages=(Stage(8, 1, 1), Stage(16, 1, 2)), head_channels=32)


def tiny_state(evaluator, space=TINY):
    template = cost_template(space, 28)
    hardware = FreeAccelerator(evaluator.relax.sizes)
    bits = BitsParams(evaluator.space.choices("bits"))
    supernet = Supernet(space)
    make_quantization_aware(supernet, bits.choices)
    return SearchState(supernet, ArchParams(space), bits, hardware, template, evaluator, EDAP)


def test_alpha_gets_gradients_from_both_cross_entropy_and_cost(evaluator, splits):
    state = tiny_state(evaluator)
    bits = state.bits.sample(1.0, torch.Generator().manual_seed(0))
    cost, _ = hardware_cost(state, bits, 1.0, torch.Generator().manual_seed(0))
    cost.backward()
    assert state.alpha.alpha.grad.abs().sum() > 0
    assert sum(p.grad is not None for p in state.hardware.parameters()) == len(evaluator.relax.sizes) - 1
    assert state.bits.logits.grad.abs().sum() > 0  # the bits field is the search's bits choice
    state.alpha.alpha.grad = None
    cfg = replace(SEARCH_PROFILES["smoke"], lam=0.0, sampling="soft")
    opt = torch.optim.SGD(state.alpha.parameters(), lr=0.0)  # keep alpha; look at the gradient only
    x, y = splits.x_val[:8].float() / 255, splits.y_val[:8]
    arch_step(state, cfg, opt, None, x, y, 1.0, torch.Generator().manual_seed(0))
    assert state.alpha.alpha.grad.abs().sum() > 0  # with lam = 0 it can only come from CE
    assert all(p.grad is None for p in state.supernet.parameters())  # weights learn on train only


def test_the_derived_child_has_the_layers_the_evaluator_priced(evaluator):
    space = SearchSpace()
    template = cost_template(space, 28)
    arch = space.sample_arch(random.Random(0))
    weights = template.layer_weights(template.one_hot([arch.ops]))[0]
    priced = Counter(
        {layer: round(float(w)) for layer, w in zip(template.unique_layers, weights, strict=True) if w > 0}
    )
    assert priced == Counter(build_child(space, arch).layer_shapes(28))


def test_tiny_search_runs_and_writes_a_reloadable_run_folder(evaluator, splits, tmp_path):
    cfg = replace(SEARCH_PROFILES["smoke"], hw="free")
    template = cost_template(TINY, 28)
    state, rows = run_search(TINY, splits, cfg, evaluator, template, EDAP, None, tmp_path / "trajectory.csv",
                             progress=False)  # fmt: skip
    assert [r["phase"] for r in rows] == ["warmup", "search"]
    assert (tmp_path / "trajectory.csv").read_text().count("\n") == 3
    arch = state.alpha.derive()
    accel = derived_point(state)["accelerator"]
    assert accel.bits == state.bits.derive()
    metrics = verify_design(tmp_path, TINY, splits, arch, accel, evaluator, PROFILES["smoke"],
                            {"search": "tiny"}, workers=1, progress=False, dfq_profile="smoke")  # fmt: skip
    assert metrics["bits"] == accel.bits and 0 <= metrics["acc_q"] <= 1
    assert metrics["acc_fp"] == metrics["test_acc"] and (tmp_path / "quantized.pt").is_file()
    run = load_run(tmp_path)
    assert run["arch"] == arch and run["accelerator"] == accel
    assert json.loads((tmp_path / "metrics.json").read_text()) == run["metrics"] == metrics
    for side in ("predicted", "simulated"):
        assert metrics[side]["fps"] > 0 and metrics[side]["edap"] > 0
    assert metrics["simulated"]["area_mm2"] == pytest.approx(metrics["predicted"]["area_mm2"], rel=1e-6)
    assert (tmp_path / "trajectory.png").stat().st_size > 0
    x = torch.randn(1, 1, 28, 28)
    assert run["model"](x).shape == (1, 10)


def test_an_incomplete_run_folder_is_named(tmp_path):
    with pytest.raises(ValueError, match="missing arch.json"):
        load_run(tmp_path)


def test_a_split_smaller_than_a_batch_still_gives_batches(splits):
    from search.dance import endless_batches

    batches = endless_batches(splits.x_val[:5], splits.y_val[:5], splits, 16, 0, False)
    for _ in range(3):
        xb, _ = next(batches)
        assert xb.shape[0] == 5
