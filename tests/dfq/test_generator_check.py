"""The data-free generator check, on the committed trained child and real Fashion-MNIST: real images pass
it and noise fails it; a generator source records its check; one that fails every attempt is refused."""

import dataclasses

import pytest
import torch

from dfq.api import dfq_profile, prepare_source
from dfq.failures import GeneratorCollapsed
from dfq.sources import generator_check
from nas.train import load_checkpoint


@pytest.fixture(scope="module")
def trained():
    return load_checkpoint("results/teachers/default_child.pt")


def test_real_images_pass_the_check_and_noise_fails_it(trained, fashion_mnist):
    teacher, meta = trained
    mean, std = meta["mean"][0], meta["std"][0]
    x = (fashion_mnist.x_test[:2000].float() / 255 - mean) / std
    y = fashion_mnist.y_test[:2000]

    def real(n, gen):
        i = torch.randperm(len(x), generator=gen)[:n]
        return x[i], y[i]

    def noise(n, gen):
        return torch.randn(n, *x.shape[1:], generator=gen), torch.randint(0, 10, (n,), generator=gen)

    shape = tuple(x.shape[1:])
    on_real = generator_check.generator_health(real, teacher, shape)
    on_noise = generator_check.generator_health(noise, teacher, shape)
    assert on_real.problems() == [] and on_real.agreement > 0.85 and on_real.coverage == 1.0
    assert on_noise.bns_to_noise == pytest.approx(1.0, abs=0.1) and on_noise.problems()


def test_a_generator_source_records_its_check(trained):
    teacher, meta = trained
    source = prepare_source("gdfq", teacher, meta, dfq_profile("smoke"), seed=3)
    assert source.facts["generator_seed"] == 3 and source.facts["generator_retries"] == 0
    (check,) = source.facts["generator_checks"]  # smoke: recorded, not judged (too few steps)
    assert check["seed"] == 3 and 0 < check["coverage"] <= 1 and check["bns_to_noise"] > 0


def test_a_generator_that_fails_every_attempt_is_refused_naming_the_seeds(trained, monkeypatch):
    teacher, meta = trained
    monkeypatch.setattr(generator_check, "MIN_STEPS_JUDGED", 0)
    monkeypatch.setattr(generator_check, "MAX_BNS_TO_NOISE", 0.0)  # no generator can pass
    tried = r"dsg: .* seed tried \(0, 1000, 2000, 3000\): BN-statistics loss"
    with pytest.raises(GeneratorCollapsed, match=tried):
        prepare_source("dsg", teacher, meta, dfq_profile("smoke", generator_steps=1), seed=0)


def test_a_collapsed_generator_is_retrained_with_the_next_seed(trained, monkeypatch):
    """The first generator's check is made to fail (its BN ratio above the limit), the second's is real."""
    teacher, meta = trained
    monkeypatch.setattr(generator_check, "MIN_STEPS_JUDGED", 0)
    real_check, calls = generator_check.generator_health, []

    def first_fails(*args):
        health = real_check(*args)
        calls.append(health)
        if len(calls) == 1:
            return dataclasses.replace(health, bns=3 * health.bns_noise)  # ratio 3: collapsed
        return health

    monkeypatch.setattr(generator_check, "generator_health", first_fails)
    for limit, value in (("MAX_BNS_TO_NOISE", 2.0), ("MIN_COVERAGE", 0.0), ("MIN_AGREEMENT", 0.0)):
        monkeypatch.setattr(generator_check, limit, value)  # the smoke generator is untrained
    source = prepare_source("clusterq", teacher, meta, dfq_profile("smoke"), seed=5)
    assert source.facts["generator_seed"] == 1005 and source.facts["generator_retries"] == 1
    first, second = source.facts["generator_checks"]
    assert first["seed"] == 5 and first["problems"] and second["seed"] == 1005 and not second["problems"]
