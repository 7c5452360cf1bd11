"""The privacy center's public pages: the front page, each site's disclosure, and gpc.json."""

from __future__ import annotations

import re

from flask import current_app, request
from markdown_it import MarkdownIt
from markupsafe import Markup

from ..db import get_db
from ..i18n import text_in
from ..storage import registry as registry_store
from ..storage import revisions as revision_store
from . import bp, not_found, render, visitor_language
from .disclosure import change_lines, consent_model, disclosure, grouped

# Raw HTML off: an admin's Markdown can format text and link, never inject markup or script.
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


def markdown(text: str) -> Markup:
    return Markup(_markdown.render(text or ""))


def published_sites(db) -> list[dict]:
    """Each published site's latest revision content, in key order."""
    out = []
    for key in revision_store.published_sites(db):
        revision = revision_store.get(db, key)
        out.append({"key": key, "name": revision["content"]["site"]["name"], "revision": revision})
    return out


@bp.get("/")
def index():
    lang = visitor_language()
    db = get_db()
    organization = registry_store.organization(db) or {}
    sections = [
        {
            "key": s["key"],
            "title": text_in(s["title"], lang),
            "body": markdown(text_in(s["body"], lang)),
        }
        for s in organization.get("sections") or []
    ]
    return render(
        "privacy_center/index.html",
        lang,
        organization=organization,
        sections=sections,
        sites=published_sites(db),
    )


def load_disclosure(db, site_key: str, number: int | None) -> dict | None:
    revision = revision_store.get(db, site_key, number)
    if revision is None:
        return None
    return disclosure(revision, revision_store.history(db, site_key))


def parse_revision(value: str | None) -> int | None | bool:
    """`?revision=N` as a number, None when absent, False when it is not a revision number."""
    if value is None or value == "":
        return None
    # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
    if not re.fullmatch(r"[0-9]{1,9}", value) or int(value) < 1:
        return False
    return int(value)


@bp.get("/sites/<site_key>/disclosure")
def site_disclosure(site_key):
    lang = visitor_language()
    number = parse_revision(request.args.get("revision"))
    if number is False:
        return not_found(lang)
    db = get_db()
    doc = load_disclosure(db, site_key, number)
    if doc is None:
        return not_found(lang)
    category_names = {c["key"]: c["name"] for c in doc["categories"]}
    if doc["revision"] != doc["latest_revision"]:
        latest = revision_store.get(db, site_key)
        category_names = {
            **{c["key"]: c["name"] for c in latest["content"]["categories"]},
            **category_names,
        }
    history = [
        {**item, "lines": change_lines(item["changes"], lang, category_names)}
        for item in doc["history"]
    ]
    return render(
        "privacy_center/disclosure.html",
        lang,
        doc=doc,
        groups=grouped(doc),
        history=history,
        consent=consent_model(doc["regimes"]),
        routes={item["vendor"]: item for item in (doc["opt_out"] or {}).get("vendors", [])},
        gpc_refuses=[
            text_in(c["name"], lang)
            for c in doc["categories"]
            if c["key"] in (doc["opt_out"] or {}).get("gpc_refuses", [])
        ],
        site_name=text_in(doc["site"]["name"], lang),
        organization=doc["organization"],
    )


@bp.get("/.well-known/gpc.json")
def gpc_json():
    """Global Privacy Control support resource: true when any published site honours GPC."""
    db = get_db()
    honouring = [
        site["revision"]
        for site in published_sites(db)
        if site["revision"]["content"]["site"].get("honor_gpc")
    ]
    stamps = [revision["published_at"] for revision in honouring]
    body = {"gpc": bool(honouring)}
    if stamps:
        body["lastUpdate"] = max(stamps)[:10]
    response = current_app.json.response(body)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
