"""Consent figures from the daily rollups: pure arithmetic, no database access."""

from __future__ import annotations

from datetime import date, timedelta

ACTIONS = ("accept_all", "reject_all", "custom", "withdraw", "dismiss")


def day_range(first: date, last: date) -> list[str]:
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def summarize(days: list[str], daily_rows, optin_rows, revision_keys: dict[int, dict]) -> dict:
    """Figures for a range of days.

    daily_rows: (day, revision, action, decisions); optin_rows: (revision, kind, key, accepted);
    revision_keys: {revision: {"category": [keys], "vendor": [keys]}}, so that an opt-in rate
    only counts the decisions of revisions in which that category or vendor existed.
    """
    per_day = {day: dict.fromkeys(ACTIONS, 0) for day in days}
    per_revision: dict[int, dict] = {}
    for day, revision, action, count in daily_rows:
        if day in per_day and action in ACTIONS:
            per_day[day][action] += count
            per_revision.setdefault(revision, dict.fromkeys(ACTIONS, 0))[action] += count
    revision_totals = {rev: sum(c.values()) for rev, c in per_revision.items()}
    accepted: dict[tuple, dict[int, int]] = {}
    for revision, kind, key, count in optin_rows:
        accepted.setdefault((kind, key), {})[revision] = count

    def rates(kind):
        keys = []
        for rev in sorted(revision_keys):
            keys += [k for k in revision_keys[rev].get(kind, []) if k not in keys]
        out = []
        for key in keys:
            by_rev, acc_sum, total_sum = {}, 0, 0
            for rev in sorted(per_revision):
                if key not in revision_keys.get(rev, {}).get(kind, []):
                    continue
                acc, total = accepted.get((kind, key), {}).get(rev, 0), revision_totals[rev]
                by_rev[rev] = (acc / total if total else 0.0, acc, total)
                acc_sum, total_sum = acc_sum + acc, total_sum + total
            out.append(
                {
                    "key": key,
                    "rate": acc_sum / total_sum if total_sum else 0.0,
                    "accepted": acc_sum,
                    "decisions": total_sum,
                    "by_revision": by_rev,
                }
            )
        return out

    total = sum(revision_totals.values())
    overall = {a: sum(c[a] for c in per_day.values()) for a in ACTIONS}
    return {
        "days": [{"day": day, "total": sum(c.values()), **c} for day, c in per_day.items()],
        "revisions": [
            {"revision": rev, "total": revision_totals[rev], **counts}
            for rev, counts in sorted(per_revision.items())
        ],
        "total": total,
        "overall": overall,
        "categories": rates("category"),
        "vendors": rates("vendor"),
    }


def regimes(split: dict[str, dict[str, int]]) -> list[dict]:
    """Rows of the "By regime" table from storage's {regime: {action: decisions}}."""
    return [
        {"regime": regime, "total": sum(counts.values()), **{a: counts.get(a, 0) for a in ACTIONS}}
        for regime, counts in split.items()
    ]


def share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "–"
