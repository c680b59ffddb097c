"""SQLite files that know what they are: the simulation cache and a sweep's ``runs.db`` carry a kind
marker (SQLite's ``application_id``), so neither opens the other's file, a foreign database or a
corrupt file; each refusal is one ``ValueError`` sentence naming the file and what to do."""

from __future__ import annotations

import sqlite3
from pathlib import Path

# application_id values: "CoSC" (simulation cache) and "CoRD" (runs database), as big-endian int32
KINDS = {0x436F5343: "coexplore simulation cache", 0x436F5244: "coexplore runs database"}


def open_kind(path: Path, application_id: int, schema: str, own_tables: set[str],
              timeout: float = 60.0, wal: bool = False) -> sqlite3.Connection:  # fmt: skip
    """Open (or create) ``path`` as the kind ``application_id``: a new or empty file gets the marker and
    ``schema``; a file with the marker opens; an unmarked file holding only ``own_tables`` (written
    before markers existed) gets the marker; anything else is refused."""
    kind = KINDS[application_id]
    hint = f"move it aside or choose another file for the {kind}"
    try:
        db = sqlite3.connect(path, timeout=timeout)
    except sqlite3.Error as exc:
        raise ValueError(f"{path}: cannot open it as a {kind} ({exc})") from None
    try:
        found = db.execute("PRAGMA application_id").fetchone()[0]
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if found not in (0, application_id):
            what = KINDS.get(found, f"database of another program (application_id {found:#x})")
            raise ValueError(f"{path} is a {what}, not a {kind}; {hint}")
        if found == 0 and tables and not tables <= own_tables:
            raise ValueError(
                f"{path} is not a {kind} (it holds the tables {', '.join(sorted(tables))}); {hint}"
            )
        if wal:
            db.execute("PRAGMA journal_mode=WAL")
        if found == 0:
            db.execute(f"PRAGMA application_id = {application_id}")
        db.executescript(schema)
    except sqlite3.DatabaseError as exc:
        db.close()
        raise ValueError(f"{path}: not a readable {kind}, or a corrupt one ({exc}); {hint}") from None
    except ValueError:
        db.close()
        raise
    return db
