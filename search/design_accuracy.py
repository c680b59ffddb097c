"""A design's accuracy is its network's at its accelerator's bits.

After a search (or a baseline) retrains the derived child in full precision, ``score_design`` quantizes it
**data-free** to the derived accelerator's bit width with the DFQ pipeline and scores it: ``acc_fp`` and
``acc_q`` on the test split (reported), ``acc_q_val`` on the validation split (what a choice among runs
may look at). Every layer, the first and the last included, runs at the accelerator's bits
(``design_spec``): the accelerator computes them all at that width and its cost is priced so.

The method is ``DESIGN_DFQ``: ZeroQ images (the ``design`` DFQ profile: 128 images, 100 steps) and
calibration, no fine-tuning: a few tens of seconds where GDFQ's generator takes minutes, and a search table
has dozens of runs. In the DFQ tables (first and last layers at 8 bits, as in the papers) it kept the
default child within 1.9 points at W4A4; with every layer at 4 bits, this project's convention, the same
child keeps 41.46% of 91.81% (90.58% with those two layers at 8 bits): ``docs/results/search.md`` gives
these numbers, GDFQ's at the same setting, and the time scoring adds.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from accel_model.domain import Accelerator
from dfq.api import dfq_profile, quantize
from dfq.pipeline import compare_with_teacher, save_quantized
from dfq.quant_model import QuantSpec
from nas.data import Splits
from nas.train import load_checkpoint

DESIGN_DFQ = {"source": "zeroq", "finetune": "none", "profile": "design"}
# The DFQ profile that scores a search profile's designs (the smoke profile stays a smoke test).
DFQ_PROFILE_OF_SEARCH = {"smoke": "smoke"}
# Images a DFQ profile's designs are scored on: the first N of the test and of the validation split
# (absent: all). Smoke scores 2,000 of each, a pipeline check that keeps a one-target sweep within 2 minutes.
SCORED_IMAGES_OF_DFQ_PROFILE = {"smoke": 2000}
QUANTIZED_FILE = "quantized.pt"


def design_spec(accel: Accelerator) -> QuantSpec:
    """Weights and activations at the accelerator's bits, every layer (the first and last too)."""
    return QuantSpec(accel.bits, accel.bits, keep_first_last_8bit=False)


def dfq_profile_for(search_profile: str) -> str:
    return DFQ_PROFILE_OF_SEARCH.get(search_profile, DESIGN_DFQ["profile"])


def score_design(run_dir: Path, accel: Accelerator, splits: Splits, seed: int = 0, progress: bool = False,
                 profile: str = DESIGN_DFQ["profile"]) -> dict[str, Any]:  # fmt: skip
    """Quantize ``run_dir/model.pt`` to ``accel``'s bits without data (DFQ ``profile``), save
    ``quantized.pt`` beside it, and return ``bits``, ``acc_fp``, ``acc_q``, ``acc_q_val`` and the DFQ
    run's facts. The smoke DFQ profile scores the first 2,000 images of each split
    (``SCORED_IMAGES_OF_DFQ_PROFILE``; ``quantization.scored_images`` says how many)."""
    start = time.perf_counter()
    scored = SCORED_IMAGES_OF_DFQ_PROFILE.get(profile)
    splits = replace(splits, x_test=splits.x_test[:scored], y_test=splits.y_test[:scored],
                     x_val=splits.x_val[:scored], y_val=splits.y_val[:scored])  # fmt: skip
    teacher, meta = load_checkpoint(Path(run_dir) / "model.pt")
    spec = design_spec(accel)
    settings = dfq_profile(profile)
    student, metrics = quantize(teacher, spec, meta, DESIGN_DFQ["source"], DESIGN_DFQ["finetune"], settings,
                                seed, splits, evaluate_on="test", progress=progress)  # fmt: skip
    val = compare_with_teacher(student, teacher, splits.x_val, splits.y_val, meta["mean"], meta["std"])
    facts = {k: v for k, v in metrics.items() if k not in ("spec", "settings")}
    save_quantized(Path(run_dir) / QUANTIZED_FILE, student, spec, meta, facts)
    return {
        "bits": accel.bits,
        "acc_fp": metrics["fp_test_acc"],
        "acc_q": metrics["quant_test_acc"],
        "acc_q_val": val["quant_acc"],
        "quantization": {
            **DESIGN_DFQ,
            "profile": profile,
            "method": metrics["method"],
            "spec": spec.to_dict(),
            "scored_images": {"test": len(splits.y_test), "val": len(splits.y_val)},
            "time_s": round(time.perf_counter() - start, 1),
        },  # fmt: skip
    }


def checkpoint_and_bits(path: str | Path) -> tuple[Path, int | None]:
    """A checkpoint file, or a search run folder (its ``model.pt``); and the bit width of the run's
    ``accelerator.json`` when the checkpoint sits in a run folder (None otherwise)."""
    path = Path(path)
    checkpoint = path / "model.pt" if path.is_dir() else path
    accel_file = checkpoint.parent / "accelerator.json"
    if not accel_file.is_file():
        return checkpoint, None
    try:
        return checkpoint, Accelerator.from_dict(json.loads(accel_file.read_text())).bits
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{accel_file}: not a valid accelerator ({exc})") from None
