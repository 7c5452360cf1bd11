"""The admin API: the registry, publishing, the consent log and the audit log, for token holders."""

from __future__ import annotations

import re

from flask import Blueprint, Response, current_app, g, request

from . import exports
from .db import get_db
from .errors import ApiError
from .registry import RegistryError
from .storage import accounts, audit
from .storage import registry as registry_store
from .storage import revisions as revision_store

bp = Blueprint("admin_api", __name__, url_prefix="/api/v1/admin")
WRITE_ROLES = ("admin", "editor")


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


def _find(items, key, what, field="key"):
    for index, item in enumerate(items):
        if item.get(field) == key:
            return index, item
    raise ApiError(404, "not_found", f"No {what} '{key}'.")


def _change(mutate):
    """Edit the registry through `mutate(doc)`; 400 with every problem, by field, if invalid."""
    try:
        return registry_store.change(get_db(), mutate, g.actor)
    except RegistryError as error:
        prefix = error.prefix
        problems = [
            p[len(prefix) + 1 :] if prefix and p.startswith(prefix + ".") else p
            for p in error.problems
        ]
        raise ApiError(400, "invalid", "; ".join(problems)) from None


def _site(doc, site_key):
    return _find(doc["sites"], site_key, "site")


def _with_key(body, key):
    if "key" in body and body["key"] != key:
        raise ApiError(400, "invalid", "key: cannot be changed; create a new one instead")
    return {**body, "key": key}


def _created(value, status=201):
    response = current_app.json.response(value)
    response.status_code = status
    return response


# Organization


@bp.get("/organization")
def get_organization():
    return current_app.json.response(registry_store.organization(get_db()) or {})


@bp.route("/organization", methods=["PUT", "PATCH"])
def put_organization():
    body = _json_body()

    def mutate(doc):
        doc["organization"] = (
            {**(doc.get("organization") or {}), **body} if request.method == "PATCH" else body
        )
        return "organization"

    return current_app.json.response(_change(mutate)["organization"])


# Vendors


@bp.get("/vendors")
def list_vendors():
    vendors = registry_store.load(get_db())["vendors"]
    query = request.args.get("q", "").lower()
    if query:
        vendors = [
            v
            for v in vendors
            if query in v["key"] or query in v["name"].lower() or query in v["recipient"].lower()
        ]
    return current_app.json.response(vendors)


@bp.get("/vendors/<vendor_key>")
def get_vendor(vendor_key):
    key = vendor_key
    return current_app.json.response(
        _find(registry_store.load(get_db())["vendors"], key, "vendor")[1]
    )


@bp.post("/vendors")
def create_vendor():
    body = _json_body()

    def mutate(doc):
        if any(v["key"] == body.get("key") for v in doc["vendors"]):
            raise ApiError(409, "exists", f"Vendor '{body.get('key')}' already exists.")
        doc["vendors"].append(body)
        return f"vendors[{len(doc['vendors']) - 1}]"

    doc = _change(mutate)
    return _created(_find(doc["vendors"], body["key"], "vendor")[1])


@bp.route("/vendors/<vendor_key>", methods=["PUT", "PATCH"])
def update_vendor(vendor_key):
    key = vendor_key
    body = _with_key(_json_body(), key)

    def mutate(doc):
        index, vendor = _find(doc["vendors"], key, "vendor")
        doc["vendors"][index] = {**vendor, **body} if request.method == "PATCH" else body
        return f"vendors[{index}]"

    return current_app.json.response(_find(_change(mutate)["vendors"], key, "vendor")[1])


@bp.delete("/vendors/<vendor_key>")
def delete_vendor(vendor_key):
    key = vendor_key
    db = get_db()
    users = registry_store.vendor_users(db, key)
    if users:
        raise ApiError(
            409,
            "in_use",
            f"Vendor '{key}' is still assigned to site(s) "
            f"{', '.join(users)}; remove it from them first.",
        )

    def mutate(doc):
        index, _ = _find(doc["vendors"], key, "vendor")
        del doc["vendors"][index]
        return ""

    _change(mutate)
    return Response(status=204)


# Sites


@bp.get("/sites")
def list_sites():
    return current_app.json.response(registry_store.load(get_db())["sites"])


@bp.get("/sites/<site_key>")
def get_site(site_key):
    return current_app.json.response(_site(registry_store.load(get_db()), site_key)[1])


@bp.post("/sites")
def create_site():
    body = _json_body()

    def mutate(doc):
        if any(s["key"] == body.get("key") for s in doc["sites"]):
            raise ApiError(409, "exists", f"Site '{body.get('key')}' already exists.")
        doc["sites"].append(body)
        return f"sites[{len(doc['sites']) - 1}]"

    return _created(_site(_change(mutate), body["key"])[1])


@bp.route("/sites/<site_key>", methods=["PUT", "PATCH"])
def update_site(site_key):
    body = _with_key(_json_body(), site_key)

    def mutate(doc):
        index, site = _site(doc, site_key)
        if request.method == "PATCH":
            doc["sites"][index] = {**site, **body}
        else:
            doc["sites"][index] = {
                "categories": site["categories"],
                "vendors": site["vendors"],
                **body,
            }
        return f"sites[{index}]"

    return current_app.json.response(_site(_change(mutate), site_key)[1])


@bp.delete("/sites/<site_key>")
def delete_site(site_key):
    db = get_db()
    if revision_store.latest_number(db, site_key) is not None:
        raise ApiError(
            409,
            "published",
            f"Site '{site_key}' has published revisions and cannot "
            "be deleted; its consent log must stay provable.",
        )

    def mutate(doc):
        index, _ = _site(doc, site_key)
        del doc["sites"][index]
        return ""

    _change(mutate)
    return Response(status=204)


# Categories of a site


@bp.get("/sites/<site_key>/categories")
def list_categories(site_key):
    return current_app.json.response(
        _site(registry_store.load(get_db()), site_key)[1]["categories"]
    )


@bp.get("/sites/<site_key>/categories/<category_key>")
def get_category(site_key, category_key):
    category = category_key
    site = _site(registry_store.load(get_db()), site_key)[1]
    return current_app.json.response(_find(site["categories"], category, "category")[1])


def _position(body, length):
    position = body.pop("position", None)
    if position is None:
        return None
    if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position <= length:
        raise ApiError(400, "invalid", f"position: must be a whole number from 0 to {length}")
    return position


@bp.post("/sites/<site_key>/categories")
def create_category(site_key):
    body = _json_body()

    def mutate(doc):
        index, site = _site(doc, site_key)
        if any(c["key"] == body.get("key") for c in site["categories"]):
            raise ApiError(409, "exists", f"Category '{body.get('key')}' already exists.")
        position = _position(body, len(site["categories"]))
        position = len(site["categories"]) if position is None else position
        site["categories"].insert(position, body)
        return f"sites[{index}].categories[{position}]"

    site = _site(_change(mutate), site_key)[1]
    return _created(_find(site["categories"], body["key"], "category")[1])


@bp.route("/sites/<site_key>/categories/<category_key>", methods=["PUT", "PATCH"])
def update_category(site_key, category_key):
    category = category_key
    body = _with_key(_json_body(), category)

    def mutate(doc):
        index, site = _site(doc, site_key)
        position, current = _find(site["categories"], category, "category")
        new_position = _position(body, len(site["categories"]) - 1)
        value = {**current, **body} if request.method == "PATCH" else body
        del site["categories"][position]
        position = position if new_position is None else new_position
        site["categories"].insert(position, value)
        return f"sites[{index}].categories[{position}]"

    site = _site(_change(mutate), site_key)[1]
    return current_app.json.response(_find(site["categories"], category, "category")[1])


@bp.delete("/sites/<site_key>/categories/<category_key>")
def delete_category(site_key, category_key):
    category = category_key

    def mutate(doc):
        _, site = _site(doc, site_key)
        position, _ = _find(site["categories"], category, "category")
        used = [a["vendor"] for a in site["vendors"] if a["category"] == category]
        if used:
            raise ApiError(
                409,
                "in_use",
                f"Category '{category}' still holds vendor(s) "
                f"{', '.join(used)}; move or remove them first.",
            )
        del site["categories"][position]
        return ""

    _change(mutate)
    return Response(status=204)


# Assignments: vendors placed in a site's categories


@bp.get("/sites/<site_key>/vendors")
def list_assignments(site_key):
    return current_app.json.response(_site(registry_store.load(get_db()), site_key)[1]["vendors"])


@bp.get("/sites/<site_key>/vendors/<vendor_key>")
def get_assignment(site_key, vendor_key):
    vendor = vendor_key
    site = _site(registry_store.load(get_db()), site_key)[1]
    return current_app.json.response(_find(site["vendors"], vendor, "assignment", "vendor")[1])


@bp.post("/sites/<site_key>/vendors")
def create_assignment(site_key):
    body = _json_body()

    def mutate(doc):
        index, site = _site(doc, site_key)
        if any(a["vendor"] == body.get("vendor") for a in site["vendors"]):
            raise ApiError(
                409,
                "exists",
                f"Vendor '{body.get('vendor')}' is already assigned "
                "to this site; change its category instead.",
            )
        site["vendors"].append(body)
        return f"sites[{index}].vendors[{len(site['vendors']) - 1}]"

    site = _site(_change(mutate), site_key)[1]
    return _created(_find(site["vendors"], body.get("vendor"), "assignment", "vendor")[1])


@bp.route("/sites/<site_key>/vendors/<vendor_key>", methods=["PUT", "PATCH"])
def update_assignment(site_key, vendor_key):
    vendor = vendor_key
    body = _json_body()
    if body.get("vendor", vendor) != vendor:
        raise ApiError(400, "invalid", "vendor: cannot be changed; assign the other vendor instead")

    def mutate(doc):
        index, site = _site(doc, site_key)
        position, _ = _find(site["vendors"], vendor, "assignment", "vendor")
        site["vendors"][position] = {"vendor": vendor, "category": body.get("category")}
        return f"sites[{index}].vendors[{position}]"

    site = _site(_change(mutate), site_key)[1]
    return current_app.json.response(_find(site["vendors"], vendor, "assignment", "vendor")[1])


@bp.delete("/sites/<site_key>/vendors/<vendor_key>")
def delete_assignment(site_key, vendor_key):
    vendor = vendor_key

    def mutate(doc):
        _, site = _site(doc, site_key)
        position, _ = _find(site["vendors"], vendor, "assignment", "vendor")
        del site["vendors"][position]
        return ""

    _change(mutate)
    return Response(status=204)


# Publishing and revisions


@bp.post("/sites/<site_key>/publish")
def publish(site_key):
    db = get_db()
    try:
        revision, created = revision_store.publish(db, site_key, g.actor)
    except revision_store.NotFound:
        raise ApiError(404, "not_found", f"No site '{site_key}'.") from None
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
    _site(registry_store.load(db), site_key)
    return current_app.json.response(revision_store.history(db, site_key))


# The consent log and the audit log

ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]00:?00)?$")


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
    db = get_db()
    if registry_store.site_origins(db, site_key) is None:
        raise ApiError(404, "not_found", f"No site '{site_key}'.")
    fmt = request.args.get("format", "jsonl")
    if fmt not in exports.FORMATS:
        raise ApiError(400, "invalid", "format: must be csv or jsonl")
    since, until = _time_arg("since"), _time_arg("until")
    return exports.response(current_app.config["DATABASE"], site_key, fmt, since, until)


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
