"""SQLite files that know what they are: the simulation cache and a sweep's ``runs.db`` carry a kind
marker (SQLite's ``application_id``), so neither opens the other's file, a foreign database or a
corrupt file (its header, or any page: ``PRAGMA quick_check``); each refusal is one ``ValueError``
sentence naming the file and what to do."""

from __future__ import annotations

import random
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path

# application_id values: "CoSC" (simulation cache) and "CoRD" (runs database), as big-endian int32
KINDS = {0x436F5343: "coexplore simulation cache", 0x436F5244: "coexplore runs database"}


def open_kind(path: Path, application_id: int, schema: str, own_tables: set[str],
              timeout: float = 60.0, wal: bool = False) -> sqlite3.Connection:  # fmt: skip
    """Open (or create) ``path`` as the kind ``application_id``: a new or empty file gets the marker and
    ``schema``; a file with the marker opens; an unmarked file holding only ``own_tables`` (written
    before markers existed) gets the marker; anything else is refused. A file another process holds
    locked (two processes creating it at once: SQLite answers "locked" without waiting when waiting
    could deadlock) is tried again until ``timeout`` seconds have passed: a lock is not corruption."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return _open_kind_once(path, application_id, schema, own_tables, timeout, wal)
        except _Locked:
            if time.monotonic() > deadline:
                kind = KINDS[application_id]
                raise ValueError(
                    f"{path}: another process held the {kind} locked for {timeout:.0f} s"
                ) from None
            time.sleep(0.05 + 0.1 * random.random())


class _Locked(Exception):
    """The file was locked by another connection (not a refusal: try again)."""


def _open_kind_once(path: Path, application_id: int, schema: str, own_tables: set[str],
                    timeout: float, wal: bool) -> sqlite3.Connection:  # fmt: skip
    try:
        db = sqlite3.connect(path, timeout=timeout)
    except sqlite3.Error as exc:
        raise ValueError(f"{path}: cannot open it as a {KINDS[application_id]} ({exc})") from None
    with _refusing(path, application_id, db):
        found = _check_marker(db, path, application_id, own_tables)
        if wal:
            db.execute("PRAGMA journal_mode=WAL")
        if found == 0:
            db.execute(f"PRAGMA application_id = {application_id}")
        db.executescript(schema)
    return db


def check_kind(path: Path, application_id: int, own_tables: set[str]) -> None:
    """Refuse ``path`` (ValueError, one line) when it exists and is not the kind ``application_id`` or
    cannot be read; read-only: a missing file is not created, an existing one is not changed."""
    path = Path(path)
    if not path.exists():
        return
    sidecars = [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]
    absent = [p for p in sidecars if not p.exists()]
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise ValueError(f"{path}: cannot open it as a {KINDS[application_id]} ({exc})") from None
    try:
        with _refusing(path, application_id, db):
            _check_marker(db, path, application_id, own_tables)
    except _Locked:
        raise ValueError(f"{path}: another process holds it locked; try again when it is done") from None
    finally:
        db.close()
        _remove_empty_log(absent)


def _remove_empty_log(created: list[Path]) -> None:
    """A read-only look at a WAL-mode file leaves SQLite's -wal (empty) and -shm files behind: remove
    those this look created, when the log holds nothing, so that a check changes no file."""
    if len(created) < 2:  # one of them was there before: another connection may be using the log
        return
    wal = next(p for p in created if p.name.endswith("-wal"))
    if not wal.exists() or wal.stat().st_size == 0:
        for p in created:
            p.unlink(missing_ok=True)


def _check_marker(db: sqlite3.Connection, path: Path, application_id: int, own_tables: set[str]) -> int:
    kind = KINDS[application_id]
    found = db.execute("PRAGMA application_id").fetchone()[0]
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if found not in (0, application_id):
        what = KINDS.get(found, f"database of another program (application_id {found:#x})")
        raise ValueError(f"{path} is a {what}, not a {kind}; {_hint(kind)}")
    if found == 0 and tables and not tables <= own_tables:
        held = ", ".join(sorted(tables))
        raise ValueError(f"{path} is not a {kind} (it holds the tables {held}); {_hint(kind)}")
    health = db.execute("PRAGMA quick_check(1)").fetchone()[0]  # damaged pages: O(file), milliseconds
    if health != "ok":
        raise ValueError(f"{path}: a corrupt {kind} ({health}); {_hint(kind)}")
    return found


def _hint(kind: str) -> str:
    return f"move it aside or choose another file for the {kind}"


@contextmanager
def _refusing(path: Path, application_id: int, db: sqlite3.Connection):
    """Close ``db`` on any refusal; SQLite's own errors become one line naming the file."""
    kind = KINDS[application_id]
    try:
        yield
    except sqlite3.DatabaseError as exc:
        db.close()
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            raise _Locked from None
        raise ValueError(f"{path}: not a readable {kind}, or a corrupt one ({exc}); {_hint(kind)}") from None
    except ValueError:
        db.close()
        raise
