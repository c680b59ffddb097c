import math

import pytest
import torch

from accel_model.constraints import Constraint
from nas.cost_template import cost_template
from nas.space import SearchSpace, Stage
from search.dance import SearchConfig, derived_point, run_search
from search.hdx import DeltaSchedule, constrained_gradients, manipulate
from search.hdx_verify import TrajectoryVerifier, check_reachable, choose, generator_reach, meets, reachable


def test_manipulate_corrects_a_violating_gradient_to_exactly_delta():
    g, g_c = torch.tensor([1.0, -2.0, 0.0]), torch.tensor([0.0, 1.0, 1.0])
    out = manipulate(g, g_c, delta=0.5)
    # mu = (0.5 - (-2)) / 2 = 1.25
    assert torch.allclose(out, torch.tensor([1.0, -0.75, 1.25]))
    assert float(out @ g_c) == pytest.approx(0.5)


def test_manipulate_leaves_a_complying_gradient_alone():
    g, g_c = torch.tensor([0.3, 2.0]), torch.tensor([0.0, 1.0])
    assert manipulate(g, g_c, delta=1.0) is g  # <g, g_c> = 2 >= 1
    assert manipulate(g, torch.zeros(2), delta=1.0) is g  # nothing can move the metric


def test_delta_grows_while_violated_and_relaxes_once_satisfied():
    schedule = DeltaSchedule(kappa0=0.1, growth=2.0, relax=0.5, band=0.02, safety=0.0)
    assert schedule.delta("min_fps", 0.3, 4.0) == pytest.approx(0.4)
    assert schedule.delta("min_fps", 0.2, 4.0) == pytest.approx(0.8)
    assert schedule.delta("min_fps", -0.01, 4.0) == 0.0  # guard band: only "do not increase"
    assert schedule.delta("min_fps", -0.5, 4.0) is None  # clear margin: untouched
    assert schedule.kappa["min_fps"] == pytest.approx(0.1)


def test_safety_margin_aims_under_the_bound():
    schedule = DeltaSchedule(kappa0=0.1, band=0.02, safety=0.03)
    assert schedule.delta("min_fps", -0.01, 4.0) == pytest.approx(0.4)  # met, but not by the safety margin
    assert schedule.delta("min_fps", -0.04, 4.0) == 0.0  # in the band under the aim
    assert schedule.delta("min_fps", -0.06, 4.0) is None


def test_given_margins_decide_what_is_violated():
    """The derived design's margins (not the soft mixture's) decide whether the gradient is corrected."""
    p = torch.tensor([0.5, -0.3], requires_grad=True)
    loss = (p**2).sum()
    latency = torch.exp(2.0 - p[0] + 0.5 * p[1]) * 1e6
    c = Constraint("min_fps", 1000.0)  # the soft latency violates the bound
    costs = {"latency_cycles": latency[None]}
    grads, margins = constrained_gradients(loss, costs, [c], DeltaSchedule(), [p], {"min_fps": -1.0})
    assert margins == {"min_fps": -1.0}
    assert torch.equal(grads[0], 2 * p.detach())  # derived design far under the bound: untouched


def test_constrained_gradients_make_the_step_lower_the_violated_metric():
    p = torch.tensor([0.5, -0.3], requires_grad=True)
    loss = (p**2).sum()  # its gradient raises the latency below
    latency = torch.exp(2.0 - p[0] + 0.5 * p[1]) * 1e6
    c = Constraint("min_fps", 1000.0)  # bound 2e5 cycles: violated
    grads, margins = constrained_gradients(loss, {"latency_cycles": latency[None]}, [c], DeltaSchedule(), [p])
    g_c = torch.tensor([-1.0, 0.5])  # d log latency / dp
    assert margins["min_fps"] > 0
    assert float(grads[0] @ g_c) == pytest.approx(0.1 * float(g_c @ g_c), rel=1e-5)


def test_constraint_units():
    fps = Constraint("min_fps", 100.0, clock_mhz=200.0)
    assert fps.bound == pytest.approx(2e6) and fps.in_unit(1e6) == pytest.approx(200.0)
    assert fps.margin({"latency_cycles": 4e6}) == pytest.approx(math.log(2))
    assert Constraint("max_latency_ms", 2.0).bound == pytest.approx(4e5)
    assert Constraint("max_energy_mj", 0.5).in_unit(5e8) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="positive"):
        Constraint("max_area_mm2", 0.0)
    with pytest.raises(ValueError, match="unknown constraint"):
        Constraint("min_accuracy", 0.9)


def test_unreachable_target_names_the_reachable_range():
    bounds = {"latency_cycles": 2e4, "energy_pj": 1e7, "area_mm2": 0.3}
    check_reachable([Constraint("min_fps", 9000.0)], bounds)  # 2e4 cycles = 10,000 fps: reachable
    with pytest.raises(ValueError, match=r"--min-fps 20000 is out of reach.*at most 1e\+04 fps"):
        check_reachable([Constraint("min_fps", 20000.0)], bounds)
    with pytest.raises(ValueError, match=r"at least 0.3 mm2"):
        check_reachable([Constraint("max_area_mm2", 0.1)], bounds)


def test_cli_refuses_an_unreachable_target_before_any_work(cli, tmp_path):
    out = tmp_path / "never"
    result = cli("search", "--min-fps", "1e6", "--out", out)
    assert result.exit_code == 2 and "out of reach" in result.output, result.output
    assert not out.exists()


def test_tiny_constrained_search_meets_its_target_per_the_simulator(splits, evaluator):
    space = SearchSpace(stem_channels=8, stages=(Stage(8, 1, 1), Stage(16, 2, 2)), head_channels=32)
    template = cost_template(space, 28, 1, 10)
    target = Constraint("min_fps", 40000.0)
    cfg = SearchConfig(epochs=3, warmup_epochs=1, steps_per_epoch=8, batch_size=16, hw="free", lam=0.0,
                       constraints=(target,))  # fmt: skip
    verifier = TrajectoryVerifier(space, splits, [target], workers=1)
    state, rows = run_search(
        space, splits, cfg, evaluator, template, {"latency": 1.0}, None, None, False, verifier
    )
    assert rows[0]["pred_margin_min_fps"] > 0  # the unconstrained warm-up point is too slow
    point = derived_point(state)
    arch, accel, status = choose(verifier, point["arch"], point["accelerator"])
    assert status in ("final", "fallback")
    assert meets(verifier.simulate(arch, accel), [target])
    assert all("sim_meets_constraints" in r for r in rows)


def test_generator_reach_is_what_its_accelerators_allow(evaluator):
    """The committed EDAP generator proposes few accelerators: a search with it reaches less than the
    space's bound (the space reaches about 12,800 fps, the generator's accelerators about 9,700)."""
    from accel_model.hwgen import SelectedMember
    from accel_model.hwgen_io import load_generator
    from accel_model.paths import DEFAULT_GENERATOR
    from nas.deployment import InputSize

    members, objective, trained_at = load_generator(str(DEFAULT_GENERATOR))
    trained = InputSize.from_dict(trained_at)
    template = cost_template(SearchSpace(), trained.hw, trained.channels, 10)
    generator = SelectedMember(members, evaluator, template, objective)
    space_best, gen_best = reachable(evaluator, template), generator_reach(evaluator, template, generator)
    for key in ("latency_cycles", "energy_pj", "area_mm2"):
        assert gen_best[key] >= space_best[key] * (1 - 1e-9)
    assert gen_best["latency_cycles"] > space_best["latency_cycles"]


def test_the_space_bounds_are_kept_per_evaluator_and_template(evaluator, tmp_path, monkeypatch):
    """The reachability bound is computed once per (evaluator, template) and then read back; another
    input size is another key."""
    from search import hdx_verify

    monkeypatch.setenv("COEXPLORE_HOME", str(tmp_path))
    at_28, at_32 = cost_template(SearchSpace(), 28), cost_template(SearchSpace(), 32)
    assert hdx_verify.reach_key(evaluator, at_28) == hdx_verify.reach_key(
        evaluator, cost_template(SearchSpace(), 28)
    )
    assert hdx_verify.reach_key(evaluator, at_28) != hdx_verify.reach_key(evaluator, at_32)
    first = reachable(evaluator, at_28)
    assert list((tmp_path / "reach").glob("*.json")) == [
        tmp_path / "reach" / f"{hdx_verify.reach_key(evaluator, at_28)}.json"
    ]
    monkeypatch.setattr(hdx_verify, "space_bounds", lambda *a: pytest.fail("computed again"))
    assert reachable(evaluator, at_28) == first
