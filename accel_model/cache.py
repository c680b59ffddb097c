"""SQLite cache and sample store of simulations, keyed by (layer, accelerator, backend, version, settings).

One row per key; failed simulations are stored too (status 'failed' with the error), so a sweep
never drops them silently and a re-run can retry exactly those. WAL mode lets several processes
read while one writes.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accel_model.domain import Accelerator, Cost, LayerShape
from accel_model.sqlite_kind import check_kind, open_kind

CACHE_KIND = 0x436F5343  # the cache's SQLite application_id (accel_model.sqlite_kind)

SCHEMA = """
CREATE TABLE IF NOT EXISTS simulations (
    key TEXT PRIMARY KEY,
    backend TEXT NOT NULL,
    backend_version TEXT NOT NULL,
    settings TEXT NOT NULL,
    layer TEXT NOT NULL,
    accelerator TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    latency_cycles REAL,
    energy_pj REAL,
    area_mm2 REAL,
    error TEXT,
    seconds REAL,
    created REAL NOT NULL
);
"""
COLUMNS = "layer, accelerator, status, latency_cycles, energy_pj, area_mm2, error, seconds"


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def cache_key(layer: LayerShape, accel: Accelerator, backend: str, version: str, settings: dict) -> str:
    text = _canonical([layer.to_dict(), accel.to_dict(), backend, version, settings])
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Record:
    """One simulation outcome: ``cost`` when status is 'ok', ``error`` when 'failed'."""

    layer: LayerShape
    accel: Accelerator
    status: str
    cost: Cost | None = None
    error: str | None = None
    seconds: float = 0.0


class SimulationCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = open_kind(self.path, CACHE_KIND, SCHEMA, {"simulations"}, wal=True)

    @staticmethod
    def refuse_unusable(path: str | Path) -> None:
        """ValueError (one line) when ``path`` exists and is not a usable simulation cache; reads only,
        so a missing file (and its folder) is not created."""
        check_kind(Path(path), CACHE_KIND, {"simulations"})

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SimulationCache:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def get(self, key: str) -> Record | None:
        row = self._db.execute(
            f"SELECT {COLUMNS} FROM simulations WHERE key = ?",
            (key,),
        ).fetchone()
        return None if row is None else _record(row)

    def put(self, key: str, backend: str, version: str, settings: dict, record: Record) -> None:
        cost = record.cost
        self._db.execute(
            "INSERT OR REPLACE INTO simulations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key, backend, version, _canonical(settings), _canonical(record.layer.to_dict()),
                _canonical(record.accel.to_dict()), record.status,
                cost.latency_cycles if cost else None, cost.energy_pj if cost else None,
                cost.area_mm2 if cost else None, record.error, record.seconds, time.time(),
            ),
        )  # fmt: skip
        self._db.commit()

    def records(self, backend: str | None = None, status: str | None = None) -> Iterator[Record]:
        query = f"SELECT {COLUMNS} FROM simulations"
        clauses, args = [], []
        for column, value in (("backend", backend), ("status", status)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        if clauses:
            query += " WHERE " + " AND ".join(clauses)
        for row in self._db.execute(query + " ORDER BY created", args):
            yield _record(row)

    def check(self) -> dict[str, Any]:
        """What the file holds, for ``coexplore cache check``: rows per backend and status, the most
        common failure messages, SQLite's integrity check, the file's size."""
        by = self._db.execute(
            "SELECT backend, status, COUNT(*) FROM simulations GROUP BY backend, status "
            "ORDER BY backend, status"
        ).fetchall()
        errors = self._db.execute(
            "SELECT error, COUNT(*) AS n FROM simulations WHERE status = 'failed' "
            "GROUP BY error ORDER BY n DESC LIMIT 5"
        ).fetchall()
        integrity = [row[0] for row in self._db.execute("PRAGMA integrity_check")]
        return {
            "path": str(self.path),
            "bytes": self.path.stat().st_size,
            "rows": {f"{backend} {status}": n for backend, status, n in by},
            "ok": self.count("ok"),
            "failed": self.count("failed"),
            "common_failures": [{"error": (e or "").splitlines()[0][:200], "rows": n} for e, n in errors],
            "integrity": "ok" if integrity == ["ok"] else "; ".join(integrity[:5]),
        }

    def forget_failed(self, backend: str | None = None) -> int:
        """Delete the failed rows (of ``backend``), so that the next run simulates those pairs again;
        returns how many."""
        query, args = "DELETE FROM simulations WHERE status = 'failed'", []
        if backend is not None:
            query, args = query + " AND backend = ?", [backend]
        n = self._db.execute(query, args).rowcount
        self._db.commit()
        return n

    def vacuum(self) -> tuple[int, int]:
        """Rebuild the file without free pages (after a ``forget``); (bytes before, bytes after)."""
        before = self.path.stat().st_size
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._db.execute("VACUUM")
        return before, self.path.stat().st_size

    def count(self, status: str | None = None) -> int:
        if status is None:
            return self._db.execute("SELECT COUNT(*) FROM simulations").fetchone()[0]
        return self._db.execute("SELECT COUNT(*) FROM simulations WHERE status = ?", (status,)).fetchone()[0]


def _record(row) -> Record:
    layer, accel = LayerShape.from_dict(json.loads(row[0])), Accelerator.from_dict(json.loads(row[1]))
    cost = Cost(row[3], row[4], row[5], accel.clock_mhz) if row[2] == "ok" else None
    return Record(layer, accel, row[2], cost, row[6], row[7] or 0.0)
