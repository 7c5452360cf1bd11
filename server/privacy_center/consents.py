"""The visitor's own page: their decisions under a consent id, with withdraw and erase.

The receipt reaches the server only in a POST body (the widget's link carries it in the URL
fragment, which browsers never send), so it never appears in a URL or a server log line.
"""

from __future__ import annotations

from flask import current_app, request, url_for

from .. import decisions as rules
from ..db import get_db
from ..i18n import text_in
from ..storage import decisions as log
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


def withdrawal(revision: dict, lang: str) -> dict:
    """The body of a withdrawal for `revision`: every optional category refused."""
    content = revision["content"]
    body = {
        "revision": revision["number"],
        "action": "withdraw",
        "categories": {c["key"]: False for c in content["categories"] if not c["required"]},
    }
    if lang in content["site"]["languages"]:
        body["language"] = lang
    return body


def _record_withdrawal(db, site_key: str, consent_id: str, lang: str) -> None:
    revision = revision_store.get(db, site_key)
    choice = rules.validate(withdrawal(revision, lang), revision)
    secret = current_app.config["SECRET_KEY"]
    log.record(
        db,
        site_key,
        consent_id,
        choice,
        request.headers.get("User-Agent"),
        rules.client_hash(secret, request.remote_addr),
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
    for item in log.for_consent(db, consent_id, site_key):
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
    secret = current_app.config["SECRET_KEY"]
    return {
        "decisions": rows,
        "erasures": log.erasures(db, rules.consent_hash(secret, consent_id), site_key),
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
    site_key = rules.Receipts(current_app.config["SECRET_KEY"]).check(receipt, consent_id)
    if site_key is None:
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
        if log.exists(db, consent_id, site_key) and revision_store.get(db, site_key):
            _record_withdrawal(db, site_key, consent_id, lang)
            message = ("done_withdraw", 0)
        else:
            message = ("nothing_to_withdraw", 0)
    elif action == "erase":
        # A reload re-sends the form: erasing nothing must not leave another erasure record.
        if log.exists(db, consent_id, site_key):
            secret = current_app.config["SECRET_KEY"]
            count = log.erase(db, consent_id, site_key, rules.consent_hash(secret, consent_id))
            message = ("done_erase", count)
        else:
            message = ("nothing_to_erase", 0)
    records = _records(db, site_key, consent_id, lang)
    return _page(lang, consent_id, view="records", receipt=receipt, message=message, **records)
