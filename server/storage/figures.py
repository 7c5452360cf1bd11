"""Daily rollups of the consent log, kept in step with it, and the aggregate reads of the figures page.

Every decision adds one to its (site, day, revision, action) count, one to its (site, day,
regime, action) count and one to each category and vendor it accepted; an erasure takes the same amounts away. The figures page then reads a
few hundred rollup rows for a month instead of scanning millions of decisions.

On SQLite the decisions are counted in after they are written, many at a time (`catch_up`):
a decision's own transaction writes only the decision, not three or four rollup rows, which
are the same few rows for every decision of a site's day (docs/admin.md, "Consent figures").
`figures_cursor` holds the highest decision id counted in; SQLite commits one writer at a
time, so every decision above it is one not yet counted. The process that records decisions
counts them in every CATCH_UP_EVERY decisions, and every read of the figures first counts in
what is left, so what is read is always exact. PostgreSQL commits many transactions at once,
in any order of their ids: there each decision's transaction counts it in itself, as before.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from .engine import Database
from .schema import write
from .util import ms_to_iso

# Decisions recorded by one process between two counts (SQLite): each count reads them back
# and adds them in with one statement per rollup row they touch.
CATCH_UP_EVERY = 256
CATCH_UP_BATCH = 10_000
_recorded = 0

# (site_key, day, revision, action) and (site_key, day, revision, kind, key): rollup row keys.
Daily = tuple[str, str, int, str]
Optin = tuple[str, str, int, str, str]


def _deltas(
    site_key: str,
    day: str,
    revision: int,
    action: str,
    categories: Mapping[str, bool],
    vendors: Mapping[str, bool],
) -> tuple[Daily, list[Optin]]:
    daily = (site_key, day, revision, action)
    optins = [(site_key, day, revision, "category", key) for key, on in categories.items() if on]
    optins += [(site_key, day, revision, "vendor", key) for key, on in vendors.items() if on]
    return daily, optins


class RevisionKeys:
    """The category and vendor keys of each revision, in order, loaded once per query."""

    def __init__(self, db: Database):
        self.db = db
        self.known: dict[tuple[str, int], tuple[list[str], list[str]]] = {}

    def __call__(self, site_key: str, number: int) -> tuple[list[str], list[str]]:
        key = (site_key, number)
        if key not in self.known:
            row = self.db.execute(
                "SELECT content FROM revisions WHERE site_key = ? AND number = ?",
                [site_key, number],
            ).fetchone()
            content = json.loads(row[0]) if row else {"categories": [], "vendors": []}
            self.known[key] = (
                [c["key"] for c in content["categories"]],
                [v["key"] for v in content["vendors"]],
            )
        return self.known[key]


def unbits(keys: Iterable[str], bits: str) -> dict[str, bool]:
    """Stored choices (a string of 0/1 in the revision's order) as {key: accepted}."""
    return {key: bit == "1" for key, bit in zip(keys, bits, strict=False)}


def deferred(db: Database) -> bool:
    """Whether decisions are counted in after they are written (SQLite), not by their own
    transaction (PostgreSQL)."""
    return db.serial_writes


def recorded(
    db: Database,
    site_key: str,
    recorded_at: str,
    revision: int,
    action: str,
    categories: Mapping[str, bool],
    vendors: Mapping[str, bool],
    regime: str | None,
) -> None:
    """A decision was just written in the open transaction: count it in now (PostgreSQL), or
    let a later `catch_up` do it, which this process runs every CATCH_UP_EVERY decisions."""
    global _recorded
    if not deferred(db):
        add(db, site_key, recorded_at, revision, action, categories, vendors, regime=regime)
        return
    _recorded += 1
    if _recorded >= CATCH_UP_EVERY:
        _recorded = 0
        catch_up(db)


def cursor(db: Database) -> int | None:
    """The highest decision id counted in (SQLite); None where every decision is (PostgreSQL)."""
    if not deferred(db):
        return None
    row = db.execute("SELECT id FROM figures_cursor").fetchone()
    return int(row[0]) if row else 0


def pending(db: Database) -> bool:
    """Whether decisions wait to be counted in (a read, no lock)."""
    return deferred(db) and (
        db.execute(
            "SELECT 1 FROM decisions WHERE id > (SELECT id FROM figures_cursor) LIMIT 1"
        ).fetchone()
        is not None
    )


def catch_up(db: Database) -> int:
    """Count in every decision not counted yet (SQLite; nothing on PostgreSQL), in the open
    write transaction or in its own: how many."""
    if not deferred(db):
        return 0
    total = 0
    with write(db):
        while True:
            counted = roll_up(db, cursor(db) or 0, CATCH_UP_BATCH)
            total += counted
            if counted < CATCH_UP_BATCH:
                return total


def roll_up(db: Database, after: int, limit: int | None = None) -> int:
    """Count in the decisions with an id above `after` (the first `limit` of them) and move
    the cursor past them; inside a write transaction. How many were counted."""
    rows = db.execute(
        "SELECT id, site_key, recorded_at, revision, action, categories, vendors, regime "
        "FROM decisions WHERE id > ? ORDER BY id" + (f" LIMIT {int(limit)}" if limit else ""),
        [after],
    ).fetchall()
    if not rows:
        return 0
    keys = RevisionKeys(db)
    daily: Counter[Daily] = Counter()
    regimes: Counter[tuple[str, str, str, str]] = Counter()
    optins: Counter[Optin] = Counter()
    for _id, site_key, at, revision, action, categories, vendors, regime in rows:
        category_keys, vendor_keys = keys(site_key, revision)
        day = ms_to_iso(at)[:10]
        row_daily, row_optins = _deltas(
            site_key,
            day,
            revision,
            action,
            unbits(category_keys, categories),
            unbits(vendor_keys, vendors),
        )
        daily[row_daily] += 1
        regimes[(site_key, day, regime or "opt_in", action)] += 1
        optins.update(row_optins)
    _upsert(db, daily, regimes, optins)
    if deferred(db):
        db.execute("UPDATE figures_cursor SET id = ?", [rows[-1][0]])
    return len(rows)


def after_delete(db: Database) -> None:
    """After decisions were deleted (an erasure, a purge), in that transaction: SQLite gives a
    new row the highest id left plus one, which must not be at or below the cursor."""
    if deferred(db):
        db.execute(
            "UPDATE figures_cursor SET id = MIN(id, (SELECT COALESCE(MAX(id), 0) FROM decisions))"
        )


def all_counted(db: Database) -> None:
    """Every decision is in the figures (rebuilt, or copied whole): the cursor moves to the
    last one (SQLite)."""
    if deferred(db):
        db.execute("UPDATE figures_cursor SET id = (SELECT COALESCE(MAX(id), 0) FROM decisions)")


def settle_copy(db: Database, source_cursor: int | None) -> None:
    """After a copy into `db` (in its transaction): the source had counted in the decisions up
    to `source_cursor` (None: all of them); the copy's figures say the same."""
    if source_cursor is None:
        all_counted(db)
        return
    if deferred(db):
        db.execute("UPDATE figures_cursor SET id = ?", [source_cursor])
    else:
        roll_up(db, source_cursor)


def _upsert(
    db: Database,
    daily: Mapping[Daily, int],
    regimes: Mapping[tuple[str, str, str, str], int],
    optins: Mapping[Optin, int],
) -> None:
    """Add counts to the rollup rows: one statement a row, however many decisions it counts."""
    for sql, counts in (
        (
            "INSERT INTO figures_daily (site_key, day, revision, action, decisions) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (site_key, day, revision, action) "
            "DO UPDATE SET decisions = figures_daily.decisions + ?",
            daily,
        ),
        (
            "INSERT INTO figures_regimes (site_key, day, regime, action, decisions) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (site_key, day, regime, action) "
            "DO UPDATE SET decisions = figures_regimes.decisions + ?",
            regimes,
        ),
        (
            "INSERT INTO figures_optins (site_key, day, revision, kind, key, accepted) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (site_key, day, revision, kind, key) "
            "DO UPDATE SET accepted = figures_optins.accepted + ?",
            optins,
        ),
    ):
        rows = [(*key, n, n) for key, n in counts.items() if n]
        if rows:
            db.execute_late(sql, rows)


def add(
    db: Database,
    site_key: str,
    recorded_at: str,
    revision: int,
    action: str,
    categories: Mapping[str, bool],
    vendors: Mapping[str, bool],
    sign: int = 1,
    regime: str | None = None,
) -> None:
    """Count one decision in (sign=1) or out (sign=-1); call inside the transaction that writes it.

    `regime` None: a decision recorded before regimes existed, counted as opt_in.
    """
    daily, optins = _deltas(site_key, recorded_at[:10], revision, action, categories, vendors)
    # These rows are shared by every decision of the site's day: on PostgreSQL written at the
    # commit, so that their locks are held for the commit alone (Database.execute_late).
    _upsert(
        db,
        {daily: sign},
        {(site_key, recorded_at[:10], regime or "opt_in", action): sign},
        dict.fromkeys(optins, sign),
    )


def daily(db: Database, site_key: str, first_day: str, last_day: str) -> list[tuple[Any, ...]]:
    """(day, revision, action, decisions) for the days from first_day to last_day, inclusive."""
    _current(db)
    return db.execute(
        "SELECT day, revision, action, decisions FROM figures_daily "
        "WHERE site_key = ? AND day BETWEEN ? AND ? AND decisions > 0 ORDER BY day, revision",
        [site_key, first_day, last_day],
    ).fetchall()


def optins(db: Database, site_key: str, first_day: str, last_day: str) -> list[tuple[Any, ...]]:
    """(revision, kind, key, accepted) summed over the days from first_day to last_day."""
    _current(db)
    return db.execute(
        "SELECT revision, kind, key, CAST(SUM(accepted) AS BIGINT) FROM figures_optins "
        "WHERE site_key = ? AND day BETWEEN ? AND ? GROUP BY revision, kind, key "
        "ORDER BY revision, kind, key",
        [site_key, first_day, last_day],
    ).fetchall()


def by_regime(
    db: Database, site_key: str, first_day: str, last_day: str
) -> dict[str, dict[str, int]]:
    """{regime: {action: decisions}} summed over the days from first_day to last_day, for the
    regimes that have decisions (opt_in, opt_out, notice first, in that order)."""
    _current(db)
    rows = db.execute(
        "SELECT regime, action, SUM(decisions) FROM figures_regimes "
        "WHERE site_key = ? AND day BETWEEN ? AND ? GROUP BY regime, action "
        "HAVING SUM(decisions) > 0",
        [site_key, first_day, last_day],
    ).fetchall()
    order = ("opt_in", "opt_out", "notice")
    out: dict[str, dict[str, int]] = {}
    for regime, action, count in sorted(
        rows, key=lambda r: (order.index(r[0]) if r[0] in order else len(order), r[0], r[1])
    ):
        out.setdefault(str(regime), {})[str(action)] = int(count)
    return out


def last_day(db: Database, site_key: str) -> str | None:
    _current(db)
    row = db.execute("SELECT MAX(day) FROM figures_daily WHERE site_key = ?", [site_key]).fetchone()
    day: str | None = row[0]
    return day


def _current(db: Database) -> None:
    """Before a read of the figures: every decision counted in (SQLite)."""
    if pending(db):
        catch_up(db)
