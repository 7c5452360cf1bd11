"""The admin API's scans: start one in the background, list them, read one while it runs.

Routes on the admin API's blueprint, so that its token check and roles apply: only admins
and editors may POST.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, g, request, url_for

from ..admin_api import bp
from ..db import get_db
from ..errors import ApiError
from ..services import registry
from ..storage import scans as store
from . import jobs

Json = dict[str, Any]


def summary(scan: Json) -> Json:
    """A stored scan as the API shows it in a list."""
    return {
        "id": scan["id"],
        "site": scan["site_key"],
        "revision": scan["revision"],
        "state": scan["state"],
        "progress": {"pages_done": scan["pages_done"], "pages_total": scan["pages_total"]},
        "options": scan["options"],
        "requested_by": scan["requested_by"],
        "created_at": scan["created_at"],
        "started_at": scan["started_at"],
        "finished_at": scan["finished_at"],
        "leaks": scan["leaks"],
        "finding_count": scan["findings"],
        "error": scan["error"],
    }


def detail(scan: Json) -> Json:
    """A stored scan with its report's pages, findings and counts once it is done."""
    result = scan.get("result") or {}
    return {
        **summary(scan),
        "scanned_at": result.get("scanned_at"),
        # The regime the pages were checked under: the scanned region's (options.region),
        # else the site's default; null until the scan is done.
        "regime": result.get("regime"),
        "counts": result.get("counts"),
        "findings": result.get("findings", []),
        "pages": result.get("pages", []),
    }


@bp.post("/sites/<site_key>/scans")
def start_scan(site_key):
    if request.get_data(cache=True).strip():
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise ApiError(
                400, "invalid_json", "Send a JSON object with Content-Type: application/json."
            )
    else:
        body = {}  # no body: the site's root pages, the default page limit
    db = get_db()
    scan = jobs.start(db, current_app.config["DATABASE"], site_key, body, g.actor)
    response = current_app.json.response(detail(scan))
    response.status_code = 202
    response.headers["Location"] = url_for(
        "admin_api.get_scan", site_key=site_key, scan_id=scan["id"]
    )
    return response


@bp.get("/sites/<site_key>/scans")
def list_scans(site_key):
    db = get_db()
    registry.require_site(db, site_key)
    return current_app.json.response([summary(s) for s in store.history(db, site_key)])


@bp.get(f"/sites/<site_key>/scans/<int(min=1, max={2**63 - 1}):scan_id>")
def get_scan(site_key, scan_id):
    db = get_db()
    registry.require_site(db, site_key)
    scan = store.get(db, site_key, scan_id)
    if scan is None:
        raise ApiError(404, "not_found", f"No scan {scan_id} of site '{site_key}'.")
    return current_app.json.response(detail(scan))
