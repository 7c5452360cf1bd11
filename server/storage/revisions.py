"""Published revisions: immutable, numbered snapshots of a site's registry."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from .. import revisions as compiler
from . import registry as registry_store
from .audit import record as audit
from .engine import Cursor, Database
from .schema import write
from .util import now_iso

COLUMNS = (
    "site_key",
    "number",
    "content",
    "content_hash",
    "needs_decision",
    "consent_revision",
    "changes",
    "published_at",
    "published_by",
)


class NotFound(LookupError):
    pass


Json = dict[str, Any]


def _row(row: Sequence[Any]) -> Json:
    out = dict(zip(COLUMNS, row, strict=True))
    out["content"] = json.loads(out["content"])
    out["changes"] = json.loads(out["changes"])
    out["needs_decision"] = bool(out["needs_decision"])
    return out


def _select(
    db: Database, where: str, params: list[Any], columns: Sequence[str] = COLUMNS
) -> Cursor:
    return db.execute(f"SELECT {', '.join(columns)} FROM revisions WHERE {where}", params)


def latest_number(db: Database, site_key: str) -> int | None:
    row = db.execute("SELECT MAX(number) FROM revisions WHERE site_key = ?", [site_key]).fetchone()
    return int(row[0]) if row[0] is not None else None


def get(db: Database, site_key: str, number: int | None = None) -> Json | None:
    """A revision by number, or the latest one; None if there is none."""
    if number is None:
        row = _select(db, "site_key = ? ORDER BY number DESC LIMIT 1", [site_key]).fetchone()
    else:
        row = _select(db, "site_key = ? AND number = ?", [site_key, number]).fetchone()
    return _row(row) if row else None


def history(db: Database, site_key: str) -> list[Json]:
    """Every revision of a site, newest first, without its content."""
    cols = (
        "number",
        "content_hash",
        "needs_decision",
        "consent_revision",
        "changes",
        "published_at",
        "published_by",
    )
    out = []
    for row in _select(db, "site_key = ? ORDER BY number DESC", [site_key], cols):
        item = dict(zip(cols, row, strict=True))
        item["changes"] = json.loads(item["changes"])
        item["needs_decision"] = bool(item["needs_decision"])
        out.append(item)
    return out


def compile_current(db: Database, site_key: str) -> Json:
    """The content a revision of the site's current registry would have."""
    site = registry_store.get_site(db, site_key)
    if site is None:
        raise NotFound(site_key)
    keys = [a["vendor"] for a in site["vendors"]]
    vendors = {v["key"]: v for v in registry_store.list_vendors(db, keys)}
    return compiler.compile_site(site, registry_store.organization(db), vendors)


def publish(
    db: Database, site_key: str, actor: str, content: Json | None = None
) -> tuple[Json, bool]:
    """Publish the site's registry (or `content`, for a rollback) as a new revision.

    Returns (revision, created); publishing content equal to the latest revision creates nothing.
    """
    with write(db, "registry"):
        if content is None:
            content = compile_current(db, site_key)
        digest = compiler.content_hash(content)
        previous = get(db, site_key)
        if previous is not None and previous["content_hash"] == digest:
            return previous, False
        changes = compiler.diff(previous["content"] if previous else None, content)
        needs = compiler.needs_decision(changes)
        number = (previous["number"] + 1) if previous else 1
        consent_revision = number if needs or previous is None else previous["consent_revision"]
        stamp = now_iso()
        db.execute(
            f"INSERT INTO revisions ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
            [
                site_key,
                number,
                json.dumps(content, ensure_ascii=False, sort_keys=True),
                digest,
                int(needs),
                consent_revision,
                json.dumps(changes, ensure_ascii=False),
                stamp,
                actor,
            ],
        )
        audit(
            db,
            actor,
            "publish",
            "revision",
            str(number),
            site_key,
            None,
            {"number": number, "content_hash": digest, "needs_decision": needs},
            at=stamp,
        )
        published = get(db, site_key, number)
        assert published is not None  # written just above, in this transaction
        return published, True


def published_sites(db: Database) -> list[str]:
    return [
        key for (key,) in db.execute("SELECT DISTINCT site_key FROM revisions ORDER BY site_key")
    ]


def head(db: Database, site_key: str, number: int | None = None) -> tuple[int, str] | None:
    """(number, content_hash) of a revision or of the latest one: cheap, for cache keys."""
    columns = ("number", "content_hash")
    params: list[Any]
    if number is None:
        where, params = "site_key = ? ORDER BY number DESC LIMIT 1", [site_key]
    else:
        where, params = "site_key = ? AND number = ?", [site_key, number]
    row = _select(db, where, params, columns).fetchone()
    return (int(row[0]), str(row[1])) if row else None
