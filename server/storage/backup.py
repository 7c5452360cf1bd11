"""An online backup of a SQLite deployment, taken while the server runs (docs/storage.md).

PostgreSQL is backed up with its own tools (`pg_dump -Fc`, `pg_restore`), documented there.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path


class BackupError(Exception):
    """A backup that cannot be taken; the message says why and what to do."""


@dataclass(frozen=True)
class Backup:
    path: Path
    decisions: int
    schema_version: int
    size: int  # bytes
    seconds: float


def sqlite_backup(source: str | Path, target: str | Path) -> Backup:
    """Copy the SQLite database `source` into the new file `target`, consistently, while
    other processes go on writing.

    SQLite's online backup API (`sqlite3.Connection.backup`) in one step: the copy is the
    database as of one moment (a read transaction), and in WAL mode writers are not held up
    meanwhile. In several steps, a write between two of them would restart the copy, so under
    a steady load it might never end. The copy is written beside `target` under a temporary
    name, checked (`PRAGMA quick_check`), and only then renamed to `target`, mode 600: a
    backup that exists is whole.
    """
    source, target = Path(source), Path(target)
    if not source.is_file():
        raise BackupError(f"{source}: no such database file")
    if target.exists():
        raise BackupError(f"{target} already exists; name a new file (a backup never overwrites)")
    if not target.parent.is_dir():
        raise BackupError(f"{target.parent}: no such folder")
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    started = time.monotonic()
    # mode=rw: a backup never creates a database (a mistyped path is an error, not a new file).
    try:
        src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=rw", uri=True, timeout=10)
    except sqlite3.Error as error:
        raise BackupError(f"{source}: {error}") from None
    try:
        os.close(os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)  # pages=-1: the whole database in one step, one snapshot
            if dst.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise BackupError(f"{target}: the copy fails SQLite's quick_check; nothing kept")
            version = int(dst.execute("PRAGMA user_version").fetchone()[0])
            decisions = (
                int(dst.execute("SELECT COUNT(*) FROM decisions").fetchone()[0])
                if dst.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'decisions'"
                ).fetchone()
                else 0
            )
            # A single file: the copy's pages go back from its WAL into it before it is named.
            dst.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            dst.close()
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{partial}{suffix}")
        os.replace(partial, target)
    except sqlite3.Error as error:
        raise BackupError(f"{source}: {error}") from None
    finally:
        src.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
    return Backup(target, decisions, version, target.stat().st_size, time.monotonic() - started)
