"""From a target to deployable files in one run folder (``coexplore codesign``), stage by stage:

1. ``search``: the HDX search of network and accelerator (``search.run``), the derived child retrained and
   simulated with ZigZag -> ``search/`` (a search run folder);
2. ``quantize``: the child quantized data-free to the derived accelerator's bits (weights and activations,
   ``dfq.api``) and scored on the test set -> ``quantized/quantized.pt``, ``quantized/metrics.json``;
3. ``export``: ``accelerator.json``, ZigZag's files, the Timeloop spec and ``model.onnx``;
4. ``report``: ``report.md`` and ``designs.png`` (the designs the search visited).

Each stage writes its outputs, then a marker (``.stages/<stage>.json``); a rerun on the same folder with
the same settings (``codesign.json``) skips the stages that have one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accel_model.domain import Accelerator
from accel_model.export import export_accelerator
from accel_model.files import atomic_write_bytes, clear_dir
from dfq.api import dfq_profile, quantize
from dfq.finetunes import check_finetune
from dfq.int_checkpoint import save_integer
from dfq.onnx_export import save_onnx, to_onnx
from dfq.pipeline import load_quantized, save_quantized
from dfq.settings import DFQSettings
from dfq.sources import SOURCES
from nas.arch import Arch
from nas.deployment import deployed_layers
from nas.train import load_checkpoint
from search.codesign_report import designs_plot, report_markdown
from search.design_accuracy import design_spec
from search.run import Setup, dance_hardware, prepare_constrained, run_dance

STAGES = ("search", "quantize", "export", "report")


@dataclass
class Codesign:
    setup: Setup
    constraints: tuple
    hardware: Any
    dfq: DFQSettings
    source: str
    finetune: str
    workers: int
    out_dir: Path
    config: dict[str, Any]
    fresh: bool  # start from an empty folder (no finished stage to keep)


def plan(config: dict[str, Any], out_dir: Path, overwrite: bool = False) -> Codesign:
    """Check everything before any work (``ValueError`` naming the problem): the search's settings and
    constraints (reachable), the generator, the DFQ method and profile, and the folder (a rerun must
    have the settings of the run it resumes)."""
    out_dir = Path(out_dir)
    recorded = out_dir / "codesign.json"
    if recorded.is_file() and not overwrite and json.loads(recorded.read_text()) != config:
        raise ValueError(f"{out_dir} holds a codesign with other settings (see {recorded}); pass --overwrite "
                         "to start again or choose another --out")  # fmt: skip
    if out_dir.exists() and any(out_dir.iterdir()) and not recorded.is_file() and not overwrite:
        raise ValueError(
            f"{out_dir} exists and is not a codesign run folder (pass --overwrite to replace it)"
        )
    source = SOURCES.get(config["source"])
    finetune = config["finetune"] or source.default_finetune
    check_finetune(finetune, source)
    dfq = dfq_profile(config["dfq_profile"])
    search = config["search"]
    setup, constraints = prepare_constrained(
        search["objective"], search["lam"], search["profile"], search["evaluator_path"], search["epochs"],
        search["seed"], search["data_dir"], out_dir / "search", search.get("input_size"),
        limits=config["limits"], hw=search["hw"],
    )  # fmt: skip
    hardware = dance_hardware(search["generator_path"], setup) if search["hw"] == "generator" else None
    setup.score_design = False  # the quantize stage quantizes the child with the chosen DFQ method
    fresh = overwrite or not recorded.is_file()
    return Codesign(setup, constraints, hardware, dfq, config["source"], finetune, search["workers"],
                    out_dir, config, fresh)  # fmt: skip


def _done(run: Codesign, stage: str) -> bool:
    return (run.out_dir / ".stages" / f"{stage}.json").is_file()


def _mark(run: Codesign, stage: str, seconds: float) -> None:
    path = run.out_dir / ".stages" / f"{stage}.json"
    body = json.dumps({"stage": stage, "seconds": round(seconds, 1), "finished": time.time()}) + "\n"
    atomic_write_bytes(path, lambda fh: fh.write(body.encode()))


def _write_json(path: Path, data) -> None:
    atomic_write_bytes(path, lambda fh: fh.write((json.dumps(data, indent=1) + "\n").encode()))


def stage_search(run: Codesign, progress: bool, on_epoch=None) -> None:
    run_dance(run.setup, run.hardware, run.constraints, run.workers, progress, on_epoch)


def _design(run: Codesign) -> tuple[Arch, Accelerator, dict]:
    folder = run.out_dir / "search"
    metrics = json.loads((folder / "metrics.json").read_text())
    return Arch.load(folder / "arch.json"), Accelerator.from_dict(metrics["accelerator"]), metrics


def stage_quantize(run: Codesign, progress: bool, on_epoch=None) -> None:
    _, accel, _ = _design(run)
    teacher, meta = load_checkpoint(run.out_dir / "search" / "model.pt")
    spec = design_spec(accel)
    student, metrics = quantize(teacher, spec, meta, run.source, run.finetune, run.dfq, run.setup.cfg.seed,
                                run.setup.splits, progress=progress)  # fmt: skip
    folder = run.out_dir / "quantized"
    clear_dir(folder)
    facts = {k: v for k, v in metrics.items() if k != "spec"}
    save_quantized(folder / "quantized.pt", student, spec, meta, facts)
    save_integer(folder / "quantized.int.pt", student, spec, meta, facts)
    _write_json(folder / "metrics.json", metrics)


def stage_export(run: Codesign, progress: bool, on_epoch=None) -> None:
    arch, accel, _ = _design(run)
    layers = deployed_layers(run.setup.space, arch, run.setup.deploy, run.setup.splits.num_classes)
    _write_json(run.out_dir / "accelerator.json", accel.to_dict())
    export_accelerator("zigzag", accel, layers, run.out_dir)
    export_accelerator("timeloop", accel, layers, run.out_dir)
    student, payload = load_quantized(run.out_dir / "quantized" / "quantized.pt")
    meta = payload["teacher"]
    save_onnx(to_onnx(student, (meta["in_channels"], meta["image_size"], meta["image_size"])),
              run.out_dir / "model.onnx")  # fmt: skip


def stage_report(run: Codesign, progress: bool, on_epoch=None) -> None:
    designs_plot(run.out_dir / "search" / "trajectory.csv", run.out_dir / "designs.png")
    text = report_markdown(run.out_dir, run.config)
    atomic_write_bytes(run.out_dir / "report.md", lambda fh: fh.write(text.encode()))


# (run, progress, on_epoch): only the search reports epochs
STAGE_FUNCTIONS: dict[str, Callable[..., None]] = {
    "search": stage_search, "quantize": stage_quantize, "export": stage_export, "report": stage_report,
}  # fmt: skip


def run_codesign(run: Codesign, progress: bool = True, on_stage: Callable[[str, str], None] | None = None,
                 on_epoch=None) -> dict:  # fmt: skip
    """Run every stage without a marker, in order; returns {stage: "done" | "skipped"}."""
    if run.fresh:
        clear_dir(run.out_dir)
        _write_json(run.out_dir / "codesign.json", run.config)
    outcome = {}
    for stage in STAGES:
        if _done(run, stage):
            outcome[stage] = "skipped"
            if on_stage:
                on_stage(stage, "skipped (finished before)")
            continue
        if on_stage:
            on_stage(stage, "running")
        start = time.perf_counter()
        STAGE_FUNCTIONS[stage](run, progress, on_epoch)
        _mark(run, stage, time.perf_counter() - start)
        outcome[stage] = "done"
        if on_stage:
            on_stage(stage, f"done in {time.perf_counter() - start:.0f} s")
    return outcome
