import math
import random
from pathlib import Path

import pytest
import torch

from accel_model.area import accelerator_area
from accel_model.dataset import read_table, row_to_pair
from accel_model.domain import Accelerator, LayerShape
from accel_model.evaluator import DEFAULT_EVALUATOR, CostEvaluator, load_evaluator, save_evaluator
from accel_model.expected_cost import expected_cost
from accel_model.layer_features import layer_batch
from accel_model.loop_mapper import layer_table
from accel_model.mapping import ideal_compute_cycles
from accel_model.metrics import error_summary, spearman
from accel_model.simulators.zigzag_backend import ZigZagSimulator
from accel_model.space import FIELDS, DesignSpace
from nas.cost_template import cost_template
from nas.model import build_child
from nas.space import SearchSpace

SPACE = DesignSpace()
# a small space holding the accelerators named below, so the loop mapper's tables are quick to build
SMALL_SPACE = DesignSpace(pe_rows=(8, 14, 16), pe_cols=(8, 12), rf_bytes=(16, 64), glb_kib=(32, 108, 128),
                          bits=(4, 8))  # fmt: skip
DEFAULT_DATASET = DEFAULT_EVALUATOR.with_name("zigzag_dataset.csv.gz")


@pytest.fixture(scope="module", params=[(False, False), (True, False), (True, True)],
                ids=["plain", "mapper", "mapper_base"])  # fmt: skip
def random_evaluator(request):
    """Untrained but with a non-zero head, so every input matters; without the loop mapper, with it as
    an input, and with its latency also as the base of the latency residual."""
    torch.manual_seed(0)
    mapper, mapper_base = request.param
    space = SMALL_SPACE if mapper else SPACE
    model = CostEvaluator(space, hidden=32, depth=2, members=2, mapper=mapper, mapper_base=mapper_base)
    torch.nn.init.normal_(model.members[0][-1].weight, std=0.1)
    return model.eval()


@pytest.fixture(scope="module")
def template():
    return cost_template(SearchSpace(), 28)


def _soft(sizes, generator):
    return [torch.softmax(torch.randn(1, n, generator=generator), -1).requires_grad_() for n in sizes]


def test_ideal_cycles_by_hand():
    conv = LayerShape(16, 32, 3, 1, 1, (8, 8))
    # WS on 8x16: K=32 -> 8 rows (4 passes), C=16 -> 16 cols; left: 4 x 3x3 x 8x8
    assert ideal_compute_cycles(conv, 8, 16, "WS") == 4 * 9 * 64
    # OS on 8x8: OX=8 on rows, OY=8 on cols; left: K x C x FY x FX
    assert ideal_compute_cycles(conv, 8, 8, "OS") == 32 * 16 * 9


def test_vertices_equal_hard_predictions(random_evaluator, template):
    rng = random.Random(0)
    space = random_evaluator.space
    accels = [space.sample(rng) for _ in range(5)]
    layers = template.unique_layers[:7]
    grid = random_evaluator.grid(layer_batch(layers, space), random_evaluator.relax.hard(accels))
    for j, accel in enumerate(accels):
        costs = random_evaluator.predict_layers(layers, accel)
        assert torch.allclose(grid[:, j].exp().double(), torch.tensor([[c.latency_cycles, c.energy_pj]
                              for c in costs], dtype=torch.float64), rtol=1e-5)  # fmt: skip
        relax = random_evaluator.relax
        pairs = random_evaluator.pairs(layer_batch(layers, space), relax.hard([accel] * len(layers)))
        assert torch.allclose(pairs, grid[:, j], atol=1e-5)
        area = relax.area_mm2(relax.hard([accel]))[0].item()
        assert area == pytest.approx(accelerator_area(accel), rel=1e-6)


def test_expected_cost_at_one_hot_arch_is_the_network_sum(random_evaluator, template):
    space = SearchSpace()
    arch = space.sample_arch(random.Random(3))
    accel = Accelerator(16, 12, 64, 128, "RS", 8)
    probs = random_evaluator.relax.hard([accel])
    cost = expected_cost(random_evaluator, template, template.one_hot([arch.ops]), probs)
    network = random_evaluator.predict_networks([build_child(space, arch).layer_shapes(28)], [accel])[0, 0]
    assert cost["latency_cycles"].item() == pytest.approx(network[0].item(), rel=1e-5)
    assert cost["energy_pj"].item() == pytest.approx(network[1].item(), rel=1e-5)


def test_gradients_reach_arch_and_accelerator_probabilities(random_evaluator, template):
    g = torch.Generator().manual_seed(0)
    arch = torch.softmax(torch.randn(1, *template.allowed.shape, generator=g).masked_fill(
        ~template.allowed, -torch.inf), -1).requires_grad_()  # fmt: skip
    accel = _soft(random_evaluator.relax.sizes, g)
    cost = expected_cost(random_evaluator, template, arch, accel)
    (cost["latency_cycles"].log() + cost["energy_pj"].log() + cost["area_mm2"].log()).sum().backward()
    assert arch.grad[template.allowed[None]].abs().sum() > 0
    for group in accel:
        assert group.grad is not None and group.grad.abs().sum() > 0


def test_straight_through_accelerators_get_gradients(random_evaluator, template):
    """Hard values with soft gradients (what the hardware generator feeds the evaluator)."""
    relax = random_evaluator.relax
    hard = relax.hard([Accelerator(16, 12, 64, 128, "RS", 8)])
    logits = [torch.zeros_like(p, requires_grad=True) for p in hard]
    probs = [
        h + torch.softmax(z, -1) - torch.softmax(z, -1).detach() for h, z in zip(hard, logits, strict=True)
    ]
    arch = template.one_hot([SearchSpace().sample_arch(random.Random(4)).ops])
    cost = expected_cost(random_evaluator, template, arch, probs)
    (cost["latency_cycles"].log() + cost["energy_pj"].log()).sum().backward()
    assert all(z.grad is not None and z.grad.abs().sum() > 0 for z in logits)


def test_stacked_mapper_tables_follow_newly_filled_shapes(random_evaluator):
    """The evaluator keeps a stacked copy of the mapper tables; a new accelerator shape must refresh it."""
    layers = [LayerShape(24, 40, 3, 1, 1, (10, 10)), LayerShape(40, 40, 1, 1, 1, (10, 10))]  # not elsewhere
    first, second = Accelerator(8, 8, 16, 32, "OS", 4), Accelerator(16, 12, 64, 128, "RS", 8)
    random_evaluator.predict_layers(layers, first)
    again = random_evaluator.predict_layers(layers, second)
    random_evaluator._stacked.clear()
    assert again == random_evaluator.predict_layers(layers, second)


def test_mapper_base_makes_an_untrained_latency_the_mappers():
    """The head starts at zero, so an untrained evaluator predicts its base: the loop mapper's latency."""
    layer, accel = LayerShape(8, 16, 3, 1, 1, (8, 8)), Accelerator()
    index = tuple(SMALL_SPACE.choices(name).index(getattr(accel, name)) for name in FIELDS)
    mapper_latency = math.exp(layer_table(layer, SMALL_SPACE).fill()[(0, *index)].item())
    for base, expected in ((True, pytest.approx(mapper_latency, rel=1e-5)), (False, None)):
        model = CostEvaluator(SMALL_SPACE, hidden=8, depth=1, members=1, mapper=True, mapper_base=base)
        latency = model.predict_layers([layer], accel)[0].latency_cycles
        if base:
            assert latency == expected
        else:  # the analytic base: a soft compute / DRAM roofline, another number
            assert abs(latency / mapper_latency - 1) > 0.05


def test_save_load_round_trip_and_bad_files(tmp_path, random_evaluator):
    path = tmp_path / "ev.pt"
    save_evaluator(random_evaluator, path, {"note": "test"})
    loaded = load_evaluator(path)
    layers = [LayerShape(8, 16, 3, 1, 1, (8, 8))]
    accel = Accelerator()
    assert loaded.predict_layers(layers, accel) == random_evaluator.predict_layers(layers, accel)
    assert loaded.mapper_base == random_evaluator.mapper_base
    assert loaded.metadata == {"note": "test"}
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable evaluator"):
        load_evaluator(tmp_path / "junk.pt")
    with pytest.raises(ValueError, match="no such evaluator"):
        load_evaluator(tmp_path / "missing.pt")
    torch.save({"format": "other"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a coexplore evaluator"):
        load_evaluator(tmp_path / "other.pt")


def test_error_summary_and_spearman():
    a = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert spearman(a, a * 10) == pytest.approx(1.0)
    assert spearman(a, -a) == pytest.approx(-1.0)
    assert spearman(torch.tensor([1.0, 1.0, 2.0]), torch.tensor([5.0, 5.0, 9.0])) == pytest.approx(1.0)
    s = error_summary(torch.tensor([110.0, 95.0]), torch.tensor([100.0, 100.0]))
    assert s["mape_pct"] == pytest.approx(7.5)
    assert s["within_5pct"] == 0.5 and s["within_10pct"] == 1.0


@pytest.mark.skipif(not DEFAULT_EVALUATOR.exists(), reason="no committed evaluator")
def test_committed_evaluator_matches_the_simulator_within_its_reported_error():
    model = load_evaluator()
    reported = model.metadata["splits"]["random"]["test"]  # per-layer errors on rows it never saw
    rows = [r for r in read_table(DEFAULT_DATASET)[:300] if r["status"] == "ok"]
    pairs = [row_to_pair(r) for r in rows]
    pred = model.pairs(layer_batch([p[0] for p in pairs]), model.relax.hard([p[1] for p in pairs]))
    actual = torch.tensor([[float(r["latency_cycles"]), float(r["energy_pj"])] for r in rows])
    ape = ((pred.detach().exp() - actual).abs() / actual * 100).mean(0)
    assert ape[0] <= reported["latency"]["mape_pct"] and ape[1] <= reported["energy"]["mape_pct"]
    # and fresh simulations it never saw: 4 random search-space layers on 4 random accelerators
    trained = {row_to_pair(r) for path in model.metadata["dataset"] for r in read_table(
        path if Path(path).exists() else DEFAULT_EVALUATOR.with_name(Path(path).name))}  # fmt: skip
    rng, layers = random.Random(0), cost_template(SearchSpace(), 28).unique_layers
    fresh = []
    while len(fresh) < 4:
        pair = (rng.choice(layers), SPACE.sample(rng))
        if pair not in trained:
            fresh.append(pair)
    sim = ZigZagSimulator()
    errors = torch.tensor([
        [abs(p.latency_cycles / s.latency_cycles - 1), abs(p.energy_pj / s.energy_pj - 1)]
        for (layer, accel) in fresh
        for p, s in [(model.predict_layers([layer], accel)[0], sim.simulate(layer, accel))]
    ]).mean(0) * 100  # fmt: skip
    assert errors[0] <= 3 * reported["latency"]["mape_pct"]
    assert errors[1] <= 3 * reported["energy"]["mape_pct"]
