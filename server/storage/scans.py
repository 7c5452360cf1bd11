"""Stored scans: their state and progress while they run, their report once done."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from .audit import record as audit
from .engine import Database
from .schema import write
from .util import iso_to_ms, now_iso

Json = dict[str, Any]
# A running scan writes its progress after every page; one silent for this long has died
# (its process was killed with the machine, say) and no longer blocks the next scan.
STALE_SECONDS = 600
SUMMARY = (
    "id",
    "site_key",
    "revision",
    "state",
    "requested_by",
    "options",
    "pages_done",
    "pages_total",
    "created_at",
    "started_at",
    "finished_at",
    "heartbeat_at",
    "error",
    "leaks",
    "findings",
)
ACTIVE = ("queued", "running")


def _row(columns: Sequence[str], row: Sequence[Any]) -> Json:
    out = dict(zip(columns, row, strict=True))
    out["options"] = json.loads(out["options"])
    if "result" in out:
        out["result"] = json.loads(out["result"]) if out["result"] else None
    return out


def _expire(db: Database, site_key: str) -> None:
    """Mark the site's scans whose process went silent as failed."""
    cutoff = time.time() - STALE_SECONDS
    rows = db.execute(
        "SELECT id, heartbeat_at FROM scans WHERE site_key = ? AND state IN ('queued', 'running')",
        [site_key],
    ).fetchall()
    for scan_id, beat in rows:
        if iso_to_ms(beat) / 1000 < cutoff:
            db.execute(
                "UPDATE scans SET state = 'failed', error = ?, finished_at = ? WHERE id = ?",
                ["the scanning process stopped without finishing", now_iso(), scan_id],
            )


def create(db: Database, site_key: str, revision: int, options: Json, actor: str) -> int | None:
    """A queued scan's id; None when one of the site's scans is still queued or running."""
    with write(db, f"scans:{site_key}"):
        _expire(db, site_key)
        busy = db.execute(
            "SELECT 1 FROM scans WHERE site_key = ? AND state IN ('queued', 'running')",
            [site_key],
        ).fetchone()
        if busy:
            return None
        stamp = now_iso()
        cursor = db.execute(
            "INSERT INTO scans (site_key, revision, state, requested_by, options, created_at,"
            " heartbeat_at) VALUES (?, ?, 'queued', ?, ?, ?, ?) RETURNING id",
            [site_key, revision, actor, json.dumps(options), stamp, stamp],
        )
        scan_id = int(cursor.fetchone()[0])
        audit(db, actor, "scan", "scan", str(scan_id), site_key, None, options, at=stamp)
        return scan_id


def get(db: Database, site_key: str, scan_id: int) -> Json | None:
    with write(db):
        _expire(db, site_key)
    columns = (*SUMMARY, "result")
    row = db.execute(
        f"SELECT {', '.join(columns)} FROM scans WHERE site_key = ? AND id = ?",
        [site_key, scan_id],
    ).fetchone()
    return _row(columns, row) if row else None


def get_by_id(db: Database, scan_id: int) -> Json | None:
    columns = (*SUMMARY, "result")
    row = db.execute(f"SELECT {', '.join(columns)} FROM scans WHERE id = ?", [scan_id]).fetchone()
    return _row(columns, row) if row else None


def history(db: Database, site_key: str, limit: int = 50) -> list[Json]:
    """The site's scans, newest first, without their reports."""
    with write(db):
        _expire(db, site_key)
    rows = db.execute(
        f"SELECT {', '.join(SUMMARY)} FROM scans WHERE site_key = ? ORDER BY id DESC LIMIT ?",
        [site_key, limit],
    ).fetchall()
    return [_row(SUMMARY, row) for row in rows]


def latest(db: Database, site_key: str) -> Json | None:
    found = history(db, site_key, 1)
    return found[0] if found else None


def claim(db: Database, scan_id: int, pid: int) -> Json | None:
    """Mark a queued scan as running in this process; None if it is not queued."""
    with write(db):
        stamp = now_iso()
        cursor = db.execute(
            "UPDATE scans SET state = 'running', pid = ?, started_at = ?, heartbeat_at = ?"
            " WHERE id = ? AND state = 'queued'",
            [pid, stamp, stamp, scan_id],
        )
        if cursor.rowcount != 1:
            return None
    return get_by_id(db, scan_id)


def progress(db: Database, scan_id: int, done: int, total: int) -> None:
    with write(db):
        db.execute(
            "UPDATE scans SET pages_done = ?, pages_total = ?, heartbeat_at = ? WHERE id = ?",
            [done, total, now_iso(), scan_id],
        )


def finish(db: Database, scan_id: int, result: Json, leaks: int) -> None:
    with write(db):
        stamp = now_iso()
        db.execute(
            "UPDATE scans SET state = 'done', revision = ?, result = ?, leaks = ?, findings = ?,"
            " finished_at = ?, heartbeat_at = ? WHERE id = ?",
            [
                result["revision"],
                json.dumps(result, ensure_ascii=False),
                leaks,
                len(result["findings"]),
                stamp,
                stamp,
                scan_id,
            ],
        )


def fail(db: Database, scan_id: int, error: str) -> None:
    with write(db):
        stamp = now_iso()
        db.execute(
            "UPDATE scans SET state = 'failed', error = ?, finished_at = ?, heartbeat_at = ?"
            " WHERE id = ?",
            [error[:2000], stamp, stamp, scan_id],
        )


def after_publish(db: Database, site_key: str) -> bool:
    """Whether the site is scanned after each publish."""
    row = db.execute(
        "SELECT after_publish FROM scan_settings WHERE site_key = ?", [site_key]
    ).fetchone()
    return bool(row and row[0])


def set_after_publish(db: Database, site_key: str, on: bool, actor: str) -> None:
    with write(db):
        before = after_publish(db, site_key)
        db.execute(
            "INSERT INTO scan_settings (site_key, after_publish) VALUES (?, ?)"
            " ON CONFLICT (site_key) DO UPDATE SET after_publish = excluded.after_publish",
            [site_key, int(on)],
        )
        audit(
            db,
            actor,
            "update",
            "scan_settings",
            site_key,
            site_key,
            {"after_publish": before},
            {"after_publish": on},
        )
