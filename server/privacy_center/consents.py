"""The visitor's own page: their decisions under a consent id, with withdraw and erase.

The receipt reaches the server only in a POST body (the widget's link carries it in the URL
fragment, which browsers never send), so it never appears in a URL or a server log line.
"""

from __future__ import annotations

from flask import current_app, request, url_for

from .. import decisions as rules
from .. import regions
from ..db import get_db
from ..i18n import text_in
from ..services import decisions as decision_service
from ..services.errors import NotFound, Refused
from ..storage import revisions as revision_store
from . import bp, not_found, render, visitor_language

NO_STORE = {"Cache-Control": "no-store"}


def _receipt_from_form() -> str:
    """The pasted receipt; the whole link is accepted too, as visitors paste what they have."""
    value = (request.form.get("receipt") or "").strip()
    if "#r=" in value:
        value = value.split("#r=", 1)[1]
    return value[:512]


def _page(lang, consent_id, status=200, **context):
    post_url = url_for("privacy_center.consent_records", consent_id=consent_id, lang=lang)
    html, status, headers = render(
        "privacy_center/consent.html",
        lang,
        status,
        consent_id=consent_id,
        post_url=post_url,
        **context,
    )
    return html, status, {**headers, **NO_STORE}


def _visitor() -> decision_service.Visitor:
    return decision_service.Visitor(
        user_agent=request.headers.get("User-Agent"),
        remote_addr=request.remote_addr,
        region=regions.request_region(),
    )


def _in_order(choices: dict, items: list[dict], name) -> list[tuple[str, bool]]:
    """(name, accepted) in the revision's own order, as the banner listed them."""
    known = {item["key"]: item for item in items}
    ordered = [key for key in known if key in choices]
    ordered += sorted(key for key in choices if key not in known)
    return [(name(known[key]) if key in known else key, choices[key]) for key in ordered]


def _records(db, site_key: str, consent_id: str, lang: str) -> dict:
    """The consent id's decisions, each with the category and vendor names of its revision."""
    revisions: dict[int, dict | None] = {}
    rows = []
    secret = current_app.config["SECRET_KEY"]
    found = decision_service.records(db, secret, site_key, consent_id)
    for item in found["decisions"]:
        number = item["revision"]
        if number not in revisions:
            revisions[number] = revision_store.get(db, site_key, number)
        content = (revisions[number] or {}).get("content") or {"categories": [], "vendors": []}
        rows.append(
            {
                **item,
                "category_choices": _in_order(
                    item["categories"], content["categories"], lambda c: text_in(c["name"], lang)
                ),
                "vendor_choices": _in_order(
                    item["vendors"], content["vendors"], lambda v: v["name"]
                ),
            }
        )
    latest = revision_store.get(db, site_key)
    return {
        "decisions": rows,
        "erasures": found["erasures"],
        "site_key": site_key,
        "site_name": text_in(latest["content"]["site"]["name"], lang) if latest else site_key,
        "organization": latest["content"]["organization"] if latest else None,
    }


@bp.get("/consents/<consent_id>")
def consent_page(consent_id):
    lang = visitor_language()
    if not rules.CONSENT_ID.match(consent_id):
        return not_found(lang)
    return _page(lang, consent_id, view="ask")


@bp.post("/consents/<consent_id>")
def consent_records(consent_id):
    lang = visitor_language()
    if not rules.CONSENT_ID.match(consent_id):
        return not_found(lang)
    receipt = _receipt_from_form()
    secret = current_app.config["SECRET_KEY"]
    try:
        site_key = decision_service.check_receipt(secret, consent_id, receipt)
    except Refused:
        return _page(lang, consent_id, 403, view="ask", error="bad_receipt")
    db = get_db()
    action = request.form.get("do")
    confirmed = request.form.get("confirm") == "yes"
    message = None
    if action in ("withdraw", "erase") and not confirmed:
        records = _records(db, site_key, consent_id, lang)
        if action == "withdraw" and not records["decisions"]:
            message = ("nothing_to_withdraw", 0)
        else:
            return _page(
                lang, consent_id, view="confirm", action=action, receipt=receipt, **records
            )
    elif action == "withdraw":
        try:
            decision_service.withdraw(db, secret, site_key, consent_id, receipt, lang, _visitor())
            message = ("done_withdraw", 0)
        except (NotFound, Refused):  # nothing recorded under it, or erased since
            message = ("nothing_to_withdraw", 0)
    elif action == "erase":
        count = decision_service.erase(db, secret, site_key, consent_id)
        message = ("done_erase", count) if count else ("nothing_to_erase", 0)
    records = _records(db, site_key, consent_id, lang)
    return _page(lang, consent_id, view="records", receipt=receipt, message=message, **records)
