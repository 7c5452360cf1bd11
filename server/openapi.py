"""The OpenAPI 3 description of /api/v1, served at /api/v1/openapi.json.

Request bodies say what the server accepts: required fields, bounds, and
`additionalProperties: false` wherever the server refuses a field it does not know (the registry
documents: server/registry.py). Response bodies describe what the server sends; they allow
fields added later, as a client should. tests/test_schemathesis.py fuzzes the real server
against this document, so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app

from . import __version__, regions
from . import decisions as rules
from . import registry as reg
from .scanner import jobs as scan_jobs

bp = Blueprint("openapi", __name__)

Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _pattern(regex) -> str:
    """A Python pattern ending in \\Z as ECMA-262 (OpenAPI's dialect), which ends in $."""
    return regex.pattern.replace("\\Z", "$")


def _string(max_length: int = reg.MAX_TEXT, **extra) -> Schema:
    return {"type": "string", "minLength": 1, "maxLength": max_length, **extra}


def _obj(properties: dict, required=(), closed=False, **extra) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    if closed:
        schema["additionalProperties"] = False
    schema.update(extra)
    return schema


def _array(items: Schema, **extra) -> Schema:
    return {"type": "array", "items": items, **extra}


def _nullable(schema: Schema) -> Schema:
    # OpenAPI 3.0 ignores `nullable` beside a $ref: only inline schemas with a type may use it.
    assert "$ref" not in schema and "type" in schema
    return {**schema, "nullable": True}


BOOL: Schema = {"type": "boolean"}
INT: Schema = {"type": "integer"}
TIME: Schema = {"type": "string", "description": "ISO 8601 UTC, e.g. 2026-01-31T09:00:00.000Z"}
LANGUAGE: Schema = {"type": "string", "enum": list(reg.LANGUAGES)}
REVISION_NUMBER: Schema = {"type": "integer", "minimum": 1, "maximum": rules.MAX_NUMBER - 1}
ROW_ID: Schema = {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
URL = _string(2048, description="An http(s) URL")
CHOICES: Schema = {"type": "object", "additionalProperties": BOOL}
DAY: Schema = {"type": "string", "format": "date", "description": "A UTC day, e.g. 2026-01-31"}


TEXT_EXAMPLE = {"ja": "例", "en": "Example"}
# Realistic bodies for the demo registry (`privacy-center demo`): the docs show them, and the
# fuzzer sends them first, so that its runs also reach the paths that succeed.
EXAMPLES: dict[str, Schema] = {
    "Decision": {
        "request_id": "9f1c2b7e-4d3a-4b8e",
        "revision": 1,
        "action": "custom",
        "categories": {"functional": True, "analytics": False, "advertising": False},
        "language": "ja",
        "page_url": "https://news.sakura-media.example/articles/1",
    },
    "VendorInput": {
        "key": "example-cdn",
        "name": "Example CDN",
        "recipient": "Example CDN Inc.",
        "country": "JP",
        "privacy_policy_url": "https://cdn.example/privacy",
        "hosts": ["cdn.example"],
        "cookies": [{"name": "_ex", "duration_days": 30}],
        "data_sent": {"ja": "IPアドレス", "en": "IP address"},
        "purpose": {"ja": "配信の高速化", "en": "Faster delivery"},
    },
    "SiteInput": {
        "key": "blog",
        "name": {"ja": "さくらブログ", "en": "Sakura Blog"},
        "origins": ["https://blog.sakura-media.example"],
        "languages": ["ja", "en"],
        "categories": [
            {
                "key": "necessary",
                "required": True,
                "name": TEXT_EXAMPLE,
                "description": TEXT_EXAMPLE,
            }
        ],
    },
    "CategoryInput": {
        "key": "personalization",
        "name": {"ja": "パーソナライズ", "en": "Personalization"},
        "description": {"ja": "おすすめの表示", "en": "Showing recommendations"},
        "position": 1,
    },
    "AssignmentInput": {"vendor": "karte", "category": "analytics"},
}


def _schemas() -> dict[str, Schema]:
    """The named schemas: inputs (what the server accepts) and records (what it answers)."""
    texts_in = _obj(
        {lang: _string() for lang in reg.LANGUAGES},
        closed=True,
        description="A text per language; every language of the sites that show it is required",
    )
    texts = _obj({lang: {"type": "string"} for lang in reg.LANGUAGES})
    cookie_in = _obj(
        {
            "name": _string(128, pattern=_pattern(reg.COOKIE_NAME)),
            "duration_days": {"type": "integer", "minimum": 0, "maximum": 3650},
        },
        required=["name"],
        closed=True,
    )
    vendor_fields = {
        "key": _string(64, pattern=_pattern(reg.VENDOR_KEY)),
        "name": _string(200),
        "recipient": _string(200),
        "country": _nullable(_string(2, pattern="^[A-Z]{2}$")),
        "privacy_policy_url": URL,
        "opt_out_url": _nullable(URL),
        "hosts": _array(_string(253, pattern=_pattern(reg.HOST))),
        "cookies": _array(cookie_in),
        "data_sent": _ref("TextsInput"),
        "purpose": _ref("TextsInput"),
    }
    category_fields = {
        "key": _string(40, pattern=_pattern(reg.CATEGORY_KEY)),
        "required": BOOL,
        "name": _ref("TextsInput"),
        "description": _ref("TextsInput"),
        "google_consent_types": _array({"type": "string", "enum": list(reg.CONSENT_TYPES)}),
        "gpc_refuses": BOOL,
    }
    assignment_fields = {
        "vendor": _string(64, pattern=_pattern(reg.VENDOR_KEY)),
        "category": _string(40),
    }
    color = {"type": "string", "pattern": _pattern(reg.COLOR)}
    regime = {"type": "string", "enum": list(regions.REGIMES)}
    regimes = _obj(
        {
            "default": {**regime, "default": regions.DEFAULT_REGIME},
            "regions": {
                "type": "object",
                "additionalProperties": regime,
                "description": "Region key (JP, US-CA, EU, EEA) to regime; the most specific "
                "match wins (docs/regions.md)",
            },
        },
        closed=True,
        description="Regimes per region; absent: opt_in everywhere",
    )
    site_fields = {
        "key": _string(40, pattern=_pattern(reg.SITE_KEY)),
        "name": _ref("TextsInput"),
        "origins": _array(_string(300, description="scheme://host[:port]")),
        "languages": _array(LANGUAGE, minItems=1, maxItems=len(reg.LANGUAGES), uniqueItems=True),
        "default_language": LANGUAGE,
        "consent_max_age_days": {"type": "integer", "minimum": 1, "maximum": 395},
        "retention_days": {
            "type": "integer",
            "minimum": 1,
            "maximum": reg.MAX_RETENTION_DAYS,
            "default": reg.DEFAULT_RETENTION_DAYS,
            "description": "Days the consent log is kept (purge); at least consent_max_age_days",
        },
        "cookie_domain": _nullable(_string(253)),
        "google_consent_mode": BOOL,
        "honor_gpc": BOOL,
        "notice": _nullable(texts_in),
        "reload_on_withdrawal": BOOL,
        "appearance": _nullable(
            _obj(
                {
                    "layout": {"type": "string", "enum": list(reg.LAYOUTS)},
                    "position": {
                        "type": "string",
                        "enum": [p for positions in reg.LAYOUTS.values() for p in positions],
                    },
                    "colors": _obj(dict.fromkeys(reg.COLOR_FIELDS, color), closed=True),
                },
                closed=True,
            )
        ),
        "regimes": regimes,
        "categories": _array(
            _obj(category_fields, required=["key", "name", "description"], closed=True)
        ),
        "vendors": _array(_obj(assignment_fields, required=["vendor", "category"], closed=True)),
    }
    section_in = _obj(
        {
            "key": _string(40, pattern=_pattern(reg.CATEGORY_KEY)),
            "title": _ref("TextsInput"),
            "body": _ref("TextsInput"),
        },
        required=["key", "title", "body"],
        closed=True,
    )
    organization_fields = {
        "name": _ref("TextsInput"),
        "privacy_policy_url": _nullable(URL),
        "sections": _array(section_in),
    }
    position = {
        "type": "integer",
        "minimum": 0,
        "description": "Where the category goes in the site's order (0: first); default: last",
    }

    vendor = _obj(
        {
            "key": {"type": "string"},
            "name": {"type": "string"},
            "recipient": {"type": "string"},
            "country": {"type": "string", "nullable": True},
            "privacy_policy_url": {"type": "string"},
            "opt_out_url": {"type": "string", "nullable": True},
            "hosts": _array({"type": "string"}),
            "cookies": _array(
                _obj(
                    {"name": {"type": "string"}, "duration_days": INT},
                    required=["name", "duration_days"],
                )
            ),
            "data_sent": _ref("Texts"),
            "purpose": _ref("Texts"),
        },
        required=["key", "name", "recipient", "privacy_policy_url", "data_sent", "purpose"],
    )
    category = _obj(
        {
            "key": {"type": "string"},
            "required": BOOL,
            "name": _ref("Texts"),
            "description": _ref("Texts"),
            "google_consent_types": _array({"type": "string"}),
            "gpc_refuses": BOOL,
        },
        required=["key", "required", "name", "description"],
    )
    assignment = _obj(
        {"vendor": {"type": "string"}, "category": {"type": "string"}},
        required=["vendor", "category"],
    )
    appearance = _obj(
        {
            "layout": {"type": "string"},
            "position": {"type": "string"},
            "colors": _obj({name: {"type": "string"} for name in reg.COLOR_FIELDS}),
        },
        required=["layout", "position"],
    )
    site_settings = {
        "name": _ref("Texts"),
        "languages": _array(LANGUAGE),
        "default_language": LANGUAGE,
        "consent_max_age_days": INT,
        "retention_days": INT,
        "cookie_domain": {"type": "string", "nullable": True},
        "google_consent_mode": BOOL,
        "honor_gpc": BOOL,
        "notice": _nullable(texts),
        "reload_on_withdrawal": BOOL,
    }
    site = _obj(
        {
            "key": {"type": "string"},
            **site_settings,
            "origins": _array({"type": "string"}),
            "appearance": _nullable(appearance),
            "regimes": regimes,
            "categories": _array(_ref("Category")),
            "vendors": _array(_ref("Assignment")),
        },
        required=["key", "name", "origins", "languages", "default_language", "categories"],
    )
    organization = _obj(
        {
            "name": _ref("Texts"),
            "privacy_policy_url": {"type": "string", "nullable": True},
            "sections": _array(
                _obj(
                    {"key": {"type": "string"}, "title": _ref("Texts"), "body": _ref("Texts")},
                    required=["key", "title", "body"],
                )
            ),
        }
    )
    published_vendor = {
        **vendor,
        "properties": {**vendor["properties"], "category": {"type": "string"}},
        "required": [*vendor["required"], "category"],
    }
    change = _obj({"change": {"type": "string"}}, required=["change"])
    revision = _obj(
        {
            "number": REVISION_NUMBER,
            "content_hash": {"type": "string"},
            "needs_decision": BOOL,
            "consent_revision": REVISION_NUMBER,
            "changes": _array(change),
            "published_at": TIME,
            "published_by": {"type": "string"},
        },
        required=[
            "number",
            "content_hash",
            "needs_decision",
            "consent_revision",
            "changes",
            "published_at",
            "published_by",
        ],
    )
    recorded = _obj(
        {
            "revision": REVISION_NUMBER,
            "action": {"type": "string", "enum": list(rules.ACTIONS)},
            "categories": CHOICES,
            "vendors": CHOICES,
            "language": LANGUAGE,
            "page_url": {"type": "string", "nullable": True},
            "gpc": BOOL,
            "recorded_at": TIME,
            "regime": {
                "type": "string",
                "enum": list(regions.REGIMES),
                "description": "The regime the decision was made under (opt_in before regimes)",
            },
            "region": _nullable({"type": "string", "description": "The visitor's region"}),
        },
        required=["revision", "action", "categories", "vendors", "language", "gpc", "recorded_at"],
    )
    # Scans (issue 9, docs/scanner.md; server/scanner/api.py `summary` and `detail`).
    scan_summary = _obj(
        {
            "id": ROW_ID,
            "site": {"type": "string"},
            "revision": {"type": "integer", "minimum": 1},
            "state": {"type": "string", "enum": ["queued", "running", "done", "failed"]},
            "progress": _obj(
                {"pages_done": INT, "pages_total": INT},
                required=["pages_done", "pages_total"],
            ),
            "options": _obj(
                {
                    "urls": _array({"type": "string"}),
                    "max_pages": INT,
                    "region": _nullable(
                        {"type": "string", "description": "The visitor's region scanned as"}
                    ),
                },
                required=["urls", "max_pages"],
            ),
            "requested_by": {"type": "string"},
            "created_at": TIME,
            "started_at": _nullable(dict(TIME)),
            "finished_at": _nullable(dict(TIME)),
            "leaks": _nullable(dict(INT)),
            "finding_count": _nullable(dict(INT)),
            "error": _nullable({"type": "string"}),
        },
        required=["id", "site", "revision", "state", "progress", "options", "created_at"],
    )
    return {
        "TextsInput": texts_in,
        "Texts": texts,
        "VendorInput": _obj(
            vendor_fields,
            required=["key", "name", "recipient", "privacy_policy_url", "data_sent", "purpose"],
            closed=True,
            example=EXAMPLES["VendorInput"],
        ),
        "VendorChange": _obj(vendor_fields, closed=True),
        "SiteInput": _obj(
            site_fields,
            required=["key", "name", "origins", "languages", "categories"],
            closed=True,
            example=EXAMPLES["SiteInput"],
        ),
        "SiteChange": _obj(site_fields, closed=True),
        "CategoryInput": _obj(
            {**category_fields, "position": position},
            required=["key", "name", "description"],
            closed=True,
            example=EXAMPLES["CategoryInput"],
        ),
        "CategoryChange": _obj({**category_fields, "position": position}, closed=True),
        "AssignmentInput": _obj(
            assignment_fields,
            required=["vendor", "category"],
            description="Other fields are ignored",
            example=EXAMPLES["AssignmentInput"],
        ),
        "AssignmentChange": _obj(
            assignment_fields,
            description="`vendor`, if given, must be the path's vendor; other fields are ignored",
        ),
        "OrganizationInput": _obj(organization_fields, required=["name"], closed=True),
        "OrganizationChange": _obj(organization_fields, closed=True),
        "Vendor": vendor,
        "Category": category,
        "Assignment": assignment,
        "Site": site,
        "Organization": organization,
        "Revision": revision,
        "Published": {
            **revision,
            "properties": {**revision["properties"], "created": BOOL},
            "required": [*revision["required"], "created"],
        },
        "ScanSummary": scan_summary,
        "Scan": {
            **scan_summary,
            "properties": {
                **scan_summary["properties"],
                "scanned_at": _nullable(dict(TIME)),
                "regime": _nullable(
                    {
                        "type": "string",
                        "enum": list(regions.REGIMES),
                        "description": "The regime the pages were checked under",
                    }
                ),
                "counts": {"type": "object", "nullable": True, "description": "Findings by kind"},
                "findings": _array(
                    _obj(
                        {
                            "kind": {
                                "type": "string",
                                "enum": [
                                    "undisclosed_host",
                                    "undisclosed_cookie",
                                    "before_decision",
                                    "after_refusal",
                                    "not_seen",
                                ],
                            },
                            "page": {"type": "string"},
                            "pass": {"type": "string"},
                            "host": {"type": "string"},
                            "cookie": {"type": "string"},
                            "vendor": {"type": "string"},
                            "category": {"type": "string"},
                        },
                        required=["kind"],
                    )
                ),
                "pages": _array({"type": "object"}),
            },
            "required": [*scan_summary["required"], "findings", "pages"],
        },
        "AuditEntry": _obj(
            {
                "id": ROW_ID,
                "at": TIME,
                "actor": {"type": "string"},
                "action": {"type": "string"},
                "object_type": {"type": "string"},
                "object_key": {"type": "string"},
                "site_key": {"type": "string", "nullable": True},
                "before": {"description": "The object before the change (null: created)"},
                "after": {"description": "The object after the change (null: deleted)"},
            },
            required=["id", "at", "actor", "action", "object_type", "object_key"],
        ),
        "Config": _obj(
            {
                "site": {"type": "string"},
                "revision": REVISION_NUMBER,
                "consent_revision": REVISION_NUMBER,
                "published_at": TIME,
                "regime": {**regime, "description": "The regime in the request's region"},
                "region": _nullable(
                    {
                        "type": "string",
                        "description": "The request's region (JP, US-CA), from the header "
                        "the deployment names; null when unknown or not configured",
                    }
                ),
                "regimes": regimes,
                **site_settings,
                "appearance": appearance,
                "organization": organization,
                "categories": _array(
                    {
                        **category,
                        "properties": {
                            **category["properties"],
                            "vendors": _array({"type": "string"}),
                        },
                    }
                ),
                "vendors": _array(published_vendor),
            },
            required=[
                "site",
                "revision",
                "consent_revision",
                "published_at",
                "regime",
                "region",
                "name",
                "languages",
                "default_language",
                "appearance",
                "organization",
                "categories",
                "vendors",
            ],
        ),
        "Disclosure": _obj(
            {
                "site": _obj(
                    {
                        "key": {"type": "string"},
                        "name": _ref("Texts"),
                        "languages": _array(LANGUAGE),
                        "default_language": LANGUAGE,
                    },
                    required=["key", "name", "languages", "default_language"],
                ),
                "revision": REVISION_NUMBER,
                "published_at": TIME,
                "latest_revision": REVISION_NUMBER,
                "organization": organization,
                "categories": _array(
                    _obj(
                        {
                            "key": {"type": "string"},
                            "required": BOOL,
                            "name": _ref("Texts"),
                            "description": _ref("Texts"),
                            "vendors": _array({"type": "string"}),
                        },
                        required=["key", "required", "name", "description", "vendors"],
                    )
                ),
                "vendors": _array(published_vendor),
                # Which regime applies where (docs/regions.md, "The disclosure").
                "regimes": _obj(
                    {
                        "default": regime,
                        "regions": _array(
                            _obj(
                                {
                                    "region": {"type": "string", "example": "JP"},
                                    "name": _ref("Texts"),
                                    "regime": regime,
                                },
                                required=["region", "name", "regime"],
                            ),
                            description="Most specific first: the first that matches applies",
                        ),
                    },
                    required=["default", "regions"],
                ),
                "opt_out": _obj(
                    {
                        "regimes": _array(regime),
                        "gpc_refuses": _array(
                            {"type": "string"},
                            description="Categories a Global Privacy Control signal refuses",
                        ),
                        "vendors": _array(
                            _obj(
                                {
                                    "vendor": {"type": "string"},
                                    "category": {"type": "string"},
                                    "switch": {
                                        **BOOL,
                                        "description": "A switch in the site's Cookie settings "
                                        "(false: a required category)",
                                    },
                                    "opt_out_url": {"type": "string", "nullable": True},
                                },
                                required=["vendor", "category", "switch", "opt_out_url"],
                            )
                        ),
                    },
                    required=["regimes", "gpc_refuses", "vendors"],
                    nullable=True,
                    description="How to stop each vendor's transmissions, where a regime lets "
                    "them happen until refused (opt_out, notice); null where none does",
                ),
                "history": _array(
                    _obj(
                        {
                            "revision": REVISION_NUMBER,
                            "published_at": TIME,
                            "changes": _array(change),
                        },
                        required=["revision", "published_at", "changes"],
                    )
                ),
            },
            required=[
                "site",
                "revision",
                "published_at",
                "latest_revision",
                "organization",
                "categories",
                "vendors",
                "regimes",
                "opt_out",
                "history",
            ],
        ),
        "Decision": _obj(
            {
                "request_id": {
                    "type": "string",
                    "pattern": _pattern(rules.REQUEST_ID),
                    "minLength": 8,
                    "maxLength": 64,
                    "description": "Makes retries safe: the same id on the same site within 24 "
                    "hours gets the first answer again and records nothing new; another "
                    "body under the same id is 409 request_id_reused",
                },
                "consent_id": {
                    "type": "string",
                    "pattern": _pattern(rules.CONSENT_ID),
                    "description": "Absent on a first decision",
                },
                "receipt": {
                    "type": "string",
                    "maxLength": 512,
                    "description": "Required with consent_id: that consent id's receipt",
                },
                "revision": REVISION_NUMBER,
                "action": {
                    "type": "string",
                    "enum": list(rules.ACTIONS),
                    "description": "dismiss: a notice closed without choosing, only where the "
                    "regime is opt_out or notice (else 400); categories may then be left out",
                },
                "categories": CHOICES,
                "vendors": CHOICES,
                "language": LANGUAGE,
                "page_url": _nullable({"type": "string", "maxLength": 2048}),
                "gpc": BOOL,
            },
            required=["revision", "action"],
            description="Fields not listed here are ignored",
            example=EXAMPLES["Decision"],
        ),
        "Recorded": _obj(
            {
                "consent_id": {"type": "string", "pattern": _pattern(rules.CONSENT_ID)},
                "receipt": {"type": "string"},
                "revision": REVISION_NUMBER,
                "recorded_at": TIME,
                "categories": CHOICES,
                "vendors": CHOICES,
                "gpc": BOOL,
                "regime": {"type": "string", "enum": list(regions.REGIMES)},
                "region": _nullable({"type": "string"}),
            },
            required=["consent_id", "receipt", "revision", "recorded_at", "categories", "vendors"],
        ),
        "ConsentRecords": _obj(
            {
                "consent_id": {"type": "string"},
                "site": {"type": "string"},
                "decisions": _array(recorded),
                "erasures": _array(
                    _obj(
                        {"erased_at": TIME, "decisions_erased": {"type": "integer", "minimum": 0}},
                        required=["erased_at", "decisions_erased"],
                    )
                ),
            },
            required=["consent_id", "site", "decisions", "erasures"],
        ),
        "Erased": _obj(
            {
                "consent_id": {"type": "string"},
                "site": {"type": "string"},
                "decisions_erased": {"type": "integer", "minimum": 0},
            },
            required=["consent_id", "site", "decisions_erased"],
        ),
        "Figures": _obj(
            {
                "site": {"type": "string"},
                "from": DAY,
                "to": DAY,
                "total": INT,
                "actions": {"type": "object", "additionalProperties": INT},
                "regimes": {
                    "type": "object",
                    "description": "Per regime (opt_in, opt_out, notice) that has decisions",
                    "additionalProperties": _obj(
                        {
                            "total": INT,
                            "actions": {"type": "object", "additionalProperties": INT},
                        },
                        required=["total", "actions"],
                    ),
                },
            },
            required=["site", "from", "to", "total", "actions", "regimes"],
        ),
        "Error": _obj(
            {
                "error": _obj(
                    {"code": {"type": "string"}, "message": {"type": "string"}},
                    required=["code", "message"],
                )
            },
            required=["error"],
        ),
    }


def _json(schema: Schema) -> dict:
    return {"application/json": {"schema": schema}}


def _ok(description: str, schema: Schema | None = None, headers: dict | None = None) -> dict:
    response: dict = {"description": description}
    if schema is not None:
        response["content"] = _json(schema)
    if headers:
        response["headers"] = headers
    return response


ERRORS = {
    400: "Bad request: the body or a parameter is wrong (the message names the field)",
    401: "No valid credentials",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict with what is stored",
    413: "The body is too large",
    415: "Unsupported media type",
    429: "Too many requests",
}


def _op(
    summary: str,
    tag: str,
    ok: dict[int, dict],
    errors=(),
    body: Schema | None = None,
    params=(),
    security=None,
    text_plain=False,
) -> dict:
    responses = {str(code): response for code, response in ok.items()}
    for code in sorted(set(errors)):
        name = "RateLimited" if code == 429 else "Error"
        responses[str(code)] = {"$ref": f"#/components/responses/{name}"}
    if params:
        responses["414"] = {"$ref": "#/components/responses/UriTooLong"}
    op: dict = {"summary": summary, "tags": [tag], "responses": responses}
    if params:
        op["parameters"] = [
            {"$ref": f"#/components/parameters/{p}"} if isinstance(p, str) else p for p in params
        ]
    if body is not None:
        content = _json(body)
        if text_plain:  # navigator.sendBeacon sends the JSON as text/plain
            content["text/plain"] = {"schema": body}
        op["requestBody"] = {"required": True, "content": content}
    if security is not None:
        op["security"] = security
    return op


def _query(name: str, description: str, schema: Schema | None = None) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string", "maxLength": 200},
    }


ADMIN = [{"token": []}]
READ = (401,)
WRITE = (400, 401, 403, 413)  # a malformed body, no token, a read-only token, a huge body
PUBLIC = (429,)


def _admin_read(summary, tag, schema, params=(), errors=(404,)):
    return _op(summary, tag, {200: _ok("OK", schema)}, READ + errors, params=params, security=ADMIN)


def _admin_write(summary, tag, ok, body, params=(), errors=(404,)):
    return _op(summary, tag, ok, WRITE + errors, body=body, params=params, security=ADMIN)


def _crud(tag: str, name: str, schema: str, params=(), item=()) -> tuple[dict, dict]:
    """The usual verbs on an admin collection and its items."""
    record = _ref(schema)
    collection = {
        "get": _admin_read(
            f"List {name}s", tag, _array(record), params, errors=(404,) if params else ()
        ),
        "post": _admin_write(
            f"Create a {name}",
            tag,
            {201: _ok("Created", record)},
            _ref(f"{schema}Input"),
            params,
            errors=(404, 409) if params else (409,),
        ),
    }
    items = {
        "get": _admin_read(f"Read a {name}", tag, record, item),
        "put": _admin_write(
            f"Replace a {name}", tag, {200: _ok("Replaced", record)}, _ref(f"{schema}Change"), item
        ),
        "patch": _admin_write(
            f"Change some fields of a {name}",
            tag,
            {200: _ok("Changed", record)},
            _ref(f"{schema}Change"),
            item,
        ),
        "delete": _op(
            f"Delete a {name}",
            tag,
            {204: _ok("Deleted")},
            # 400: the registry would be invalid without it (a site's last category).
            (400, 401, 403, 404, 409),
            params=item,
            security=ADMIN,
        ),
    }
    return collection, items


def _path_param(name: str, description: str, schema: Schema) -> dict:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema,
    }


def document() -> dict:
    site = "SiteKey"
    vendors, vendor = _crud("Vendors", "vendor", "Vendor", (), ("VendorKey",))
    sites, one_site = _crud("Sites", "site", "Site", (), (site,))
    cats, cat = _crud("Categories", "category", "Category", (site,), (site, "CategoryKey"))
    assigns, assign = _crud("Assignments", "assignment", "Assignment", (site,), (site, "VendorKey"))
    # Only the organization has no "create": PUT on a fresh database is how it starts.
    published = {
        201: _ok("Published as a new revision", _ref("Published")),
        200: _ok('Unchanged: no new revision ("created": false)', _ref("Published")),
    }
    preflight = {204: _ok("Allowed; CORS headers for the site's own origins")}
    receipt = [{"receipt": []}]
    paths = {
        "/api/v1/openapi.json": {
            "get": _op("This document", "Meta", {200: _ok("OpenAPI 3 JSON", {"type": "object"})})
        },
        "/api/v1/sites/{site_key}/config": {
            "get": _op(
                "The site's published configuration (latest revision)",
                "Public",
                {
                    200: _ok("Configuration", _ref("Config"), {"ETag": _header("The revision")}),
                    304: _ok("Not modified (If-None-Match)"),
                },
                (404, *PUBLIC),
                params=(site,),
            ),
            "options": _op("CORS preflight", "Public", preflight, (404, *PUBLIC), params=(site,)),
        },
        "/api/v1/sites/{site_key}/disclosure": {
            "get": _op(
                "The site's disclosure (latest revision, or ?revision=N): the same vendors "
                "as that revision's configuration, by category, with the revision history",
                "Public",
                {200: _ok("Disclosure", _ref("Disclosure"))},
                (400, 404, *PUBLIC),
                params=(
                    site,
                    _query(
                        "revision",
                        "A revision number (default: the latest)",
                        {"type": "integer", "minimum": 1, "maximum": 999_999_999},
                    ),
                ),
            ),
        },
        "/api/v1/sites/{site_key}/decisions": {
            "post": _op(
                "Record one decision (Origin must be one of the site's origins)",
                "Public",
                {
                    201: _ok(
                        "Recorded (or, for a repeated request_id, recorded before)",
                        _ref("Recorded"),
                    )
                },
                (400, 403, 404, 409, 413, 415, *PUBLIC),
                body=_ref("Decision"),
                params=(site,),
                text_plain=True,
            ),
            "options": _op(
                "CORS preflight", "Public", preflight, (403, 404, *PUBLIC), params=(site,)
            ),
        },
        "/api/v1/consents/{consent_id}": {
            "get": _op(
                "A consent id's decisions and erasures (with its receipt)",
                "Visitors",
                {200: _ok("Decisions and erasures", _ref("ConsentRecords"))},
                (401, 403, *PUBLIC),
                params=("ConsentId",),
                security=receipt,
            ),
            "delete": _op(
                "Erase a consent id's decisions (with its receipt)",
                "Visitors",
                {200: _ok("Erased; a record of the erasure is kept", _ref("Erased"))},
                (401, 403, *PUBLIC),
                params=("ConsentId",),
                security=receipt,
            ),
        },
        "/api/v1/admin/organization": {
            "get": _admin_read(
                "The organization ({} before it is first saved)",
                "Organization",
                _ref("Organization"),
                errors=(),
            ),
            "put": _admin_write(
                "Replace the organization (its sections are kept unless named)",
                "Organization",
                {200: _ok("Replaced", _ref("Organization"))},
                _ref("OrganizationInput"),
                errors=(),
            ),
            "patch": _admin_write(
                "Change some fields of the organization",
                "Organization",
                {200: _ok("Changed", _ref("Organization"))},
                _ref("OrganizationChange"),
                errors=(),
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
                "Revisions",
                published,
                (400, 401, 403, 404),
                params=(site,),
                security=ADMIN,
            )
        },
        "/api/v1/admin/sites/{site_key}/revisions": {
            "get": _admin_read(
                "The site's revisions, newest first", "Revisions", _array(_ref("Revision")), (site,)
            )
        },
        "/api/v1/admin/sites/{site_key}/revisions/{number}/rollback": {
            "post": _op(
                "Publish an earlier revision's content again, as a new revision",
                "Revisions",
                published,
                (400, 401, 403, 404),
                params=(
                    site,
                    _path_param(
                        "number",
                        "The earlier revision's number",
                        {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
                    ),
                ),
                security=ADMIN,
            )
        },
        "/api/v1/admin/sites/{site_key}/decisions": {
            "get": _op(
                "Export the consent log (streamed)",
                "Consent log",
                {
                    200: {
                        "description": "CSV, or JSON lines (one decision per line)",
                        "content": {
                            "application/x-ndjson": {"schema": {"type": "string"}},
                            "text/csv": {"schema": {"type": "string"}},
                        },
                    }
                },
                (400, 401, 404),
                params=(
                    site,
                    _query("since", "ISO 8601 UTC, inclusive", TIME_QUERY),
                    _query("until", "ISO 8601 UTC, exclusive", TIME_QUERY),
                    _query("format", "csv or jsonl", {"type": "string", "enum": ["csv", "jsonl"]}),
                ),
                security=ADMIN,
            )
        },
        "/api/v1/admin/sites/{site_key}/figures": {
            "get": _admin_read(
                "Decisions per action and per regime over a range of UTC days (from the daily "
                "rollups)",
                "Consent log",
                _ref("Figures"),
                params=(
                    site,
                    _query("from", "First day, inclusive (default: 29 days before to)", DAY),
                    _query("to", "Last day, inclusive (default: today, UTC)", DAY),
                ),
                errors=(400, 404),
            )
        },
        "/api/v1/admin/audit": {
            "get": _admin_read(
                "The audit log, newest first",
                "Audit",
                _array(_ref("AuditEntry")),
                params=(
                    _query("site", "Only this site"),
                    _query("actor", "Only this actor"),
                    _query(
                        "limit",
                        "At most this many (default 100)",
                        {"type": "integer", "minimum": 1, "maximum": 1000},
                    ),
                    _query("before_id", "Entries before this id (paging backwards)", ROW_ID),
                ),
                errors=(400,),
            )
        },
        # Scans (issue 9, docs/scanner.md): started in the background, read while they run.
        "/api/v1/admin/sites/{site_key}/scans": {
            "get": _admin_read(
                "The site's scans, newest first, without their findings",
                "Scans",
                _array(_ref("ScanSummary")),
                params=(site,),
            ),
            "post": _admin_write(
                "Start a scan of the site's pages in the background (admins and editors)",
                "Scans",
                {
                    202: _ok(
                        "Started; `Location` names the scan to poll",
                        _ref("Scan"),
                        {"Location": _header("The scan's address")},
                    )
                },
                _obj(
                    {
                        "urls": _array(
                            {"type": "string", "maxLength": 2048}, maxItems=scan_jobs.MAX_URLS
                        ),
                        "max_pages": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": scan_jobs.MAX_PAGES,
                        },
                        "region": _nullable(
                            {
                                "type": "string",
                                "maxLength": 6,
                                "description": "Scan as a visitor from this country (JP) or "
                                "subdivision (US-CA): needs the server's region header",
                            }
                        ),
                    },
                    closed=True,
                ),
                params=(site,),
                errors=(404, 409),
            ),
        },
        "/api/v1/admin/sites/{site_key}/scans/{scan_id}": {
            "get": _admin_read(
                "One scan: its state, progress, and once done its pages and findings",
                "Scans",
                _ref("Scan"),
                params=(
                    site,
                    _path_param(
                        "scan_id",
                        "The scan's id",
                        {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
                    ),
                ),
            )
        },
    }

    return {
        "openapi": "3.0.3",
        "info": {"title": "Privacy Center API", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": _schemas(),
            "parameters": {
                "SiteKey": _path_param(
                    "site_key",
                    "The site's key",
                    {"type": "string", "pattern": _pattern(reg.SITE_KEY), "example": "news"},
                ),
                "VendorKey": _path_param(
                    "vendor_key",
                    "A vendor's key",
                    {"type": "string", "pattern": _pattern(reg.VENDOR_KEY), "example": "karte"},
                ),
                "CategoryKey": _path_param(
                    "category_key",
                    "A category's key",
                    {
                        "type": "string",
                        "pattern": _pattern(reg.CATEGORY_KEY),
                        "example": "analytics",
                    },
                ),
                "ConsentId": _path_param(
                    "consent_id",
                    "A consent id",
                    {"type": "string", "pattern": _pattern(rules.CONSENT_ID)},
                ),
            },
            "responses": {
                "Error": {
                    "description": "An error, in the one JSON error shape",
                    "content": _json(_ref("Error")),
                },
                "UriTooLong": {
                    "description": "A request line too long for the HTTP server, refused before "
                    "the application sees it, without a JSON body (granian, the default: over "
                    "about 64 KiB; gunicorn: over 4094 bytes)",
                },
                "RateLimited": {
                    "description": "Too many requests from this client or for this site "
                    "(error code rate_limited); retry after the given number of seconds",
                    "headers": {
                        "Retry-After": _header("Seconds to wait", {"type": "integer", "minimum": 0})
                    },
                    "content": _json(_ref("Error")),
                },
            },
            "securitySchemes": {
                "token": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An admin token from `privacy-center create-token`; a "
                    "viewer token may only read (403 on writes)",
                },
                "receipt": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The receipt returned with a decision",
                },
            },
        },
    }


TIME_QUERY: Schema = {
    "type": "string",
    "pattern": "^\\d{4}-\\d{2}-\\d{2}([T ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?)?(Z|[+-]00:?00)?$",
    "example": "2026-01-31T00:00:00Z",
}


def _header(description: str, schema: Schema | None = None) -> dict:
    return {"description": description, "schema": schema or {"type": "string"}}


@bp.get("/api/v1/openapi.json")
def openapi_json():
    return current_app.json.response(document())
