"""The append-only audit log: who changed what, when, with before and after."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from .engine import Database
from .schema import write
from .util import now_iso


def record(
    db: Database,
    actor: str,
    action: str,
    object_type: str,
    object_key: str,
    site_key: str | None = None,
    before: object = None,
    after: object = None,
    at: str | None = None,
) -> None:
    """Append one entry; `before` and `after` are stored as JSON."""
    db.execute(
        "INSERT INTO audit_log (at, actor, action, object_type, object_key, site_key, before, after) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            at or now_iso(),
            actor,
            action,
            object_type,
            object_key,
            site_key,
            None if before is None else json.dumps(before, ensure_ascii=False),
            None if after is None else json.dumps(after, ensure_ascii=False),
        ],
    )


def entries(
    db: Database,
    site_key: str | None = None,
    actor: str | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[dict[str, Any]]:
    """Newest first; `before_id` pages backwards."""
    where: list[str] = []
    params: list[str | int] = []
    if site_key:
        where.append("site_key = ?")
        params.append(site_key)
    if actor:
        where.append("actor = ?")
        params.append(actor)
    if before_id:
        where.append("id < ?")
        params.append(before_id)
    sql = (
        "SELECT id, at, actor, action, object_type, object_key, site_key, before, after "
        "FROM audit_log"
    )
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY id DESC LIMIT ?"
    params.append(limit)
    out = []
    for row in db.execute(sql, params).fetchall():
        item = dict(
            zip(
                (
                    "id",
                    "at",
                    "actor",
                    "action",
                    "object_type",
                    "object_key",
                    "site_key",
                    "before",
                    "after",
                ),
                row,
                strict=True,
            )
        )
        for field in ("before", "after"):
            item[field] = None if item[field] is None else json.loads(item[field])
        out.append(item)
    return out


def count_before(db: Database, before: str) -> int:
    return int(db.execute("SELECT COUNT(*) FROM audit_log WHERE at < ?", [before]).fetchone()[0])


def purge(db: Database, before: str, batch: int) -> Iterator[int]:
    """Delete the entries older than `before` (ISO time), oldest first, in short transactions."""
    while True:
        with write(db):
            count = db.execute(
                "DELETE FROM audit_log WHERE id IN "
                "(SELECT id FROM audit_log WHERE at < ? ORDER BY id LIMIT ?)",
                [before, batch],
            ).rowcount
        if count:
            yield count
        if count < batch:
            return
