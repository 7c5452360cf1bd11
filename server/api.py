"""The public API: published configuration, recording decisions, and a visitor's own records."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict

from flask import Blueprint, Response, current_app, g, request

from . import compression, regions
from . import decisions as rules
from .db import get_db
from .errors import ApiError, error_response
from .ratelimit import limited
from .revisions import public_config
from .services import decisions as decision_service
from .services.errors import ServiceError
from .storage import registry as registry_store
from .storage import revisions as revision_store

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# Revisions never change once published, so a worker may keep them; the key includes the
# content hash, so nothing here can go stale or differ between workers.
_REVISIONS: OrderedDict = OrderedDict()
_CACHE_SIZE = 256
_CACHE_LOCK = threading.Lock()  # threaded servers share the cache between requests


def cached_revision(
    db, site_key: str, number: int | None = None, head=False, database: str | None = None
) -> dict | None:
    """A published revision (the latest one without `number`), from this worker's cache.

    `head`, when the caller already has it, is the revision's (number, content hash);
    `database` the database's path, outside a request.
    """
    head = head if head is not False else revision_store.head(db, site_key, number)
    if head is None:
        return None
    key = (database or current_app.config["DATABASE"], site_key, head[0], head[1])
    with _CACHE_LOCK:
        revision = _REVISIONS.get(key)
        if revision is not None:
            _REVISIONS.move_to_end(key)
            return revision
    revision = revision_store.get(db, site_key, head[0])
    revision["config_json"] = json.dumps(
        public_config(revision), ensure_ascii=False, separators=(",", ":")
    )
    with _CACHE_LOCK:
        _REVISIONS[key] = revision
        while len(_REVISIONS) > _CACHE_SIZE:
            _REVISIONS.popitem(last=False)
    return revision


# Per revision, the config of at most this many (regime, region) pairs is kept compressed: the
# countries and subdivisions a site's visitors come from, without growing on hostile headers.
_VARIANTS = 64


def regional(revision: dict) -> tuple[str, str | None]:
    """(regime, region) of this request for a revision: what a region-dependent answer varies on."""
    region = regions.request_region()
    return regions.regime_for(revision["content"]["site"].get("regimes"), region), region


def config_json(revision: dict, regime: str, region: str | None) -> str:
    """The revision's config JSON with this request's `regime` and `region` first."""
    head = json.dumps({"regime": regime, "region": region}, separators=(",", ":"))
    return head[:-1] + "," + revision["config_json"][1:]


def config_body(revision: dict, regime: str, region: str | None) -> compression.Encoded:
    """The revision's config JSON for one (regime, region) in every encoding, compressed on its
    first request and kept with the cached revision (not in `cached_revision`: a decision must
    not wait for brotli)."""
    key = (regime, region)
    with _CACHE_LOCK:
        variants = revision.setdefault("config_variants", OrderedDict())
        encoded = variants.get(key)
    if encoded is None:
        # The ETag is the hash of the bytes, not of the revision's content: a release that
        # changes the config's shape must not be answered 304 from a browser's old copy, and
        # JP's answer never matches DE's.
        encoded = compression.Encoded.build(config_json(revision, regime, region).encode("utf-8"))
        with _CACHE_LOCK:
            encoded = variants.setdefault(key, encoded)
            while len(variants) > _VARIANTS:
                variants.popitem(last=False)
    return encoded


def _site_origins(db, site_key: str) -> list[str]:
    """The site's registered origins; they also become this response's CORS allow-list.

    The rate limiter has read them already for this request's site (ratelimit.limited).
    """
    origins = g.get("cors_origins")
    if origins is None:
        origins = registry_store.site_origins(db, site_key)
    if origins is None:
        raise ApiError(404, "unknown_site", f"No site '{site_key}'.")
    g.cors_origins = origins
    return origins


CORS_METHODS = {"api.config": "GET", "api.record_decision": "POST"}


@bp.after_request
def cors(response: Response) -> Response:
    """CORS for the site's own origins only, on every answer of a site's endpoints, errors too.

    A view names the allow-list by looking the site up (`_site_origins`); an error raised after
    that still carries the headers, so that the widget can read why it was refused.
    """
    origins = g.get("cors_origins")
    if origins is None:
        return response
    response.headers.add("Vary", "Origin")
    origin = request.headers.get("Origin")
    if origin and origin in origins:
        response.headers["Access-Control-Allow-Origin"] = origin
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = CORS_METHODS[request.endpoint]
            response.headers["Access-Control-Allow-Headers"] = "Content-Type"
            response.headers["Access-Control-Max-Age"] = "600"
    return response


@bp.errorhandler(ServiceError)
def service_error(error: ServiceError):
    return error_response(error.status, error.code, error.message)


def _require_origin(site_key: str, origins: list[str]) -> None:
    origin = request.headers.get("Origin")
    if origin not in origins:
        raise ApiError(
            403,
            "origin_not_allowed",
            f"Origin {origin or '(none)'} is not registered for site '{site_key}'.",
        )


@bp.route("/sites/<site_key>/config", methods=["GET", "OPTIONS"])
@limited("config")
def config(site_key):
    db = get_db()
    _site_origins(db, site_key)
    if request.method == "OPTIONS":
        return Response(status=204)
    revision = cached_revision(db, site_key)
    if revision is None:
        raise ApiError(404, "not_published", f"Site '{site_key}' has no published revision.")
    response = compression.respond(
        config_body(revision, *regional(revision)),
        "application/json",
        {"Cache-Control": "public, max-age=60"},
    )
    compression.add_vary(response.headers, *regions.vary_headers())
    return response


def _read_body() -> bytes:
    """The raw body, at most MAX_BODY bytes (413 beyond, whether announced or streamed)."""
    length = request.content_length
    if length is not None and length > rules.MAX_BODY:
        raise ApiError(413, "too_large", f"The body is larger than {rules.MAX_BODY} bytes.")
    raw = (
        request.get_data(cache=False)
        if length is not None
        else request.stream.read(rules.MAX_BODY + 1)
    )
    if len(raw) > rules.MAX_BODY:
        raise ApiError(413, "too_large", f"The body is larger than {rules.MAX_BODY} bytes.")
    return raw


MEDIA_TYPES = ("application/json", "text/plain")  # text/plain: a beacon needs no preflight


def parse_decision(raw: bytes, mimetype: str) -> object:
    """The decision body's JSON value; ApiError 415 or 400 when it cannot be read."""
    if (mimetype or "text/plain") not in MEDIA_TYPES:
        raise ApiError(
            415, "unsupported_media_type", "Send the decision as application/json or text/plain."
        )
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: "[[[[…"
        raise ApiError(400, "invalid_json", "The body is not valid JSON.") from None


def revision_hint(body: object) -> int | None:
    """The revision a decision names, if it is a plausible number: its head is read with the
    site's origins, in one query; the service checks the number properly."""
    hint = body.get("revision") if isinstance(body, dict) else None
    if isinstance(hint, int) and not isinstance(hint, bool) and 1 <= hint < rules.MAX_NUMBER:
        return hint
    return None


def json_bytes(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _json_response(value, status: int) -> Response:
    return Response(json_bytes(value), status=status, content_type="application/json")


def _visitor() -> decision_service.Visitor:
    return decision_service.Visitor(
        user_agent=request.headers.get("User-Agent"),
        remote_addr=request.remote_addr,
        gpc=request.headers.get("Sec-GPC") == "1",
        region=regions.request_region(),
    )


@bp.route("/sites/<site_key>/decisions", methods=["POST", "OPTIONS"])
@limited("decisions")
def record_decision(site_key):
    db = get_db()
    if request.method == "OPTIONS":
        _require_origin(site_key, _site_origins(db, site_key))
        return Response(status=204)
    raw = _read_body()
    try:
        body, problem = parse_decision(raw, request.mimetype), None
    except ApiError as error:  # reported once the site and the origin are known to be right
        body, problem = None, error
    # One query for the site's origins and the named revision's head.
    origins, head = registry_store.decision_context(db, site_key, revision_hint(body))
    if origins is None:
        raise ApiError(404, "unknown_site", f"No site '{site_key}'.")
    _require_origin(site_key, origins)
    g.cors_origins = origins
    if problem is not None:
        raise problem
    answer = decision_service.record(
        db,
        current_app.config["SECRET_KEY"],
        site_key,
        body,
        lambda number: cached_revision(db, site_key, number, head=head),
        _visitor(),
    )
    return _json_response(answer, 201)


def _receipt_site(consent_id: str) -> str:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        raise ApiError(
            401, "receipt_required", "Send the receipt as 'Authorization: Bearer <receipt>'."
        )
    return decision_service.check_receipt(
        current_app.config["SECRET_KEY"], consent_id, header[7:].strip()
    )


@bp.route("/consents/<consent_id>", methods=["GET"])
@limited("consents")
def read_consent(consent_id):
    site_key = _receipt_site(consent_id)
    found = decision_service.records(
        get_db(), current_app.config["SECRET_KEY"], site_key, consent_id
    )
    for item in found["decisions"]:
        for field in ("consent_id", "site_key", "user_agent", "client_hash"):
            item.pop(field)
    response = current_app.json.response({"consent_id": consent_id, "site": site_key, **found})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/consents/<consent_id>", methods=["DELETE"])
@limited("consents")
def erase_consent(consent_id):
    site_key = _receipt_site(consent_id)
    count = decision_service.erase(get_db(), current_app.config["SECRET_KEY"], site_key, consent_id)
    return current_app.json.response(
        {"consent_id": consent_id, "site": site_key, "decisions_erased": count}
    )
