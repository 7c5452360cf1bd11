"""The disclosure as JSON: GET /api/v1/sites/<site_key>/disclosure[?revision=N]."""

from __future__ import annotations

from flask import current_app, request

from ..db import get_db
from ..errors import ApiError
from ..storage import registry as registry_store
from . import bp
from .pages import load_disclosure, parse_revision


@bp.get("/api/v1/sites/<site_key>/disclosure")
def disclosure_json(site_key):
    number = parse_revision(request.args.get("revision"))
    if number is False:
        raise ApiError(400, "invalid_revision", "revision: must be a revision number (from 1)")
    db = get_db()
    doc = load_disclosure(db, site_key, number)
    if doc is None:
        if registry_store.site_origins(db, site_key) is None:
            raise ApiError(404, "unknown_site", f"No site '{site_key}'.")
        if number is None:
            raise ApiError(404, "not_published", f"Site '{site_key}' has no published revision.")
        raise ApiError(404, "unknown_revision", f"Site '{site_key}' has no revision {number}.")
    response = current_app.json.response(doc)
    response.headers["Cache-Control"] = "public, max-age=60"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
