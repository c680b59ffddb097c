"""Data sources for quantization: a name-keyed registry of things that yield (images, labels) batches.

A source is built once per run by ``make_source(name, teacher, context)``; building it does its heavy
work (optimizing images, training a generator) and records ``prepare_time_s``. ``sample(n, gen)`` then
returns ``n`` normalized images and labels: hard ``[n]`` class indices (the generator's class for
class-conditional sources, the true class for real data, the teacher's prediction otherwise) or soft
``[n, classes]`` probability rows (Qimera's superposed samples). A new method is a new module with
``@register_source("name")``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from dfq.settings import DFQSettings
from nas.device import module_device


@dataclass(frozen=True)
class SourceContext:
    """What a source may know: the input shape, classes, settings and seed. ``real_images`` (uint8
    N,C,H,W) / ``real_labels`` and ``mean``/``std`` are given only to the real-data reference."""

    input_shape: tuple[int, int, int]
    num_classes: int
    settings: DFQSettings
    seed: int = 0
    progress: bool = False
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    real_images: torch.Tensor | None = None
    real_labels: torch.Tensor | None = None


class Source:
    """Base class: subclasses implement ``_prepare`` (optional) and ``sample``."""

    name = ""
    default_finetune = "none"  # what `coexplore quantize --source NAME` does without --finetune
    default_ce_weight = 0.0  # weight of CE on the source's labels during KD, for this method
    uses_real_data = False

    def __init__(self, teacher: nn.Module, context: SourceContext):
        self.teacher, self.context = teacher.eval(), context
        self.device = module_device(teacher)  # samples come out on the teacher's device
        start = time.perf_counter()
        self._prepare()
        self.prepare_time_s = time.perf_counter() - start

    def _prepare(self) -> None:
        pass

    def sample(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    @torch.no_grad()
    def teacher_labels(self, images: torch.Tensor) -> torch.Tensor:
        return self.teacher(images.to(self.device)).argmax(1)


SOURCES: dict[str, type[Source]] = {}


def register_source(name: str) -> Callable[[type[Source]], type[Source]]:
    def wrap(cls: type[Source]) -> type[Source]:
        if name in SOURCES:
            raise ValueError(f"source {name!r} is registered twice")
        cls.name = name
        SOURCES[name] = cls
        return cls

    return wrap


def get_source(name: str) -> type[Source]:
    _load_builtin_sources()
    if name not in SOURCES:
        raise ValueError(f"unknown source {name!r}; allowed: {sorted(SOURCES)}")
    return SOURCES[name]


def source_names() -> list[str]:
    _load_builtin_sources()
    return sorted(SOURCES)


def make_source(name: str, teacher: nn.Module, context: SourceContext) -> Source:
    return get_source(name)(teacher, context)


def _load_builtin_sources() -> None:
    import dfq.methods  # noqa: F401  (registration side effect: dsg, clusterq, qimera)
    from dfq.sources import gdfq, noise, real, zeroq  # noqa: F401
