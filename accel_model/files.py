"""Writing files so that they are never half-written: temp file beside the target, then rename."""

from __future__ import annotations

import csv
import io
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def atomic_write_bytes(path: str | Path, writer: Callable[[IO[bytes]], Any]) -> None:
    """Write via ``writer(file_object)`` to a temp file beside ``path``, then rename over it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            writer(fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_rows(path: str | Path, rows: list[dict[str, Any]]) -> None:
    """A CSV with a header from the rows' keys (the first row's, then any later row adds), written
    atomically; a row without a column leaves it empty."""
    fieldnames = list(dict.fromkeys(key for row in rows for key in row))

    def write(fh: IO[bytes]) -> None:
        text = io.TextIOWrapper(fh, newline="")
        writer = csv.DictWriter(text, fieldnames=fieldnames, restval="")
        writer.writeheader()
        writer.writerows(rows)
        text.detach()  # flush into fh, leave it open for the atomic rename

    atomic_write_bytes(path, write)


def read_rows(path: str | Path) -> list[dict[str, str]]:
    """The rows of a CSV written by ``write_rows`` (none when the file does not exist)."""
    path = Path(path)
    if not path.is_file():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def runs_path(table: str | Path) -> Path:
    """Where a resumable table keeps its one-row-per-run file: ``<table>_runs.csv`` beside it."""
    table = Path(table)
    return table.with_name(table.stem + "_runs.csv")


def load_torch_file(path: str | Path, what: str, hint: str = "") -> Any:
    """``torch.load`` (CPU, weights only) with one-line ``ValueError``s naming the file: missing (plus
    ``hint``, e.g. how to make one) or unreadable."""
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ValueError(f"{path}: no such {what} file{hint}") from None
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a corrupt file
        raise ValueError(f"{path}: not a readable {what} file ({type(exc).__name__})") from None


def clear_dir(path: Path) -> None:
    """Remove ``path`` (when it exists) and create it empty."""

    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
