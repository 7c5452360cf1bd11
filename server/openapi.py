"""The OpenAPI 3 description of /api/v1, served at /api/v1/openapi.json."""

from __future__ import annotations

from flask import Blueprint, current_app

from . import __version__

bp = Blueprint("openapi", __name__)

ERROR = {"$ref": "#/components/responses/Error"}


def _op(summary, responses, tag, body=None, params=(), security=None, **extra):
    op = {
        "summary": summary,
        "tags": [tag],
        "responses": {
            str(code): (ERROR if code >= 400 else {"description": text})
            for code, text in responses.items()
        },
    }
    if params:
        op["parameters"] = [
            {"$ref": f"#/components/parameters/{p}"} if isinstance(p, str) else p for p in params
        ]
    if body:
        op["requestBody"] = {"required": True, "content": body}
    if security is not None:
        op["security"] = security
    op.update(extra)
    return op


def _json(schema):
    return {"application/json": {"schema": schema}}


def _query(name, description, schema=None):
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


OBJ = {"type": "object"}
ADMIN = [{"token": []}]


def _crud(tag, item_name, list_params, item_params):
    """The usual verbs on an admin collection and its items."""
    collection = {
        "get": _op(
            f"List {item_name}s",
            {200: "The list", 401: "", 404: ""},
            tag,
            params=list_params,
            security=ADMIN,
        ),
        "post": _op(
            f"Create a {item_name}",
            {201: "Created", 400: "", 401: "", 403: "", 404: "", 409: ""},
            tag,
            body=_json(OBJ),
            params=list_params,
            security=ADMIN,
        ),
    }
    item = {
        "get": _op(
            f"Read a {item_name}",
            {200: "The item", 401: "", 404: ""},
            tag,
            params=item_params,
            security=ADMIN,
        ),
        "put": _op(
            f"Replace a {item_name}",
            {200: "Replaced", 400: "", 401: "", 403: "", 404: ""},
            tag,
            body=_json(OBJ),
            params=item_params,
            security=ADMIN,
        ),
        "patch": _op(
            f"Change some fields of a {item_name}",
            {200: "Changed", 400: "", 401: "", 403: "", 404: ""},
            tag,
            body=_json(OBJ),
            params=item_params,
            security=ADMIN,
        ),
        "delete": _op(
            f"Delete a {item_name}",
            {204: "Deleted", 401: "", 403: "", 404: "", 409: ""},
            tag,
            params=item_params,
            security=ADMIN,
        ),
    }
    return collection, item


def document() -> dict:
    site = "SiteKey"
    vendors, vendor = _crud("Vendors", "vendor", (), ("VendorKey",))
    sites, one_site = _crud("Sites", "site", (), (site,))
    cats, cat = _crud("Categories", "category", (site,), (site, "CategoryKey"))
    assigns, assign = _crud("Assignments", "assignment", (site,), (site, "VendorKey"))
    decision_body = {
        "type": "object",
        "required": ["revision", "action", "categories"],
        "properties": {
            "consent_id": {"type": "string", "description": "Absent on a first decision."},
            "receipt": {
                "type": "string",
                "description": "Required with consent_id: that consent id's receipt.",
            },
            "revision": {"type": "integer", "minimum": 1},
            "action": {
                "type": "string",
                "enum": ["accept_all", "reject_all", "custom", "withdraw"],
            },
            "categories": {"type": "object", "additionalProperties": {"type": "boolean"}},
            "vendors": {"type": "object", "additionalProperties": {"type": "boolean"}},
            "language": {"type": "string", "enum": ["ja", "en"]},
            "page_url": {"type": "string", "format": "uri"},
            "gpc": {"type": "boolean"},
        },
    }
    paths = {
        "/api/v1/openapi.json": {"get": _op("This document", {200: "OpenAPI 3 JSON"}, "Meta")},
        "/api/v1/sites/{site_key}/config": {
            "get": _op(
                "The site's published configuration (latest revision)",
                {200: "Configuration", 304: "Not modified", 404: ""},
                "Public",
                params=(site,),
            ),
            "options": _op("CORS preflight", {204: "Allowed", 404: ""}, "Public", params=(site,)),
        },
        "/api/v1/sites/{site_key}/disclosure": {
            "get": _op(
                "The site's disclosure (latest revision, or ?revision=N): the same vendors "
                "as that revision's configuration, by category, with the revision history",
                {200: "Disclosure", 400: "", 404: ""},
                "Public",
                params=(
                    site,
                    _query(
                        "revision",
                        "A revision number (default: the latest)",
                        {"type": "integer", "minimum": 1},
                    ),
                ),
            ),
        },
        "/api/v1/sites/{site_key}/decisions": {
            "post": _op(
                "Record one decision",
                {201: "Recorded; carries the receipt", 400: "", 403: "", 404: "", 413: "", 415: ""},
                "Public",
                body={**_json(decision_body), "text/plain": {"schema": decision_body}},
                params=(site,),
            ),
            "options": _op(
                "CORS preflight", {204: "Allowed", 403: "", 404: ""}, "Public", params=(site,)
            ),
        },
        "/api/v1/consents/{consent_id}": {
            "get": _op(
                "A consent id's decisions (with its receipt)",
                {200: "Decisions and erasures", 401: "", 403: ""},
                "Visitors",
                params=("ConsentId",),
                security=[{"receipt": []}],
            ),
            "delete": _op(
                "Erase a consent id's decisions (with its receipt)",
                {200: "Erased; a record of the erasure is kept", 401: "", 403: ""},
                "Visitors",
                params=("ConsentId",),
                security=[{"receipt": []}],
            ),
        },
        "/api/v1/admin/organization": {
            "get": _op(
                "The organization", {200: "Organization", 401: ""}, "Organization", security=ADMIN
            ),
            "put": _op(
                "Replace the organization",
                {200: "Replaced", 400: "", 401: "", 403: ""},
                "Organization",
                body=_json(OBJ),
                security=ADMIN,
            ),
            "patch": _op(
                "Change the organization",
                {200: "Changed", 400: "", 401: "", 403: ""},
                "Organization",
                body=_json(OBJ),
                security=ADMIN,
            ),
        },
        "/api/v1/admin/vendors": vendors,
        "/api/v1/admin/vendors/{vendor_key}": vendor,
        "/api/v1/admin/sites": sites,
        "/api/v1/admin/sites/{site_key}": one_site,
        "/api/v1/admin/sites/{site_key}/categories": cats,
        "/api/v1/admin/sites/{site_key}/categories/{category_key}": cat,
        "/api/v1/admin/sites/{site_key}/vendors": assigns,
        "/api/v1/admin/sites/{site_key}/vendors/{vendor_key}": assign,
        "/api/v1/admin/sites/{site_key}/publish": {
            "post": _op(
                "Publish the site's registry as a new revision",
                {201: "Published", 200: "Unchanged: no new revision", 401: "", 403: "", 404: ""},
                "Revisions",
                params=(site,),
                security=ADMIN,
            )
        },
        "/api/v1/admin/sites/{site_key}/revisions": {
            "get": _op(
                "The site's revisions, newest first",
                {200: "Revisions", 401: "", 404: ""},
                "Revisions",
                params=(site,),
                security=ADMIN,
            )
        },
        "/api/v1/admin/sites/{site_key}/revisions/{number}/rollback": {
            "post": _op(
                "Publish an earlier revision's content again, as a new revision",
                {201: "Published", 200: "Unchanged: no new revision", 401: "", 403: "", 404: ""},
                "Revisions",
                params=(
                    site,
                    {
                        "name": "number",
                        "in": "path",
                        "required": True,
                        "description": "The earlier revision's number",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
                    },
                ),
                security=ADMIN,
            )
        },
        "/api/v1/admin/sites/{site_key}/decisions": {
            "get": _op(
                "Export the consent log (streamed)",
                {200: "CSV or JSON lines", 400: "", 401: "", 404: ""},
                "Consent log",
                params=(
                    site,
                    _query("since", "ISO 8601 UTC, inclusive"),
                    _query("until", "ISO 8601 UTC, exclusive"),
                    _query("format", "csv or jsonl", {"type": "string", "enum": ["csv", "jsonl"]}),
                ),
                security=ADMIN,
            )
        },
        "/api/v1/admin/audit": {
            "get": _op(
                "The audit log, newest first",
                {200: "Entries", 400: "", 401: ""},
                "Audit",
                params=(
                    _query("site", "Only this site"),
                    _query("actor", "Only this actor"),
                    _query("limit", "At most this many (1000)", {"type": "integer"}),
                    _query("before_id", "Page backwards", {"type": "integer"}),
                ),
                security=ADMIN,
            )
        },
        # Scans (issue 9, docs/scanner.md): started in the background, read while they run.
        "/api/v1/admin/sites/{site_key}/scans": {
            "get": _op(
                "The site's scans, newest first, without their findings",
                {200: "Scans", 401: "", 404: ""},
                "Scans",
                params=(site,),
                security=ADMIN,
            ),
            "post": _op(
                "Start a scan of the site's pages in the background (admins and editors)",
                {202: "Started: the scan's id", 400: "", 401: "", 403: "", 404: "", 409: ""},
                "Scans",
                body=_json(
                    {
                        "type": "object",
                        "properties": {
                            "urls": {"type": "array", "items": {"type": "string"}},
                            "max_pages": {"type": "integer", "minimum": 1, "maximum": 100},
                        },
                    }
                ),
                params=(site,),
                security=ADMIN,
            ),
        },
        "/api/v1/admin/sites/{site_key}/scans/{scan_id}": {
            "get": _op(
                "One scan: its state, progress, and once done its pages and findings",
                {200: "The scan", 401: "", 404: ""},
                "Scans",
                params=(
                    site,
                    {
                        "name": "scan_id",
                        "in": "path",
                        "required": True,
                        "description": "The scan's id",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
                    },
                ),
                security=ADMIN,
            )
        },
    }

    def path_param(name, description):
        return {
            "name": name,
            "in": "path",
            "required": True,
            "description": description,
            "schema": {"type": "string"},
        }

    return {
        "openapi": "3.0.3",
        "info": {"title": "Privacy Center API", "version": __version__},
        "paths": paths,
        "components": {
            "parameters": {
                "SiteKey": path_param("site_key", "The site's key"),
                "VendorKey": path_param("vendor_key", "A vendor's key"),
                "CategoryKey": path_param("category_key", "A category's key"),
                "ConsentId": path_param("consent_id", "A consent id"),
            },
            "responses": {
                "Error": {
                    "description": "An error",
                    "content": _json(
                        {
                            "type": "object",
                            "required": ["error"],
                            "properties": {
                                "error": {
                                    "type": "object",
                                    "required": ["code", "message"],
                                    "properties": {
                                        "code": {"type": "string"},
                                        "message": {"type": "string"},
                                    },
                                }
                            },
                        }
                    ),
                }
            },
            "securitySchemes": {
                "token": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An admin token from `privacy-center create-token`",
                },
                "receipt": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The receipt returned with a decision",
                },
            },
        },
    }


@bp.get("/api/v1/openapi.json")
def openapi_json():
    return current_app.json.response(document())
