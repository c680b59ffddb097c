"""The method table: every (method, bit width, seed) run on one teacher, resumable, then mean +- std.

Runs are written one row at a time to ``<table>_runs.csv``; a restarted table skips the rows already
there, and refuses rows of another teacher or another protocol (the settings, fingerprinted in each
row's ``protocol`` column and spelled out in ``<table>_runs_protocols.json``). A source is prepared
once per (source, seed) and shared by the bit widths and methods that use it; each row's
``total_time_s`` still counts that preparation, as a single run would pay it.
"""

from __future__ import annotations

import hashlib
import json
import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from accel_model.files import atomic_write_bytes, read_rows, runs_path, write_rows
from dfq.api import prepare_source, quantize, settings_record
from dfq.finetunes import FINETUNES
from dfq.finetunes.reconstruct import ReconstructConfig
from dfq.quant_model import QuantSpec
from dfq.settings import DFQSettings
from dfq.sources import SOURCES


@dataclass(frozen=True)
class TableMethod:
    label: str
    source: str
    finetune: str


TABLE_METHODS = (
    TableMethod("noise PTQ", "noise", "none"),
    TableMethod("ZeroQ PTQ", "zeroq", "none"),
    TableMethod("ZeroQ + KD", "zeroq", "kd"),
    TableMethod("GDFQ", "gdfq", "kd"),
    TableMethod("real PTQ (reference)", "real", "none"),
    TableMethod("real QAT (reference)", "real", "qat"),
)
TABLE_BITS = ((8, 8), (4, 4), (3, 3), (2, 4))
RUN_FIELDS = (
    "method",
    "teacher",
    "protocol",
    "w_bits",
    "a_bits",
    "seed",
    "fp_test_acc",
    "quant_test_acc",
    "top1_agreement",
    "source_prepare_time_s",
    "calibrate_time_s",
    "finetune_time_s",
    "total_time_s",
)


def parse_bits(spec: str) -> tuple[tuple[int, int], ...]:
    """``"W4A4,W2A4"`` -> ((4, 4), (2, 4)); ValueError naming a malformed entry."""

    out = []
    for part in spec.split(","):
        match = re.fullmatch(r"W(\d+)A(\d+)", part.strip(), flags=re.IGNORECASE)
        if not match or not all(2 <= int(b) <= 16 for b in match.groups()):
            raise ValueError(f"bit width {part!r} is not W<2..16>A<2..16> (e.g. W4A4)")
        out.append((int(match[1]), int(match[2])))
    return tuple(out)


def method_grid(sources: Sequence[str], finetunes: Sequence[str]) -> tuple[TableMethod, ...]:
    """Every ``source+finetune`` as a table method; ``ValueError`` for an unknown name."""
    for name in sources:
        SOURCES.get(name.strip())
    for name in finetunes:
        FINETUNES.get(name.strip())
    return tuple(
        TableMethod(f"{s.strip()}+{f.strip()}", s.strip(), f.strip()) for s in sources for f in finetunes
    )


class RunsMismatch(ValueError):
    """The runs file holds rows that must not be averaged with this run's."""


class TeacherMismatch(RunsMismatch):
    """The runs file holds rows of another teacher."""


class ProtocolMismatch(RunsMismatch):
    """The runs file holds rows run with other settings (profile, step counts, quantizer options)."""


def teacher_fingerprint(teacher) -> str:
    """Short SHA-256 of the teacher's state dict (names, dtypes, shapes, values): two checkpoints share it
    only when they hold the same numbers, so a retrained teacher never passes for the old one."""

    digest = hashlib.sha256()
    for name, tensor in sorted(teacher.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        digest.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()[:16]


# Settings added after runs files were committed, with the value every earlier run had: recorded only
# when they differ from it, so that the earlier runs keep their protocol fingerprints. The record is flat
# (shared settings and every method's knobs, ``dfq.api.settings_record``), as it was when all knobs were
# fields of one settings class.
SETTINGS_ADDED_LATER = {
    "act_scale_lr": 0.0,
    "feature_kd_weight": 0.0,
    "freeze_weight_grid": False,
    **ReconstructConfig().to_dict(),
}


def protocol_record(settings: DFQSettings, spec_overrides: dict | None) -> dict:
    """Everything a run's result depends on beside the teacher, the method, the bit widths and the seed:
    the settings and the quantizer options (the full ``QuantSpec`` less its bit widths)."""
    spec = QuantSpec(**(spec_overrides or {})).to_dict()
    recorded = {
        k: v
        for k, v in settings_record(settings).items()
        if k not in SETTINGS_ADDED_LATER or v != SETTINGS_ADDED_LATER[k]
    }
    return {
        "settings": recorded,
        "spec": {k: v for k, v in spec.items() if not k.endswith("_bits")},
    }


def protocol_fingerprint(record: dict) -> str:
    """Short SHA-256 of a ``protocol_record``: rows share it only when they were run the same way."""

    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:12]


def protocols_path(runs: str | Path) -> Path:
    """Where a runs file's protocols (fingerprint: settings) are kept: ``<runs>_protocols.json`` beside it."""
    runs = Path(runs)
    return runs.with_name(runs.stem + "_protocols.json")


def record_protocol(runs: Path, fingerprint: str, record: dict) -> None:
    """Add the fingerprint's settings to the runs file's protocols file, so a person can read what it
    stands for."""

    path = protocols_path(runs)
    known = json.loads(path.read_text()) if path.is_file() else {}
    if known.get(fingerprint) != record:
        known[fingerprint] = record
        atomic_write_bytes(
            path, lambda fh: fh.write((json.dumps(known, indent=2, sort_keys=True) + "\n").encode())
        )


def column_values(rows: list[dict], column: str) -> list[str]:
    """The distinct values ``column`` takes in ``rows``, sorted; a missing one reads ``(none)``."""
    return sorted({r.get(column) or "(none)" for r in rows})


def check_same_teacher(rows: list[dict], fingerprint: str, path: Path) -> None:
    """Every row must name this teacher: rows of a retrained teacher (training is not bit-reproducible
    across machines) must never be averaged with this one's."""
    seen = column_values(rows, "teacher")
    if rows and seen != [fingerprint]:
        raise TeacherMismatch(
            f"{path} holds rows of teacher {', '.join(seen)}, this checkpoint is {fingerprint}: a different "
            "teacher; write the table elsewhere (--out) or move the old rows away"
        )


def check_same_protocol(rows: list[dict], fingerprint: str, path: Path) -> None:
    """Every row must come from the same settings: a resumed table with other step counts or quantizer
    options would otherwise average two protocols without a word."""
    seen = column_values(rows, "protocol")
    if rows and seen != [fingerprint]:
        raise ProtocolMismatch(
            f"{path} holds rows of protocol {', '.join(seen)}, these settings are {fingerprint}: a different "
            f"protocol (profile, --finetune-*, quantizer options; see {protocols_path(path).name}); rerun "
            "with the settings of those rows or write the table elsewhere (--out)"
        )


def check_resumable(teacher, settings: DFQSettings, spec_overrides: dict | None, table: Path) -> None:
    """``TeacherMismatch`` / ``ProtocolMismatch`` when the table's runs file holds rows of another teacher
    or protocol: checked before any work (``run_table`` checks again)."""
    rows = read_rows(runs_path(table))
    check_same_teacher(rows, teacher_fingerprint(teacher), runs_path(table))
    check_same_protocol(
        rows, protocol_fingerprint(protocol_record(settings, spec_overrides)), runs_path(table)
    )


def _key(row: dict) -> tuple[str, int, int, int]:
    return row["method"], int(row["w_bits"]), int(row["a_bits"]), int(row["seed"])


def run_table(
    teacher,
    meta: dict,
    splits,
    settings: DFQSettings,
    table: Path,
    seeds: int = 3,
    methods: tuple[TableMethod, ...] = TABLE_METHODS,
    bits: tuple[tuple[int, int], ...] = TABLE_BITS,
    spec_overrides: dict | None = None,
    on_row: Callable[[dict], None] | None = None,
    progress: bool = False,
) -> list[dict]:
    """Run every missing row, appending each to the runs file; then write the summary ``table``. Rows
    already there must come from the same teacher and the same protocol (``TeacherMismatch`` or
    ``ProtocolMismatch`` otherwise: neither two teachers nor two protocols ever mix)."""
    rows = read_rows(runs_path(table))
    fingerprint = teacher_fingerprint(teacher)
    check_same_teacher(rows, fingerprint, runs_path(table))
    protocol = protocol_record(settings, spec_overrides)
    protocol_id = protocol_fingerprint(protocol)
    check_same_protocol(rows, protocol_id, runs_path(table))
    record_protocol(runs_path(table), protocol_id, protocol)
    done = {_key(r) for r in rows}
    for seed in range(seeds):
        for source_name in dict.fromkeys(m.source for m in methods):
            todo = [
                (m, wb, ab)
                for m in methods
                if m.source == source_name
                for wb, ab in bits
                if (m.label, wb, ab, seed) not in done
            ]
            if not todo:
                continue
            source = prepare_source(source_name, teacher, meta, settings, seed, splits, progress)
            for method, wb, ab in todo:
                spec = QuantSpec(wb, ab, **(spec_overrides or {}))
                _, metrics = quantize(
                    teacher, spec, meta, source, method.finetune, seed=seed, splits=splits, progress=progress
                )
                row = {"method": method.label, "teacher": fingerprint, "protocol": protocol_id}
                row.update({k: metrics[k] for k in RUN_FIELDS[3:]})
                if "generator_retries" in metrics:  # a generator source: which seed it trained with
                    row |= {k: metrics[k] for k in ("generator_seed", "generator_retries")}
                    ratios = (f"{c['bns_to_noise']:.3f}" for c in metrics["generator_checks"])
                    row["generator_bns_to_noise"] = ";".join(ratios)  # every attempt's, in order
                rows.append(row)
                write_rows(runs_path(table), rows)
                if on_row:
                    on_row(row)
    summary = summarize(rows, [m.label for m in methods], bits)
    write_rows(table, summary)
    return summary


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def summarize(rows: list[dict], labels: Sequence[str], bits: Sequence[tuple[int, int]]) -> list[dict]:
    """One row per (method label, bits) with runs: accuracy (%) and drop from FP as mean and std over
    seeds, agreement, wall-clock."""
    out = []
    for label in labels:
        for wb, ab in bits:
            group = [
                r for r in rows if r["method"] == label and (int(r["w_bits"]), int(r["a_bits"])) == (wb, ab)
            ]
            if not group:
                continue
            acc = [100 * float(r["quant_test_acc"]) for r in group]
            drop = [100 * (float(r["fp_test_acc"]) - float(r["quant_test_acc"])) for r in group]
            agree = [100 * float(r["top1_agreement"]) for r in group]
            secs = [float(r["total_time_s"]) for r in group]
            (acc_m, acc_s), (drop_m, drop_s), (time_m, time_s) = map(_mean_std, (acc, drop, secs))
            out.append(
                {
                    "method": label,
                    "bits": f"W{wb}A{ab}",
                    "seeds": len(group),
                    "fp_acc": round(100 * float(group[0]["fp_test_acc"]), 2),
                    "acc_mean": round(acc_m, 2),
                    "acc_std": round(acc_s, 2),
                    "drop_mean": round(drop_m, 2),
                    "drop_std": round(drop_s, 2),
                    "agreement_mean": round(statistics.fmean(agree), 2),
                    "time_s_mean": round(time_m, 1),
                    "time_s_std": round(time_s, 1),
                }
            )
    return out
