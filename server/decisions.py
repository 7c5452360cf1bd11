"""Validating a visitor's decision against the revision it names, and the receipts that prove it."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import ipaddress
import json
import re
import secrets
import time
from collections.abc import Mapping
from typing import Any, TypedDict
from urllib.parse import urlsplit, urlunsplit

from itsdangerous import BadSignature, Signer

from . import regions

# `dismiss`: a notice closed without choosing (docs/regions.md), only where things run until
# refused; it records the categories then in force.
ACTIONS = ("accept_all", "reject_all", "custom", "withdraw", "dismiss")
DISMISSIBLE = ("opt_out", "notice")
CONSENT_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}\Z")
MAX_BODY = 16 * 1024
MAX_NUMBER = 2**31  # revision numbers, far below what a database integer holds

# A published revision as storage returns it: its number and its compiled content (JSON).
Revision = dict[str, Any]


class Choice(TypedDict):
    """A validated decision, as the consent log records it."""

    revision: int
    action: str
    categories: dict[str, bool]  # every category of the revision, in its order
    vendors: dict[str, bool]  # every vendor of the revision, in its order
    language: str
    page_url: str | None
    gpc: bool
    regime: str  # the regime of the visitor's region under this revision
    region: str | None  # the visitor's region, None when unknown


class DecisionError(ValueError):
    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")


def new_consent_id() -> str:
    """22 URL-safe characters: the time in milliseconds (6 bytes), then 10 random bytes, as a
    UUIDv7 orders them. The consent log's index on consent ids then grows where the newest are,
    not at a random page for every decision (one page written per batch of decisions, and the
    recent part of the index stays in memory however long the log); 80 random bits still make
    an id unguessable (and a receipt, not the id, is what adds to or reads a record). The id
    says when it was made, which its first decision records anyway."""
    stamp = (time.time_ns() // 1_000_000).to_bytes(6, "big")
    return base64.urlsafe_b64encode(stamp + secrets.token_bytes(10)).decode().rstrip("=")


def _bool_map(value: object, field: str, known: Mapping[str, object], what: str) -> dict[str, bool]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DecisionError(field, "must be an object of key: true/false")
    for key, choice in value.items():
        if key not in known:
            raise DecisionError(f"{field}.{key}", f"no {what} '{key}' in this revision")
        if not isinstance(choice, bool):
            raise DecisionError(f"{field}.{key}", "must be true or false")
    return value


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")  # JSON allows lone surrogates ("\ud800"); UTF-8 does not
    except UnicodeEncodeError:
        return False
    return True


def clean_page_url(value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 2048:
        raise DecisionError("page_url", "must be a URL of at most 2048 characters")
    if not value.isprintable() or not _encodable(value):
        raise DecisionError("page_url", "must be an http(s) URL")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:  # a bad port or an unclosed IPv6 bracket
        raise DecisionError("page_url", "must be an http(s) URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DecisionError("page_url", "must be an http(s) URL")
    # The query and fragment may carry personal data (search terms, tokens): never stored.
    netloc = parts.hostname + (f":{port}" if port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def validate(
    body: object, revision: Revision, gpc_header: bool = False, region: str | None = None
) -> Choice:
    """Check a decision body against a revision; return the complete choice to record.

    The choice lists every category and vendor in the revision's order (the log relies on it).

    Every optional category must be decided; required ones may be left out and are recorded
    as accepted. Vendors left out follow their category; a vendor cannot be accepted while its
    category is refused. Under Global Privacy Control (where the site honours it), categories
    marked `gpc_refuses` are recorded as refused whatever the body says.

    The regime is the revision's for the visitor's `region`. `dismiss` is allowed only under
    opt_out and notice, and records what is in force there without a choice: every optional
    category accepted but those GPC refuses; its `categories` may be left out, and if given
    must say exactly that.
    """
    if not isinstance(body, dict):
        raise DecisionError("(body)", "must be a JSON object")
    content = revision["content"]
    site = content["site"]
    action = body.get("action")
    if action is None:
        raise DecisionError("action", "missing")
    if action not in ACTIONS:
        raise DecisionError("action", f"must be one of {', '.join(ACTIONS)}")
    regime = regions.regime_for(site.get("regimes"), region)
    if action == "dismiss" and regime not in DISMISSIBLE:
        raise DecisionError(
            "action",
            f"dismiss is only for a notice (regime opt_out or notice); here the regime is {regime}",
        )
    categories = {c["key"]: c for c in content["categories"]}
    vendors = {v["key"]: v for v in content["vendors"]}
    gpc_body = body.get("gpc", False)
    if not isinstance(gpc_body, bool):
        raise DecisionError("gpc", "must be true or false")
    gpc = bool(gpc_body or gpc_header)
    gpc_applies = gpc and site.get("honor_gpc", False)
    if action == "dismiss" and body.get("categories") is None:
        body = {**body, "categories": {k: True for k, c in categories.items() if not c["required"]}}
    if "categories" not in body:
        raise DecisionError("categories", "missing")
    chosen = _bool_map(body["categories"], "categories", categories, "category")
    vendor_choice = _bool_map(body.get("vendors"), "vendors", vendors, "vendor")
    for key, accepted in vendor_choice.items():
        if action == "dismiss" and not accepted:
            raise DecisionError(f"vendors.{key}", "dismiss refuses nothing: send custom instead")

    out_categories: dict[str, bool] = {}
    for key, category in categories.items():
        if category["required"]:
            if chosen.get(key) is False:
                raise DecisionError(f"categories.{key}", "is required and cannot be refused")
            out_categories[key] = True
            continue
        if key not in chosen:
            raise DecisionError(f"categories.{key}", "missing")
        accepted = chosen[key]
        if gpc_applies and category["gpc_refuses"]:
            accepted = False
        out_categories[key] = accepted

    optional = [k for k, c in categories.items() if not c["required"]]
    expected = {k: not (gpc_applies and categories[k]["gpc_refuses"]) for k in optional}
    if action in ("accept_all", "dismiss") and any(
        out_categories[k] != expected[k] for k in optional
    ):
        raise DecisionError("categories", f"{action} must accept every optional category")
    if action in ("reject_all", "withdraw") and any(out_categories[k] for k in optional):
        raise DecisionError("categories", f"{action} must refuse every optional category")

    out_vendors: dict[str, bool] = {}
    for key, vendor in vendors.items():
        category_ok = out_categories[vendor["category"]]
        choice = vendor_choice.get(key, category_ok)
        if (
            choice
            and not category_ok
            and not (gpc_applies and categories[vendor["category"]]["gpc_refuses"])
        ):
            raise DecisionError(
                f"vendors.{key}",
                f"cannot be accepted while category '{vendor['category']}' is refused",
            )
        out_vendors[key] = bool(choice and category_ok)

    language = body.get("language", site["default_language"])
    if not isinstance(language, str) or language not in site["languages"]:
        raise DecisionError("language", f"must be one of {', '.join(site['languages'])}")
    return {
        "revision": revision["number"],
        "action": action,
        "categories": out_categories,
        "vendors": out_vendors,
        "language": language,
        "page_url": clean_page_url(body.get("page_url")),
        "gpc": gpc,
        "regime": regime,
        "region": region,
    }


def revision_number(body: object) -> int:
    if not isinstance(body, dict):
        raise DecisionError("(body)", "must be a JSON object")
    number = body.get("revision")
    if number is None:
        raise DecisionError("revision", "missing")
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number < MAX_NUMBER:
        raise DecisionError("revision", "must be a revision number (a whole number from 1)")
    return number


class Receipts:
    """Signed receipts that bind a consent id to a site; whoever holds one may read and erase."""

    def __init__(self, secret_key: str):
        # A plain signed string `<consent id>.<site key>.<signature>`: neither part can hold a
        # dot, and it costs a tenth of a JSON serializer on the hot path of recording.
        self._signer = Signer(
            secret_key, salt="privacy-center.receipt", digest_method=hashlib.sha256
        )

    def issue(self, consent_id: str, site_key: str) -> str:
        return self._signer.sign(f"{consent_id}.{site_key}").decode()

    def check(self, receipt: object, consent_id: str) -> str | None:
        """The receipt's site if it is genuine and names `consent_id`, else None."""
        if not isinstance(receipt, str) or len(receipt) > 512:
            return None
        try:
            value = self._signer.unsign(receipt).decode()
        except (BadSignature, UnicodeDecodeError):
            return None
        signed_id, _, site_key = value.partition(".")
        if not site_key or not hmac.compare_digest(signed_id, consent_id):
            return None
        return site_key


@functools.lru_cache(maxsize=8)
def receipts(secret_key: str) -> Receipts:
    """The Receipts of a secret key, made once per process: its signer is stateless."""
    return Receipts(secret_key)


def client_hash(secret_key: str, address: str | None) -> str | None:
    """A keyed hash of the visitor's network, never the address itself.

    IPv4 is cut to its /24 and IPv6 to its /48 before hashing, so that the log can show a burst
    from one network without holding anything that identifies a household.
    """
    if not address:
        return None
    parts = address.split(".")
    if len(parts) == 4 and all(p.isdigit() and int(p) < 256 for p in parts):
        network = ".".join(parts[:3]) + ".0/24"  # the common case, without ipaddress's cost
    else:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return None
        prefix = 24 if ip.version == 4 else 48
        network = str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))
    return hmac.new(secret_key.encode(), network.encode(), hashlib.sha256).hexdigest()[:16]


def consent_hash(secret_key: str, consent_id: str) -> str:
    """How an erased consent id is remembered: a keyed hash, so the erasure record holds no id."""
    return hmac.new(
        secret_key.encode(), f"erasure:{consent_id}".encode(), hashlib.sha256
    ).hexdigest()


# Duplicate-free retries: the widget sends a random request_id with each decision and the same
# one again when it retries; the server answers a repeat from its first answer for this long.
REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}\Z")
REQUEST_WINDOW_MS = 24 * 3600 * 1000


def request_id(body: object) -> str | None:
    """The body's request_id, None when it has none; a malformed one is refused."""
    if not isinstance(body, dict) or body.get("request_id") is None:
        return None
    value = body["request_id"]
    if not isinstance(value, str) or not REQUEST_ID.match(value):
        raise DecisionError("request_id", "must be 8 to 64 characters, each A-Z, a-z, 0-9, _ or -")
    return value


def fingerprint(body: dict[str, Any]) -> str:
    """A hash of what a decision asks for, to tell a retry from a different request."""
    rest = {k: v for k, v in body.items() if k != "request_id"}
    text = json.dumps(rest, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()
