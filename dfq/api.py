"""Data-free quantization in one call: the only place a DFQ run is assembled.

    from dfq.api import dfq_profile, quantize
    from dfq.quant_model import QuantSpec
    from nas.train import load_checkpoint

    teacher, meta = load_checkpoint("results/teachers/default_child.pt")
    student, metrics = quantize(teacher, QuantSpec(4, 4), meta, source="gdfq", finetune="kd",
                                settings=dfq_profile("quick"), seed=0)

A run: the settings (a named profile plus overrides; the source's own CE weight), the source prepared on
the teacher (generator trained, images optimized), the student quantized and calibrated on the source,
fine-tuned, then compared with the teacher on a labelled split when one is given. ``prepare_source`` lets
a table share one prepared source between the bit widths and fine-tunings of a seed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from torch import nn

from dfq.finetunes import FINETUNES, check_finetune
from dfq.pipeline import compare_with_teacher, quantize_with_source
from dfq.quant_model import QuantSpec
from dfq.settings import SHARED_FIELDS, DFQSettings, MethodConfig
from dfq.sources import SOURCES, Source, SourceContext

# Named profiles: overrides of the shared settings and of the methods' own knobs, by field name.
PROFILES: dict[str, dict[str, Any]] = {
    "quick": {},
    # what a search scores its designs with (search.design_accuracy): a smaller ZeroQ pool, fewer steps
    "design": {"pool_size": 128, "zeroq_steps": 100},
    "full": {"pool_size": 1024, "zeroq_steps": 500, "generator_steps": 4000, "finetune_steps": 2000},
    # inputs from LARGE_FROM_PX up (224-px ImageNet-style models on a CPU): a small image pool, short
    # optimisations, a short reconstruction; its cost is in docs/results/dfq.md ("Your own model")
    "large": {
        "batch_size": 16,
        "calib_batches": 4,
        "pool_size": 64,
        "zeroq_steps": 50,
        "generator_steps": 400,
        "finetune_steps": 100,
        "reconstruct_images": 64,
        "reconstruct_iters": 100,
    },
    "smoke": {
        "batch_size": 16,
        "calib_batches": 2,
        "pool_size": 32,
        "zeroq_steps": 5,
        "generator_steps": 5,
        "finetune_steps": 5,
        "reconstruct_images": 32,
        "reconstruct_iters": 5,
    },
}


LARGE_FROM_PX = 96  # inputs from this side up get the large profile when none is named


def profile_for_input(image_size: int) -> str:
    """The profile a run gets when none is named: ``large`` from ``LARGE_FROM_PX`` px up, else ``quick``."""
    return "large" if image_size >= LARGE_FROM_PX else "quick"


def method_configs() -> list[type[MethodConfig]]:
    """The config classes of every registered source and fine-tuning."""
    found = [cls.config_class for cls in SOURCES.values()] + [m.config_class for m in FINETUNES.values()]
    return list(dict.fromkeys(c for c in found if c is not None))


def knob_names() -> set[str]:
    """Every knob a method declares."""
    return {f for config in method_configs() for f in config.__dataclass_fields__}


def dfq_profile(name: str, **overrides: Any) -> DFQSettings:
    """The profile ``name`` with ``overrides`` (None: keep the profile's); ``ValueError`` for an unknown
    profile or knob, or a value outside its range (every method's config is checked here, up front)."""
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; allowed: {sorted(PROFILES)}")
    chosen = PROFILES[name] | {k: v for k, v in overrides.items() if v is not None}
    unknown = sorted(set(chosen) - set(SHARED_FIELDS) - knob_names())
    if unknown:
        raise ValueError(
            f"unknown setting {unknown[0]!r}; shared: {', '.join(SHARED_FIELDS)}; "
            f"the methods': {', '.join(sorted(knob_names()))}"
        )
    knobs = tuple(sorted((k, v) for k, v in chosen.items() if k not in SHARED_FIELDS))
    settings = DFQSettings(**{k: v for k, v in chosen.items() if k in SHARED_FIELDS}, knobs=knobs)
    for config in method_configs():
        settings.config(config)  # validates the knobs it owns
    return settings


def settings_record(settings: DFQSettings) -> dict[str, Any]:
    """Every knob of a run, flat: the shared settings and each method's config (what ``metrics.json``
    and the tables' protocol records hold)."""
    record = settings.to_dict()
    for config in method_configs():
        record.update(settings.config(config).to_dict())
    return record


def source_settings(settings: DFQSettings, source: type[Source]) -> DFQSettings:
    """``settings`` with the source's own CE weight in distillation (GDFQ's is 1 in the paper; 0 here)."""
    return replace(settings, ce_weight=source.default_ce_weight)


def prepare_source(
    name: str,
    teacher: nn.Module,
    meta: dict,
    settings: DFQSettings,
    seed: int = 0,
    splits=None,
    progress: bool = False,
) -> Source:
    """The source ``name`` built on ``teacher`` (its heavy work done). ``meta`` is the checkpoint's
    (input channels, size, classes, mean, std); ``splits`` gives the training images to the real-data
    reference only (``ValueError`` when that source has none)."""
    cls = SOURCES.get(name)
    real = cls.uses_real_data and splits is not None
    context = SourceContext(
        input_shape=(meta["in_channels"], meta["image_size"], meta["image_size"]),
        num_classes=meta["num_classes"],
        settings=source_settings(settings, cls),
        seed=seed,
        progress=progress,
        mean=tuple(meta["mean"]),
        std=tuple(meta["std"]),
        real_images=splits.x_train if real else None,
        real_labels=splits.y_train if real else None,
    )
    return cls(teacher, context)


def quantize(
    teacher: nn.Module,
    spec: QuantSpec,
    meta: dict,
    source: str | Source = "gdfq",
    finetune: str | None = None,
    settings: DFQSettings | None = None,
    seed: int = 0,
    splits=None,
    evaluate_on: str | None = "test",
    progress: bool = False,
    on_step: Callable[[nn.Module, int, float], None] | None = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """Quantize ``teacher`` to ``spec`` without its training data; returns (student, metrics).

    ``source``: a registered name (prepared here) or a source from ``prepare_source``; ``finetune``:
    a registered name (default: the source's own, kd for the generators, none otherwise); ``settings``:
    ``dfq_profile("quick")`` by default (a prepared source's own, when given one); the source's own CE
    weight always applies. With ``splits`` (``nas.data.Splits``), student and teacher are
    compared on ``evaluate_on`` ("test" or "val"; None: not at all), once, at the end. ``metrics``: the
    method, bit widths, seed, accuracies (``fp_test_acc``/``quant_test_acc``/``top1_agreement``, or
    ``*_val_*`` on the validation split), every knob and the wall-clock of each phase."""
    prepared = source if isinstance(source, Source) else None
    cls = type(prepared) if prepared else SOURCES.get(source)
    finetune = finetune or cls.default_finetune
    check_finetune(finetune, cls)
    if settings is None:
        settings = prepared.context.settings if prepared else dfq_profile("quick")
    settings = source_settings(settings, cls)
    if prepared is None:
        prepared = prepare_source(cls.name, teacher, meta, settings, seed, splits, progress)
    student, info = quantize_with_source(teacher, spec, prepared, finetune, settings, seed, progress, on_step)
    metrics: dict[str, Any] = {
        "method": f"{cls.name}+{finetune}",
        "source": cls.name,
        "finetune": finetune,
        "w_bits": spec.w_bits,
        "a_bits": spec.a_bits,
        "seed": seed,
    }
    if splits is not None and evaluate_on is not None:
        x, y = {"test": (splits.x_test, splits.y_test), "val": (splits.x_val, splits.y_val)}[evaluate_on]
        started = time.perf_counter()
        scored = compare_with_teacher(student, teacher, x, y, meta["mean"], meta["std"], progress=progress)
        metrics["evaluate_time_s"] = time.perf_counter() - started
        metrics |= {
            f"fp_{evaluate_on}_acc": scored["fp_acc"],
            f"quant_{evaluate_on}_acc": scored["quant_acc"],
            "top1_agreement": scored["top1_agreement"],
        }
    metrics |= {
        **prepared.facts,
        "source_prepare_time_s": prepared.prepare_time_s,
        **info,
        "total_time_s": prepared.prepare_time_s + info["calibrate_time_s"] + info["finetune_time_s"],
        "spec": spec.to_dict(),
        "settings": settings_record(settings),
    }
    return student, metrics
