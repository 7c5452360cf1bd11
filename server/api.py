"""The public API: published configuration, recording decisions, and a visitor's own records."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict

from flask import Blueprint, Response, current_app, request

from . import decisions as rules
from .db import get_db
from .errors import ApiError, error_response
from .revisions import public_config
from .storage import decisions as log
from .storage import registry as registry_store
from .storage import revisions as revision_store

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# Revisions never change once published, so a worker may keep them; the key includes the
# content hash, so nothing here can go stale or differ between workers.
_REVISIONS: OrderedDict = OrderedDict()
_CACHE_SIZE = 256
_CACHE_LOCK = threading.Lock()  # threaded servers share the cache between requests


def cached_revision(db, site_key: str, number: int | None = None, head=False) -> dict | None:
    """A published revision (the latest one without `number`), from this worker's cache.

    `head`, when the caller already has it, is the revision's (number, content hash).
    """
    head = head if head is not False else revision_store.head(db, site_key, number)
    if head is None:
        return None
    key = (current_app.config["DATABASE"], site_key, head[0], head[1])
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


def _site_origins(db, site_key: str) -> list[str]:
    origins = registry_store.site_origins(db, site_key)
    if origins is None:
        raise ApiError(404, "unknown_site", f"No site '{site_key}'.")
    return origins


def _cors(response: Response, origins: list[str], methods: str) -> Response:
    origin = request.headers.get("Origin")
    response.headers.add("Vary", "Origin")
    if origin and origin in origins:
        response.headers["Access-Control-Allow-Origin"] = origin
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = methods
            response.headers["Access-Control-Allow-Headers"] = "Content-Type"
            response.headers["Access-Control-Max-Age"] = "600"
    return response


@bp.route("/sites/<site_key>/config", methods=["GET", "OPTIONS"])
def config(site_key):
    db = get_db()
    origins = _site_origins(db, site_key)
    if request.method == "OPTIONS":
        return _cors(Response(status=204), origins, "GET")
    revision = cached_revision(db, site_key)
    if revision is None:
        raise ApiError(404, "not_published", f"Site '{site_key}' has no published revision.")
    etag = f"{revision['content_hash'][:32]}-{revision['number']}"
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        response = Response(revision["config_json"], content_type="application/json")
    response.set_etag(etag)
    response.headers["Cache-Control"] = "public, max-age=60"
    return _cors(response, origins, "GET")


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


def _parse_body(raw: bytes) -> object:
    mimetype = request.mimetype or "text/plain"
    if mimetype not in ("application/json", "text/plain"):
        raise ApiError(
            415, "unsupported_media_type", "Send the decision as application/json or text/plain."
        )
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: "[[[[…"
        raise ApiError(400, "invalid_json", "The body is not valid JSON.") from None


def _json_response(value, status: int) -> Response:
    return Response(
        json.dumps(value, ensure_ascii=False, separators=(",", ":")),
        status=status,
        content_type="application/json",
    )


@bp.route("/sites/<site_key>/decisions", methods=["POST", "OPTIONS"])
def record_decision(site_key):
    db = get_db()
    if request.method == "OPTIONS":
        origins = _site_origins(db, site_key)
        if request.headers.get("Origin") not in origins:
            return _origin_refused(site_key)
        return _cors(Response(status=204), origins, "POST")
    raw = _read_body()
    try:
        body, problem = _parse_body(raw), None
    except ApiError as error:  # reported once the site and the origin are known to be right
        body, problem = None, error
    hint = body.get("revision") if isinstance(body, dict) else None
    hint = (
        hint
        if isinstance(hint, int) and not isinstance(hint, bool) and 1 <= hint < rules.MAX_NUMBER
        else None
    )
    # One query for the site's origins and the named revision's head.
    origins, head = registry_store.decision_context(db, site_key, hint)
    if origins is None:
        raise ApiError(404, "unknown_site", f"No site '{site_key}'.")
    if request.headers.get("Origin") not in origins:
        return _origin_refused(site_key)
    if problem is not None:
        raise problem
    try:
        number = rules.revision_number(body)
        revision = cached_revision(db, site_key, number, head=head)
        if revision is None:
            raise rules.DecisionError("revision", f"site '{site_key}' has no revision {number}")
        choice = rules.validate(body, revision, gpc_header=request.headers.get("Sec-GPC") == "1")
    except rules.DecisionError as error:
        return _cors(error_response(400, "invalid_decision", str(error)), origins, "POST")
    secret = current_app.config["SECRET_KEY"]
    receipts = rules.Receipts(secret)
    consent_id = body.get("consent_id")
    if consent_id is None:
        consent_id = rules.new_consent_id()
    elif not isinstance(consent_id, str) or not rules.CONSENT_ID.match(consent_id):
        return _cors(
            error_response(
                400, "invalid_decision", "consent_id: must be a consent id from an earlier answer"
            ),
            origins,
            "POST",
        )
    elif receipts.check(body.get("receipt"), consent_id) != site_key:
        # Without this, anyone who saw a consent id could add to it and get its receipt.
        return _cors(
            error_response(
                403,
                "bad_receipt",
                "receipt: a decision for an existing consent id must carry "
                "that consent id's receipt",
            ),
            origins,
            "POST",
        )
    elif log.erasures(db, rules.consent_hash(secret, consent_id), site_key):
        # An erased consent id stays erased; the widget starts a new one on this answer.
        return _cors(
            error_response(
                403,
                "bad_receipt",
                "receipt: this consent id's records were erased; decide again without it",
            ),
            origins,
            "POST",
        )
    recorded_at = log.record(
        db,
        site_key,
        consent_id,
        choice,
        request.headers.get("User-Agent"),
        rules.client_hash(secret, request.remote_addr),
    )
    return _cors(
        _json_response(
            {
                "consent_id": consent_id,
                "receipt": receipts.issue(consent_id, site_key),
                "revision": choice["revision"],
                "recorded_at": recorded_at,
                "categories": choice["categories"],
                "vendors": choice["vendors"],
                "gpc": choice["gpc"],
            },
            201,
        ),
        origins,
        "POST",
    )


def _origin_refused(site_key):
    origin = request.headers.get("Origin")
    return error_response(
        403,
        "origin_not_allowed",
        f"Origin {origin or '(none)'} is not registered for site '{site_key}'.",
    )


def _receipt_site(consent_id: str) -> str:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        raise ApiError(
            401, "receipt_required", "Send the receipt as 'Authorization: Bearer <receipt>'."
        )
    site_key = rules.Receipts(current_app.config["SECRET_KEY"]).check(
        header[7:].strip(), consent_id
    )
    if site_key is None:
        raise ApiError(403, "bad_receipt", "This receipt does not belong to this consent id.")
    return site_key


@bp.route("/consents/<consent_id>", methods=["GET"])
def read_consent(consent_id):
    site_key = _receipt_site(consent_id)
    db = get_db()
    secret = current_app.config["SECRET_KEY"]
    items = log.for_consent(db, consent_id, site_key)
    for item in items:
        for field in ("consent_id", "site_key", "user_agent", "client_hash"):
            item.pop(field)
    response = current_app.json.response(
        {
            "consent_id": consent_id,
            "site": site_key,
            "decisions": items,
            "erasures": log.erasures(db, rules.consent_hash(secret, consent_id), site_key),
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/consents/<consent_id>", methods=["DELETE"])
def erase_consent(consent_id):
    site_key = _receipt_site(consent_id)
    secret = current_app.config["SECRET_KEY"]
    count = log.erase(get_db(), consent_id, site_key, rules.consent_hash(secret, consent_id))
    return current_app.json.response(
        {"consent_id": consent_id, "site": site_key, "decisions_erased": count}
    )
