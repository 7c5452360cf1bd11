"""The admin API: the registry, publishing, the consent log and the audit log, for token holders."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from flask import Blueprint, Response, current_app, g, request

from . import exports
from .db import get_db
from .errors import ApiError, error_response
from .services import registry
from .services.errors import Invalid, ServiceError
from .storage import accounts, audit, figures
from .storage import registry as registry_store
from .storage import revisions as revision_store

bp = Blueprint("admin_api", __name__, url_prefix="/api/v1/admin")
WRITE_ROLES = ("admin", "editor")


@bp.errorhandler(ServiceError)
def service_error(error: ServiceError):
    """A refused command as the JSON error shape: 404, 409 or 400 naming each field."""
    if isinstance(error, Invalid):
        return error_response(400, "invalid", "; ".join(error.relative_problems()))
    return error_response(error.status, error.code, error.message)


@bp.before_request
def authenticate():
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.startswith("Bearer ") else None
    holder = accounts.check_token(get_db(), token) if token else None
    if holder is None:
        raise ApiError(
            401, "unauthorized", "Send a valid admin token as 'Authorization: Bearer ...'."
        )
    if request.method not in ("GET", "HEAD") and holder["role"] not in WRITE_ROLES:
        raise ApiError(403, "forbidden", f"Role '{holder['role']}' may only read.")
    g.actor = f"token:{holder['name']}"


def _json_body() -> dict:
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # "[[[[…": not a body anyone means
        body = None
    if not isinstance(body, dict):
        raise ApiError(
            400, "invalid_json", "Send a JSON object with Content-Type: application/json."
        )
    return body


def _created(value, status=201):
    response = current_app.json.response(value)
    response.status_code = status
    return response


def _merge() -> bool:
    """PATCH merges the body into what is stored; PUT replaces it."""
    return request.method == "PATCH"


# Organization


@bp.get("/organization")
def get_organization():
    return current_app.json.response(registry_store.organization(get_db()) or {})


@bp.route("/organization", methods=["PUT", "PATCH"])
def put_organization():
    org = registry.update_organization(get_db(), _json_body(), g.actor, merge=_merge())
    return current_app.json.response(org)


# Vendors


@bp.get("/vendors")
def list_vendors():
    return current_app.json.response(registry.list_vendors(get_db(), request.args.get("q", "")))


@bp.get("/vendors/<vendor_key>")
def get_vendor(vendor_key):
    return current_app.json.response(registry.get_vendor(get_db(), vendor_key))


@bp.post("/vendors")
def create_vendor():
    return _created(registry.create_vendor(get_db(), _json_body(), g.actor))


@bp.route("/vendors/<vendor_key>", methods=["PUT", "PATCH"])
def update_vendor(vendor_key):
    vendor = registry.update_vendor(get_db(), vendor_key, _json_body(), g.actor, merge=_merge())
    return current_app.json.response(vendor)


@bp.delete("/vendors/<vendor_key>")
def delete_vendor(vendor_key):
    registry.delete_vendor(get_db(), vendor_key, g.actor)
    return Response(status=204)


# Sites


@bp.get("/sites")
def list_sites():
    return current_app.json.response(registry_store.list_sites(get_db()))


@bp.get("/sites/<site_key>")
def get_site(site_key):
    return current_app.json.response(registry.get_site(get_db(), site_key))


@bp.post("/sites")
def create_site():
    return _created(registry.create_site(get_db(), _json_body(), g.actor))


@bp.route("/sites/<site_key>", methods=["PUT", "PATCH"])
def update_site(site_key):
    site = registry.update_site(get_db(), site_key, _json_body(), g.actor, merge=_merge())
    return current_app.json.response(site)


@bp.delete("/sites/<site_key>")
def delete_site(site_key):
    registry.delete_site(get_db(), site_key, g.actor)
    return Response(status=204)


# Categories of a site


@bp.get("/sites/<site_key>/categories")
def list_categories(site_key):
    return current_app.json.response(registry.get_site(get_db(), site_key)["categories"])


@bp.get("/sites/<site_key>/categories/<category_key>")
def get_category(site_key, category_key):
    return current_app.json.response(registry.get_category(get_db(), site_key, category_key))


@bp.post("/sites/<site_key>/categories")
def create_category(site_key):
    body = _json_body()
    position = body.pop("position", None)
    category = registry.create_category(get_db(), site_key, body, g.actor, position=position)
    return _created(category)


@bp.route("/sites/<site_key>/categories/<category_key>", methods=["PUT", "PATCH"])
def update_category(site_key, category_key):
    body = _json_body()
    position = body.pop("position", None)
    category = registry.update_category(
        get_db(), site_key, category_key, body, g.actor, merge=_merge(), position=position
    )
    return current_app.json.response(category)


@bp.delete("/sites/<site_key>/categories/<category_key>")
def delete_category(site_key, category_key):
    registry.delete_category(get_db(), site_key, category_key, g.actor)
    return Response(status=204)


# Assignments: vendors placed in a site's categories


@bp.get("/sites/<site_key>/vendors")
def list_assignments(site_key):
    return current_app.json.response(registry.get_site(get_db(), site_key)["vendors"])


@bp.get("/sites/<site_key>/vendors/<vendor_key>")
def get_assignment(site_key, vendor_key):
    return current_app.json.response(registry.get_assignment(get_db(), site_key, vendor_key))


@bp.post("/sites/<site_key>/vendors")
def create_assignment(site_key):
    body = _json_body()
    assignment = registry.create_assignment(
        get_db(), site_key, body.get("vendor"), body.get("category"), g.actor
    )
    return _created(assignment)


@bp.route("/sites/<site_key>/vendors/<vendor_key>", methods=["PUT", "PATCH"])
def update_assignment(site_key, vendor_key):
    body = _json_body()
    if body.get("vendor", vendor_key) != vendor_key:
        raise ApiError(400, "invalid", "vendor: cannot be changed; assign the other vendor instead")
    assignment = registry.update_assignment(
        get_db(), site_key, vendor_key, body.get("category"), g.actor
    )
    return current_app.json.response(assignment)


@bp.delete("/sites/<site_key>/vendors/<vendor_key>")
def delete_assignment(site_key, vendor_key):
    registry.delete_assignment(get_db(), site_key, vendor_key, g.actor)
    return Response(status=204)


# Publishing and revisions


@bp.post("/sites/<site_key>/publish")
def publish(site_key):
    revision, created = registry.publish(get_db(), site_key, g.actor)
    return _published(revision, created)


def _published(revision, created):
    body = {
        k: revision[k]
        for k in (
            "number",
            "content_hash",
            "needs_decision",
            "consent_revision",
            "changes",
            "published_at",
            "published_by",
        )
    }
    body["created"] = created
    return _created(body, 201 if created else 200)


@bp.get("/sites/<site_key>/revisions")
def list_revisions(site_key):
    db = get_db()
    registry.require_site(db, site_key)
    return current_app.json.response(revision_store.history(db, site_key))


@bp.post(f"/sites/<site_key>/revisions/<int(min=1, max={2**63 - 1}):number>/rollback")
def rollback(site_key, number):
    """Publish an earlier revision's content again, as a new revision."""
    revision, created = registry.rollback(get_db(), site_key, number, g.actor)
    return _published(revision, created)


# The consent log and the audit log

ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]00:?00)?\Z")


def _time_arg(name):
    value = request.args.get(name)
    if value is None or value == "":
        return None
    if not ISO_TIME.match(value):
        raise ApiError(
            400, "invalid", f"{name}: must be an ISO 8601 UTC time, e.g. 2026-01-31T00:00:00Z"
        )
    try:
        return exports.normalise_time(value)
    except ValueError:
        raise ApiError(400, "invalid", f"{name}: {value} is not a possible date and time") from None


@bp.get("/sites/<site_key>/decisions")
def export_decisions(site_key):
    registry.require_site(get_db(), site_key)
    fmt = request.args.get("format", "jsonl")
    if fmt not in exports.FORMATS:
        raise ApiError(400, "invalid", "format: must be csv or jsonl")
    since, until = _time_arg("since"), _time_arg("until")
    return exports.response(current_app.config["DATABASE"], site_key, fmt, since, until)


FIGURES_MAX_DAYS = 400


def _day_arg(name: str, default: date) -> date:
    value = request.args.get(name) or ""
    if not value:
        return default
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise ApiError(400, "invalid", f"{name}: must be a day, e.g. 2026-01-31") from None


@bp.get("/sites/<site_key>/figures")
def site_figures(site_key: str):
    """Decisions per action and per regime over a range of UTC days (default: the last 30),
    from the daily rollups, never the log."""
    db = get_db()
    registry.require_site(db, site_key)
    today = datetime.now(UTC).date()
    last = _day_arg("to", today)
    first = _day_arg("from", last - timedelta(days=29))
    if first > last:
        raise ApiError(400, "invalid", "from: must not be after to")
    if (last - first).days >= FIGURES_MAX_DAYS:
        raise ApiError(400, "invalid", f"from, to: at most {FIGURES_MAX_DAYS} days")
    split = figures.by_regime(db, site_key, first.isoformat(), last.isoformat())
    actions: dict[str, int] = {}
    for counts in split.values():
        for action, count in counts.items():
            actions[action] = actions.get(action, 0) + count
    return current_app.json.response(
        {
            "site": site_key,
            "from": first.isoformat(),
            "to": last.isoformat(),
            "total": sum(actions.values()),
            "actions": actions,
            "regimes": {
                regime: {"total": sum(counts.values()), "actions": counts}
                for regime, counts in split.items()
            },
        }
    )


@bp.get("/audit")
def audit_log():
    try:
        limit = int(request.args.get("limit", 100))
        before_id = int(request.args["before_id"]) if request.args.get("before_id") else None
    except ValueError:
        raise ApiError(400, "invalid", "limit and before_id: must be whole numbers") from None
    if not 1 <= limit <= 1000 or not 1 <= (before_id or 1) < 2**63:
        raise ApiError(400, "invalid", "limit: from 1 to 1000; before_id: a positive entry id")
    return current_app.json.response(
        audit.entries(
            get_db(),
            site_key=request.args.get("site"),
            actor=request.args.get("actor"),
            limit=limit,
            before_id=before_id,
        )
    )


# Scans (issue 9): their routes live with the scanner and register on this blueprint.
from .scanner import api as _scan_api  # noqa: E402, F401
