"""What a data source for quantization is: a thing built once per run that yields (images, labels) batches.

A source is built by ``cls(teacher, context)``; building it does its heavy work (optimizing images,
training a generator) and records ``prepare_time_s``. ``sample(n, gen)`` then returns ``n`` normalized
images and labels: hard ``[n]`` class indices (the generator's class for class-conditional sources, the
true class for real data, the teacher's prediction otherwise) or soft ``[n, classes]`` probability rows
(Qimera's superposed samples). A source with knobs of its own names their ``MethodConfig`` in
``config_class`` and reads them as ``self.config``. A new method is a new module with
``@register_source("name")``, imported by ``dfq/sources/__init__.py`` (built-ins) or by the user.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn

from accel_model.registry import Registry
from dfq.settings import DFQSettings, MethodConfig
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
    config_class: type[MethodConfig] | None = None  # the method's own knobs

    def __init__(self, teacher: nn.Module, context: SourceContext):
        self.teacher, self.context = teacher.eval(), context
        self.config = context.settings.config(self.config_class) if self.config_class else None
        self.device = module_device(teacher)  # samples come out on the teacher's device
        self.facts: dict = {}  # what building it found, for the run's metrics (a generator's checks)
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


SOURCES: Registry[type[Source]] = Registry("source")


def register_source(name: str):
    """Class decorator: register a ``Source`` subclass under ``name`` (its ``name`` attribute)."""

    def wrap(cls: type[Source]) -> type[Source]:
        cls.name = name
        return SOURCES.add(name, cls)

    return wrap
