"""The consent log: recording, reading, exporting and erasing decisions."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import figures
from .engine import Database
from .schema import write
from .util import iso_to_ms, ms_to_iso, now_iso

if TYPE_CHECKING:
    from ..decisions import Choice

EXPORT_COLUMNS = (
    "consent_id",
    "site_key",
    "revision",
    "action",
    "categories",
    "vendors",
    "language",
    "page_url",
    "gpc",
    "recorded_at",
    "user_agent",
    "client_hash",
    "regime",
    "region",
)


def consent_lock(site_key: str, consent_id: str) -> str:
    """The lock of a consent id's records: its decisions and its erasure never interleave."""
    return f"consent:{site_key}:{consent_id}"


def request_lock(site_key: str, request_id: str) -> str:
    """The lock of a request_id: of two posts with one id, one records, the other replays."""
    return f"request:{site_key}:{request_id}"


def _bits(choices: Mapping[str, bool]) -> str:
    """Choices as a string of 0/1 in the revision's order: ~10 bytes instead of ~200 of JSON.

    A revision never changes, so its order of categories and vendors decodes this forever.
    """
    return "".join("1" if accepted else "0" for accepted in choices.values())


def record(
    db: Database,
    site_key: str,
    consent_id: str,
    choice: Choice,
    user_agent: str | None,
    client_hash: str | None,
) -> str:
    """Store one decision; returns its server time. Committed before returning.

    The time is taken once the write lock is held, so it never reads earlier than a write
    (an erasure) that committed before it.
    """
    with write(db, consent_lock(site_key, consent_id)):
        stamp = now_iso()
        ua_id = None
        if user_agent:
            user_agent = user_agent[:512]
            # The id is derived from the text, so storing it once is one statement, no lookup.
            ua_id = int.from_bytes(hashlib.sha256(user_agent.encode()).digest()[:7], "big")
            db.execute_late(
                "INSERT INTO user_agents (id, value, uses) VALUES (?, ?, 1) "
                "ON CONFLICT (id) DO UPDATE SET uses = user_agents.uses + 1",
                [(ua_id, user_agent)],
            )
        # Written at the commit on PostgreSQL (`execute_late`), in this order: the user agent
        # (which the row's foreign key needs), the row, its rollups.
        db.execute_late(
            "INSERT INTO decisions (consent_id, site_key, revision, action, categories, vendors, "
            "language, page_url, gpc, recorded_at, user_agent_id, client_hash, regime, region) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    consent_id,
                    site_key,
                    choice["revision"],
                    choice["action"],
                    _bits(choice["categories"]),
                    _bits(choice["vendors"]),
                    choice["language"],
                    choice["page_url"],
                    int(choice["gpc"]),
                    iso_to_ms(stamp),
                    ua_id,
                    client_hash,
                    # .get: choices built before regimes (benchmarks, tests) record null, as opt_in.
                    choice.get("regime"),
                    choice.get("region"),
                )
            ],
        )
        figures.recorded(
            db,
            site_key,
            stamp,
            choice["revision"],
            choice["action"],
            choice["categories"],
            choice["vendors"],
            regime=choice.get("regime"),
        )
    return stamp


def find_request(
    db: Database, site_key: str, request_id: str, since: str
) -> tuple[str, int, dict[str, Any]] | None:
    """The first answer to `request_id` on the site since `since` (ISO): (fingerprint, status,
    body), or None. Read inside the decision's write transaction, so two posts cannot both miss.
    """
    row = db.execute(
        "SELECT fingerprint, status, body FROM decision_requests "
        "WHERE site_key = ? AND request_id = ? AND created_at >= ?",
        [site_key, request_id, iso_to_ms(since)],
    ).fetchone()
    return None if row is None else (row[0], row[1], json.loads(row[2]))


def remember_request(
    db: Database,
    site_key: str,
    request_id: str,
    fingerprint: str,
    status: int,
    body: Mapping[str, Any],
    at: str,
) -> None:
    """Keep the answer to `request_id`; an expired answer to the same id gives way to it."""
    db.execute(
        "INSERT INTO decision_requests (site_key, request_id, created_at, fingerprint, status, "
        "body) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (site_key, request_id) DO UPDATE SET "
        "created_at = excluded.created_at, fingerprint = excluded.fingerprint, "
        "status = excluded.status, body = excluded.body",
        [
            site_key,
            request_id,
            iso_to_ms(at),
            fingerprint,
            status,
            json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        ],
    )


def purge_request_ids(db: Database, before: str, batch_size: int = 5000) -> int:
    """Delete the answers kept for retries that were first given before `before` (ISO 8601).

    In batches, each its own short transaction, so that decisions keep being recorded meanwhile.
    Returns how many were deleted.
    """
    limit, total = iso_to_ms(before), 0
    while True:
        with write(db):
            count = db.execute(
                "DELETE FROM decision_requests WHERE id IN (SELECT id FROM decision_requests "
                "WHERE created_at < ? LIMIT ?)",
                [limit, batch_size],
            ).rowcount
        total += count
        if count < batch_size:
            return total


def _select(
    db: Database, where: str, params: Sequence[object], order: str = "d.id", stream: bool = False
) -> Iterator[dict[str, Any]]:
    sql = (
        "SELECT d.consent_id, d.site_key, d.revision, d.action, d.categories, d.vendors, "
        "d.language, d.page_url, d.gpc, d.recorded_at, u.value, d.client_hash, "
        "COALESCE(d.regime, 'opt_in'), d.region "
        "FROM decisions d LEFT JOIN user_agents u ON u.id = d.user_agent_id "
        f"WHERE {where} ORDER BY {order}"
    )
    keys = figures.RevisionKeys(db)
    for row in db.iterate(sql, params) if stream else db.execute(sql, params):
        item = dict(zip(EXPORT_COLUMNS, row, strict=True))
        category_keys, vendor_keys = keys(item["site_key"], item["revision"])
        item["categories"] = figures.unbits(category_keys, item["categories"])
        item["vendors"] = figures.unbits(vendor_keys, item["vendors"])
        item["gpc"] = bool(item["gpc"])
        item["recorded_at"] = ms_to_iso(item["recorded_at"])
        yield item


def for_consent(db: Database, consent_id: str, site_key: str) -> list[dict[str, Any]]:
    return list(_select(db, "d.consent_id = ? AND d.site_key = ?", [consent_id, site_key]))


def for_consent_any_site(db: Database, consent_id: str) -> list[dict[str, Any]]:
    """A consent id's decisions on whichever site, oldest first (the admin's lookup): one
    query by the consent index, not one per site."""
    return list(_select(db, "d.consent_id = ?", [consent_id], order="d.recorded_at, d.id"))


def exists(db: Database, consent_id: str, site_key: str) -> bool:
    return (
        db.execute(
            "SELECT 1 FROM decisions WHERE consent_id = ? AND site_key = ? LIMIT 1",
            [consent_id, site_key],
        ).fetchone()
        is not None
    )


def export(
    db: Database, site_key: str, since: str | None = None, until: str | None = None
) -> Iterator[dict[str, Any]]:
    """Every decision of a site in time order, as an iterator (for streaming)."""
    where: list[str] = ["d.site_key = ?"]
    params: list[str | int] = [site_key]
    if since:
        where.append("d.recorded_at >= ?")
        params.append(iso_to_ms(since))
    if until:
        where.append("d.recorded_at < ?")
        params.append(iso_to_ms(until))
    return _select(db, " AND ".join(where), params, order="d.recorded_at, d.id", stream=True)


def erase(db: Database, consent_id: str, site_key: str, consent_hash: str) -> int:
    """Delete a consent id's decisions, keeping only the fact and time of the erasure.

    Every statement goes by the consent index or by primary key, so the cost is that of the
    consent id's own rows, however large the site's log (tests/test_erase_large.py).
    """
    with write(db, consent_lock(site_key, consent_id)):
        rows = db.execute(
            "SELECT id, revision, action, categories, vendors, recorded_at, user_agent_id, regime "
            "FROM decisions WHERE consent_id = ? AND site_key = ?",
            [consent_id, site_key],
        ).fetchall()
        keys = figures.RevisionKeys(db)
        agents: Counter[int] = Counter()
        counted = figures.cursor(db)  # SQLite: the decisions above it are not counted in yet
        for row_id, revision, action, categories, vendors, recorded_at, ua_id, regime in rows:
            if ua_id is not None:
                agents[ua_id] += 1
            if counted is not None and row_id > counted:
                continue
            category_keys, vendor_keys = keys(site_key, revision)
            figures.add(
                db,
                site_key,
                ms_to_iso(recorded_at),
                revision,
                action,
                figures.unbits(category_keys, categories),
                figures.unbits(vendor_keys, vendors),
                sign=-1,
                regime=regime,
            )
        # By id and time: on PostgreSQL the time names the one month partition to look in.
        db.executemany(
            "DELETE FROM decisions WHERE id = ? AND recorded_at = ?",
            [(row[0], row[5]) for row in rows],
        )
        figures.after_delete(db)
        # A rare user agent could single a visitor out: it goes with their last decision.
        release_agents(db, agents, delete_unused=True)
        db.execute(
            "INSERT INTO erasures (consent_hash, site_key, decisions_erased, erased_at) "
            "VALUES (?, ?, ?, ?)",
            [consent_hash, site_key, len(rows), now_iso()],
        )
    return len(rows)


def release_agents(db: Database, agents: Mapping[int, int], delete_unused: bool) -> None:
    """Count deleted decisions out of their user agents, by id; drop those left unused."""
    db.executemany(
        "UPDATE user_agents SET uses = uses - ? WHERE id = ?",
        [(uses, ua_id) for ua_id, uses in agents.items()],
    )
    if delete_unused:
        # The foreign-key check of this delete looks the id up in decisions_user_agent.
        db.executemany(
            "DELETE FROM user_agents WHERE id = ? AND uses <= 0", [(ua_id,) for ua_id in agents]
        )


def erasures(db: Database, consent_hash: str, site_key: str) -> list[dict[str, Any]]:
    return [
        {"erased_at": at, "decisions_erased": n}
        for at, n in db.execute(
            "SELECT erased_at, decisions_erased FROM erasures WHERE consent_hash = ? AND site_key = ? "
            "ORDER BY id",
            [consent_hash, site_key],
        )
    ]


def rebuild_figures(db: Database) -> None:
    """Recount the daily rollups from the whole log (after a migration or a repair)."""
    db.execute("DELETE FROM figures_daily")
    db.execute("DELETE FROM figures_optins")
    db.execute("DELETE FROM figures_regimes")
    for item in list(_select(db, "1 = 1", [], stream=True)):
        figures.add(
            db,
            item["site_key"],
            item["recorded_at"],
            item["revision"],
            item["action"],
            item["categories"],
            item["vendors"],
            regime=item["regime"],
        )
    if "figures_cursor" in db.table_names():  # else migration step 13 makes it so
        figures.all_counted(db)


# Retention (`privacy-center purge`): each step in short write transactions of at most `batch`
# rows, so that decisions recorded meanwhile wait for one batch at most. The daily figures
# (figures_daily, figures_optins) are kept: they hold no visitor data.

PURGE_BATCH = 5000


def purge_cache(db: Database, mebibytes: int = 64) -> None:
    """A larger page cache for a purge's connection: a batch's dirty index pages stay in
    memory until its commit instead of spilling to the WAL midway (about twice as fast)."""
    db.bulk_cache(mebibytes)


def count_before(db: Database, site_key: str, before: str) -> tuple[int, int]:
    """(decisions, erasure records) of the site older than `before` (ISO time)."""
    decisions = db.execute(
        "SELECT COUNT(*) FROM decisions WHERE site_key = ? AND recorded_at < ?",
        [site_key, iso_to_ms(before)],
    ).fetchone()[0]
    erased = db.execute(
        "SELECT COUNT(*) FROM erasures WHERE site_key = ? AND erased_at < ?", [site_key, before]
    ).fetchone()[0]
    return decisions, erased


def purge_decisions(
    db: Database, site_key: str, before: str, batch: int = PURGE_BATCH
) -> Iterator[int]:
    """Delete the site's decisions older than `before`, oldest first; yields each batch's count.

    Their user agents are counted out; `purge_user_agents` deletes the ones left unused.
    """
    cutoff = iso_to_ms(before)
    # The figures keep what is purged: whatever is not counted in yet is counted in first.
    figures.catch_up(db)
    while True:
        with write(db):
            rows = db.execute(
                "SELECT id, recorded_at, user_agent_id FROM decisions "
                "WHERE site_key = ? AND recorded_at < ? ORDER BY recorded_at LIMIT ?",
                [site_key, cutoff, batch],
            ).fetchall()
            # In row order: the oldest rows are mostly neighbours in the table. By id and time:
            # on PostgreSQL the time names the one month partition to look in.
            db.executemany(
                "DELETE FROM decisions WHERE id = ? AND recorded_at = ?",
                sorted((row[0], row[1]) for row in rows),
            )
            release_agents(
                db, Counter(ua for _id, _at, ua in rows if ua is not None), delete_unused=False
            )
            figures.after_delete(db)
        if rows:
            yield len(rows)
        if len(rows) < batch:
            return


def purge_erasures(
    db: Database, site_key: str, before: str, batch: int = PURGE_BATCH
) -> Iterator[int]:
    """Delete the site's erasure records older than `before`; yields each batch's count."""
    while True:
        with write(db):
            count = db.execute(
                "DELETE FROM erasures WHERE id IN (SELECT id FROM erasures "
                "WHERE site_key = ? AND erased_at < ? ORDER BY erased_at LIMIT ?)",
                [site_key, before, batch],
            ).rowcount
        if count:
            yield count
        if count < batch:
            return


_UNUSED_AGENT = "NOT EXISTS (SELECT 1 FROM decisions d WHERE d.user_agent_id = user_agents.id)"


def unused_user_agents(db: Database, cutoffs: Mapping[str, str] | None = None) -> int:
    """How many user agents no decision uses, or none would once `cutoffs` were purged.

    `cutoffs` maps a site to the ISO time before which its decisions would be deleted.
    """
    if not cutoffs:
        return int(
            db.execute(f"SELECT COUNT(*) FROM user_agents WHERE {_UNUSED_AGENT}").fetchone()[0]
        )
    values = ", ".join("(?, ?)" for _ in cutoffs)
    params: list[str | int] = []
    for site_key, before in cutoffs.items():
        params += [site_key, iso_to_ms(before)]
    return int(
        db.execute(
            f"WITH cut (site_key, before) AS (VALUES {values}) "
            "SELECT COUNT(*) FROM user_agents WHERE NOT EXISTS (SELECT 1 FROM decisions d "
            "LEFT JOIN cut c ON c.site_key = d.site_key WHERE d.user_agent_id = user_agents.id "
            "AND (c.before IS NULL OR d.recorded_at >= c.before))",
            params,
        ).fetchone()[0]
    )


def purge_user_agents(db: Database, batch: int = PURGE_BATCH) -> Iterator[int]:
    """Delete the user agents no decision uses any more; yields each batch's count."""
    candidates = [
        ua_id for (ua_id,) in db.execute(f"SELECT id FROM user_agents WHERE {_UNUSED_AGENT}")
    ]
    for start in range(0, len(candidates), batch):
        with write(db):
            # Checked again inside the write: a decision may have taken it up meanwhile.
            count = sum(
                db.execute(
                    f"DELETE FROM user_agents WHERE id = ? AND {_UNUSED_AGENT}", [ua_id]
                ).rowcount
                for ua_id in candidates[start : start + batch]
            )
        if count:
            yield count
