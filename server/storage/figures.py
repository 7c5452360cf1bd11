"""Daily rollups of the consent log, kept in step with it, and the aggregate reads of the figures page.

Every decision adds one to its (site, day, revision, action) count, one to its (site, day,
regime, action) count and one to each category and vendor it accepted; an erasure takes the same amounts away. The figures page then reads a
few hundred rollup rows for a month instead of scanning millions of decisions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .engine import Database

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
    db.execute_late(
        "INSERT INTO figures_daily (site_key, day, revision, action, decisions) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (site_key, day, revision, action) "
        "DO UPDATE SET decisions = figures_daily.decisions + ?",
        [(*daily, sign, sign)],
    )
    db.execute_late(
        "INSERT INTO figures_regimes (site_key, day, regime, action, decisions) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (site_key, day, regime, action) "
        "DO UPDATE SET decisions = figures_regimes.decisions + ?",
        [(site_key, recorded_at[:10], regime or "opt_in", action, sign, sign)],
    )
    if optins:
        db.execute_late(
            "INSERT INTO figures_optins (site_key, day, revision, kind, key, accepted) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (site_key, day, revision, kind, key) "
            "DO UPDATE SET accepted = figures_optins.accepted + ?",
            [(*row, sign, sign) for row in optins],
        )


def daily(db: Database, site_key: str, first_day: str, last_day: str) -> list[tuple[Any, ...]]:
    """(day, revision, action, decisions) for the days from first_day to last_day, inclusive."""
    return db.execute(
        "SELECT day, revision, action, decisions FROM figures_daily "
        "WHERE site_key = ? AND day BETWEEN ? AND ? AND decisions > 0 ORDER BY day, revision",
        [site_key, first_day, last_day],
    ).fetchall()


def optins(db: Database, site_key: str, first_day: str, last_day: str) -> list[tuple[Any, ...]]:
    """(revision, kind, key, accepted) summed over the days from first_day to last_day."""
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
    row = db.execute("SELECT MAX(day) FROM figures_daily WHERE site_key = ?", [site_key]).fetchone()
    day: str | None = row[0]
    return day
