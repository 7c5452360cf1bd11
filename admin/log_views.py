"""Read-only pages over the logs: consent figures, the consent log and its export, the audit log."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from flask import abort, current_app, render_template, request

from server import exports
from server.db import get_db
from server.storage import audit as audit_store
from server.storage import decisions as decision_log
from server.storage import figures as figures_store
from server.storage import registry as registry_store
from server.storage import revisions as revision_store

from . import bp, charts, diff_view
from .auth import requires
from .figures import ACTIONS, day_range, regimes, share, summarize
from .i18n import gettext as _
from .i18n import pick

MAX_DAYS = 400


def _site_or_404(key):
    site = registry_store.get_site(get_db(), key)
    if site is None:
        abort(404)
    return site


MAX_ID = 2**63  # database integers end here


def _date_arg(name):
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return False
    # Days far from now are no range anyone means, and would overflow date arithmetic.
    return day if date(1970, 1, 1) <= day <= date(9000, 12, 31) else False


def _range(default_days=30):
    """(first, last, error) from ?from=&to= (inclusive dates, UTC days)."""
    today = datetime.now(UTC).date()
    first, last = _date_arg("from"), _date_arg("to")
    error = None
    if first is False or last is False:
        error = _("Dates must look like 2026-01-31.")
    elif first and last and first > last:
        error = _("The first day must not be after the last day.")
    elif first and last and (last - first).days >= MAX_DAYS:
        error = _("Choose at most {n} days.", n=MAX_DAYS)
    if error or (not first and not last):
        return today - timedelta(days=default_days - 1), today, error
    last = last or min(first + timedelta(days=default_days - 1), today)
    first = first or last - timedelta(days=default_days - 1)
    return first, last, None


@bp.get("/sites/<key>/figures")
@requires("viewer")
def figures(key):
    site = _site_or_404(key)
    db = get_db()
    first, last, error = _range()
    days = day_range(first, last)
    daily = figures_store.daily(db, key, days[0], days[-1])
    optins = figures_store.optins(db, key, days[0], days[-1])
    names, revision_keys = {"category": {}, "vendor": {}}, {}
    for number in sorted({row[1] for row in daily}):
        revision = revision_store.get(db, key, number)
        if revision is None:
            continue
        content = revision["content"]
        revision_keys[number] = {
            "category": [c["key"] for c in content["categories"] if not c["required"]],
            "vendor": [v["key"] for v in content["vendors"]],
        }
        names["category"].update({c["key"]: pick(c["name"]) for c in content["categories"]})
        names["vendor"].update({v["key"]: v["name"] for v in content["vendors"]})
    result = summarize(days, daily, optins, revision_keys)
    result["regimes"] = regimes(figures_store.by_regime(db, key, days[0], days[-1]))
    labels = {
        "accept_all": _("Accept all"),
        "reject_all": _("Reject all"),
        "custom": _("Custom"),
        "withdraw": _("Withdrawn"),
        "dismiss": _("Dismissed"),
    }
    regime_labels = {
        "opt_in": _("Opt-in"),
        "opt_out": _("Opt-out"),
        "notice": _("Notice"),
    }
    day_keys = [d["day"] for d in result["days"]]
    svg = {
        "counts": charts.counts(
            _("Decisions per day"), day_keys, [d["total"] for d in result["days"]]
        ),
        "shares": charts.shares(
            _("Shares of accept all, reject all and custom per day"),
            day_keys,
            {a: [d[a] for d in result["days"]] for a in ACTIONS},
            labels,
        ),
        "categories": charts.rates(
            _("Opt-in rate per category"),
            [(names["category"].get(c["key"], c["key"]), c["rate"]) for c in result["categories"]],
        ),
        "vendors": charts.rates(
            _("Opt-in rate per vendor"),
            [(names["vendor"].get(v["key"], v["key"]), v["rate"]) for v in result["vendors"]],
        ),
    }
    return render_template(
        "admin/figures.html",
        site=site,
        tab="figures",
        first=days[0],
        last=days[-1],
        error=error,
        r=result,
        svg=svg,
        labels=labels,
        regime_labels=regime_labels,
        names=names,
        share=share,
        actions=ACTIONS,
        colours=charts.ACTION_COLOURS,
    ), 400 if error else 200


@bp.get("/consents")
@requires("viewer")
def consents():
    db = get_db()
    consent_id = request.args.get("consent_id", "").strip()
    sites = registry_store.site_keys(db)
    found = []
    if consent_id:
        found = decision_log.for_consent_any_site(db, consent_id)
    today = datetime.now(UTC).date()
    return render_template(
        "admin/consents.html",
        consent_id=consent_id,
        found=found,
        sites=sites,
        today=today.isoformat(),
        month_ago=(today - timedelta(days=30)).isoformat(),
    )


@bp.get("/consents/export")
@requires("viewer")
def consents_export():
    db = get_db()
    site_key = request.args.get("site", "")
    if site_key not in registry_store.site_keys(db):
        abort(404)
    fmt = request.args.get("format", "csv")
    first, last = _date_arg("from"), _date_arg("to")
    if fmt not in exports.FORMATS or first is False or last is False:
        abort(400)
    since = f"{first.isoformat()}T00:00:00.000Z" if first else None
    until = f"{(last + timedelta(days=1)).isoformat()}T00:00:00.000Z" if last else None
    return exports.response(current_app.config["DATABASE"], site_key, fmt, since, until)


def _full_text(value):
    # Sorted keys, so that the same document always reads the same.
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True)


@bp.get("/audit")
@requires("viewer")
def audit():
    db = get_db()
    site_key = request.args.get("site") or None
    actor = request.args.get("actor", "").strip() or None
    try:
        before_id = int(request.args["before_id"]) if request.args.get("before_id") else None
    except ValueError:
        abort(400)
    if before_id is not None and not 1 <= before_id < MAX_ID:
        abort(400)
    entries = audit_store.entries(db, site_key=site_key, actor=actor, limit=50, before_id=before_id)
    for entry in entries:
        # What was created or deleted (or published) is new as a whole: its JSON says it all.
        listed = entry["action"] == "update" or None not in (entry["before"], entry["after"])
        entry["differences"] = (
            diff_view.differences(entry["before"], entry["after"], limit=300) if listed else []
        )
        entry["before_text"] = _full_text(entry["before"])
        entry["after_text"] = _full_text(entry["after"])
    return render_template(
        "admin/audit.html",
        entries=entries,
        site_key=site_key or "",
        actor=actor or "",
        sites=registry_store.site_keys(db),
        older=entries[-1]["id"] if len(entries) == 50 else None,
    )
