from dataclasses import replace

import pytest

from accel_model.hwgen import parse_objective
from nas.cost_template import cost_template
from nas.space import SearchSpace, Stage
from search.baselines import BASELINES, BaselineContext, best_verified_accelerator, pick_trial
from search.dance import SEARCH_PROFILES

TINY = SearchSpace(stem_channels=8, stages=(Stage(8, 1, 1), Stage(16, 1, 2)), head_channels=32)


def context(evaluator, splits, **kw):
    cfg = replace(SEARCH_PROFILES["smoke"], lam=0.5)
    return BaselineContext(TINY, splits, cfg, evaluator, cost_template(TINY, 28), parse_objective("edap"),
                           workers=1, top_k=2, budget_s=1.0, proxy_steps=2, **kw)  # fmt: skip


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_baseline_contract(name, evaluator, splits):
    ctx = context(evaluator, splits)
    arch, accel, facts = BASELINES[name](ctx)
    TINY.validate(arch)
    assert evaluator.space.from_indices(evaluator.space.indices(accel)) == accel
    assert isinstance(facts, dict) and facts
    if name == "hw-first":  # the accelerator is chosen for the default network, before the NAS
        assert accel == best_verified_accelerator(ctx, TINY.default_arch())[0]


def test_pick_trial_trades_accuracy_against_cost_like_dance():
    cheap = {"proxy_acc": 0.80, "log_objective": 1.0}
    accurate = {"proxy_acc": 0.90, "log_objective": 2.0}
    assert pick_trial([cheap, accurate], lam=0.0) is accurate
    assert pick_trial([cheap, accurate], lam=1.0) is cheap
