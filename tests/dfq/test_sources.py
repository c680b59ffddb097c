"""Contract tests every registered source must pass, plus the generator's own."""

from dataclasses import replace

import pytest
import torch

from dfq.api import dfq_profile
from dfq.sources import SourceContext, get_source, make_source, source_names
from dfq.sources.gdfq import Generator, GeneratorConfig, GeneratorObjective, train_generator

SMOKE = dfq_profile("smoke")


@pytest.fixture
def teacher(child_teacher):
    return child_teacher


def context(name, seed=0):
    real = get_source(name).uses_real_data
    return SourceContext(
        (1, 28, 28), 10, SMOKE, seed, mean=(0.3,), std=(0.35,),
        real_images=torch.randint(0, 256, (40, 1, 28, 28), dtype=torch.uint8) if real else None,
        real_labels=torch.arange(40) % 10 if real else None,
    )  # fmt: skip


@pytest.mark.parametrize("name", source_names())
def test_source_contract(name, teacher):
    source = make_source(name, teacher, context(name))
    assert source.prepare_time_s >= 0
    images, labels = source.sample(6, torch.Generator().manual_seed(1))
    assert images.shape == (6, 1, 28, 28) and images.dtype == torch.float32
    if labels.dim() == 1:  # hard labels
        assert (
            labels.shape == (6,) and labels.dtype == torch.int64 and 0 <= labels.min() and labels.max() < 10
        )
    else:  # soft labels (Qimera): probability rows
        assert labels.shape == (6, 10) and labels.min() >= 0
        assert torch.allclose(labels.sum(1), torch.ones(6))
    assert torch.isfinite(images).all()
    again, _ = source.sample(6, torch.Generator().manual_seed(1))
    assert torch.equal(images, again)  # the caller's generator decides the batch


def test_real_source_needs_the_training_images(teacher):
    ctx = replace(context("real"), real_images=None, real_labels=None)
    with pytest.raises(ValueError, match="training images"):
        make_source("real", teacher, ctx)


def test_unknown_source_names_the_choices():
    with pytest.raises(ValueError, match="allowed: .*gdfq"):
        get_source("nope")


@pytest.mark.parametrize("size,channels", [(28, 1), (32, 3), (224, 3)])
def test_generator_makes_images_of_any_size(size, channels):
    images, labels = Generator(16, 5, channels, size).sample(2, torch.Generator().manual_seed(0))
    assert images.shape == (2, channels, size, size) and labels.max() < 5


def test_generator_training_runs_and_moves_the_generator(teacher):
    torch.manual_seed(0)
    generator = Generator(16, 10, 1, 28)
    before = [p.detach().clone() for p in generator.parameters()]
    objective = GeneratorObjective(teacher, GeneratorConfig(bns_weight=0.1))
    history = train_generator(generator, objective, steps=4, batch_size=8, lr=1e-3)
    assert len(history) == 4 and all(h["ce"] > 0 and h["bns"] > 0 for h in history)
    assert any(not torch.equal(a, b) for a, b in zip(before, generator.parameters(), strict=True))
    assert not generator.training
