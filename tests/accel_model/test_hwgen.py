import pytest
import torch

from accel_model.evaluator import CostEvaluator
from accel_model.expected_cost import expected_cost
from accel_model.hwgen import (
    OBJECTIVES,
    FreeAccelerator,
    HardwareGenerator,
    PerDataflowGenerator,
    enumerate_space,
    generate,
    log_objective,
    parse_objective,
    random_arch_probs,
    random_bits,
    select_accelerators,
    train_generator,
    train_per_dataflow,
)
from accel_model.space import DesignSpace
from nas.cost_template import cost_template
from nas.space import SearchSpace

# A small design space keeps enumeration and training fast.
SMALL = DesignSpace(pe_rows=(8, 16), pe_cols=(8, 16), rf_bytes=(16, 64), glb_kib=(32, 128))


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    model = CostEvaluator(SMALL, hidden=16, depth=1)
    torch.nn.init.normal_(model.members[0][-1].weight, std=0.1)
    return model.eval(), cost_template(SearchSpace(), 28)


def test_parse_objective():
    assert parse_objective("edap") == OBJECTIVES["edap"]
    assert parse_objective("latency=1,energy=0.5") == {"latency": 1.0, "energy": 0.5}
    with pytest.raises(ValueError, match="unknown metric 'speed'"):
        parse_objective("speed=1")
    with pytest.raises(ValueError, match="not a number"):
        parse_objective("latency=fast")


def test_random_arch_probs_respect_the_allowed_ops(setup):
    _, template = setup
    probs = random_arch_probs(template, 8, torch.Generator().manual_seed(0))
    assert torch.allclose(probs.sum(-1), torch.ones(8, len(template.options)))
    assert probs[:, ~template.allowed].abs().sum() == 0


def _train_and_check(model, evaluator, template, sampler=None):
    losses = train_generator(
        model, evaluator, template, OBJECTIVES["edap"], 150, 16, arch_sampler=sampler, progress=False
    )
    assert sum(losses[-20:]) / 20 < sum(losses[:20]) / 20
    arch = template.one_hot([SearchSpace().default_arch().ops])
    for i, bits in enumerate(SMALL.bits):  # the generator proposes the other fields for each bit width
        _, best_score = enumerate_space(evaluator, template, arch, OBJECTIVES["edap"], top_k=1, bits=bits)[0]
        onehot = torch.nn.functional.one_hot(torch.tensor([i]), len(SMALL.bits)).float()
        generated = generate(model, evaluator, arch, onehot)
        assert generated[0].bits == bits
        cost = expected_cost(evaluator, template, arch, evaluator.relax.hard(generated))
        assert log_objective(cost, OBJECTIVES["edap"]).item() <= best_score + 0.03  # within 3% of the optimum


def test_generator_finds_the_enumerated_optimum(setup):
    evaluator, template = setup
    torch.manual_seed(0)
    model = HardwareGenerator(len(template.options), len(template.ops), evaluator.relax.sizes, hidden=32)
    _train_and_check(model, evaluator, template)


def test_free_logits_find_the_enumerated_optimum_of_one_arch(setup):
    evaluator, template = setup
    arch = template.one_hot([SearchSpace().default_arch().ops])
    _train_and_check(FreeAccelerator(evaluator.relax.sizes), evaluator, template, lambda b, g: arch)


def test_per_dataflow_generator_fixes_each_members_dataflow_and_picks_the_best(setup):
    evaluator, template = setup
    torch.manual_seed(0)
    model = PerDataflowGenerator(len(template.options), len(template.ops), evaluator.relax.sizes, hidden=16)
    assert len(model.members) == len(SMALL.dataflow)
    train_per_dataflow(model, evaluator, template, OBJECTIVES["edap"], 20, 8, progress=False)
    arch = template.one_hot([SearchSpace().default_arch().ops])
    bits = random_bits(1, len(SMALL.bits), torch.Generator().manual_seed(1))
    candidates = [evaluator.relax.argmax(model.member(k)(arch, bits))[0] for k in range(len(model.members))]
    assert [c.dataflow for c in candidates] == list(SMALL.dataflow)
    assert len({c.bits for c in candidates}) == 1 and candidates[0].bits == SMALL.bits[int(bits.argmax())]
    chosen = select_accelerators(model, evaluator, template, OBJECTIVES["edap"], arch, bits)[0]

    def score(accel):
        costs = expected_cost(evaluator, template, arch, evaluator.relax.hard([accel]))
        return log_objective(costs, OBJECTIVES["edap"]).item()

    assert chosen in candidates and score(chosen) == min(score(c) for c in candidates)
