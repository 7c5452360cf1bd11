"""Retention: deleting what is older than each site's `retention_days` (`privacy-center purge`).

Decisions and erasure records go by site, each after its own period (or before one date for
every site); user agents once no decision uses them; the audit log after its own, longer period
(a deployment setting). Everything is deleted in short write transactions of at most `batch`
rows, so that decisions recorded meanwhile wait for one batch at most. The daily figures are kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..exports import normalise_time
from ..registry import DEFAULT_RETENTION_DAYS
from ..storage import audit as audit_store
from ..storage import decisions as log
from ..storage import partitions
from ..storage import registry as registry_store
from ..storage.engine import Database
from ..storage.util import iso_to_ms, ms_to_iso, now_iso
from .errors import Invalid, NotFound

# Who changed what a visitor was shown is the proof behind every decision: kept longer.
DEFAULT_AUDIT_RETENTION_DAYS = 3650


@dataclass
class SitePurge:
    """One site: what is deleted before when, and (once run or counted) how much."""

    site_key: str
    before: str  # ISO time, UTC
    retention_days: int | None  # None when a date was given
    consent_max_age_days: int
    decisions: int = 0
    erasures: int = 0

    @property
    def within_consent_lifetime(self) -> bool:
        """True when the cutoff is later than the consent lifetime: consents in force go too."""
        return self.before > days_ago(self.consent_max_age_days)


@dataclass
class Purge:
    sites: list[SitePurge]
    audit_before: str
    audit_entries: int = 0
    user_agents: int = 0
    request_ids: int = 0
    batches: list[int] = field(default_factory=list)
    # PostgreSQL: month partitions of the log dropped whole (or, on a dry run, that would be).
    partitions: list[str] = field(default_factory=list)


def days_ago(days: float) -> str:
    return ms_to_iso(int((time.time() - days * 86400) * 1000))


def parse_before(value: str) -> str:
    """`--before`: an ISO 8601 date or time (UTC unless it says otherwise), not in the future."""
    try:
        before = normalise_time(value)
    except ValueError:
        raise Invalid(
            [f"before: '{value}' is not an ISO 8601 date or time, e.g. 2024-01-31"]
        ) from None
    if before > now_iso():
        raise Invalid([f"before: {before} is in the future; nothing recorded yet is that old"])
    return before


def plan(
    db: Database,
    before: str | None = None,
    site_keys: list[str] | None = None,
    audit_retention_days: int = DEFAULT_AUDIT_RETENTION_DAYS,
) -> Purge:
    """What a purge deletes: per site, before `before` (ISO) or after its retention_days."""
    known = registry_store.site_keys(db)
    for key in site_keys or []:
        if key not in known:
            raise NotFound("site", key)
    sites = []
    for key in site_keys or known:
        site = registry_store.get_site(db, key) or {}
        days = int(site.get("retention_days") or DEFAULT_RETENTION_DAYS)
        sites.append(
            SitePurge(
                key,
                before or days_ago(days),
                None if before else days,
                int(site.get("consent_max_age_days") or 0),
            )
        )
    return Purge(sites, days_ago(audit_retention_days))


def count(db: Database, purge: Purge) -> Purge:
    """Fill in how much `run` would delete, changing nothing (`--dry-run`)."""
    for site in purge.sites:
        site.decisions, site.erasures = log.count_before(db, site.site_key, site.before)
    purge.user_agents = log.unused_user_agents(db, {s.site_key: s.before for s in purge.sites})
    purge.audit_entries = audit_store.count_before(db, purge.audit_before)
    purge.partitions = [m.name for m in partitions.expired(db, _cutoffs(purge))]
    return purge


def _cutoffs(purge: Purge) -> dict[str, int]:
    return {site.site_key: iso_to_ms(site.before) for site in purge.sites}


def run(
    db: Database,
    purge: Purge,
    batch: int = log.PURGE_BATCH,
    progress: Callable[[str, int], None] | None = None,
) -> Purge:
    """Delete what `purge` names, in batches of at most `batch` rows; fills in the counts."""

    def note(what: str, n: int) -> int:
        purge.batches.append(n)
        if progress is not None:
            progress(what, n)
        return n

    log.purge_cache(db)
    # Retry ids (issue 11 item 10) only serve the retries of one day; they go first, before
    # the decisions they may point to.
    purge.request_ids = log.purge_request_ids(db, days_ago(1), batch)
    # PostgreSQL: whole months first (stray rows of the default partition moved into theirs),
    # each dropped only if every decision in it is past its site's cutoff; the rest row by row.
    partitions.ensure(db)
    cutoffs = _cutoffs(purge)
    for month in list(partitions.expired(db, cutoffs)):
        dropped = partitions.drop(db, month, cutoffs)
        if dropped is None:
            continue
        purge.partitions.append(month.name)
        for site in purge.sites:
            site.decisions += dropped.get(site.site_key, 0)
    for site in purge.sites:
        site.decisions += sum(
            note(site.site_key, n)
            for n in log.purge_decisions(db, site.site_key, site.before, batch)
        )
        site.erasures = sum(
            note(site.site_key, n)
            for n in log.purge_erasures(db, site.site_key, site.before, batch)
        )
    purge.user_agents = sum(note("user agents", n) for n in log.purge_user_agents(db, batch))
    purge.audit_entries = sum(
        note("audit log", n) for n in audit_store.purge(db, purge.audit_before, batch)
    )
    return purge
