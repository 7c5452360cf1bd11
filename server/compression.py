"""gzip and brotli for responses worth it, negotiated from Accept-Encoding.

Two ways in:

- `Encoded.build(raw)` + `respond(encoded, content_type)`: bytes compressed once (at the highest
  levels) and kept by the caller, e.g. per published revision (the config JSON, the widget).
- `init_app(app)`: an after-request hook that compresses the responses of the endpoints in
  `COMPRESSED_ENDPOINTS` (pages built per request: the disclosure page and JSON, the demo), at
  cheap levels, remembering the compressed bytes of recent identical bodies. It also merges every
  response's `Vary` lines into one.

Every compressed answer carries `Vary: Accept-Encoding` and a strong ETag that differs per
encoding (`"<hash>"`, `"<hash>-gz"`, `"<hash>-br"`), and answers 304 to a matching
If-None-Match. Admin pages are left alone on purpose: they carry the session's CSRF token next to
text a request can reflect, the setting in which compression leaks secrets (BREACH).
"""

from __future__ import annotations

import gzip as gzip_module
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from flask import Flask, Response, request
from werkzeug.datastructures import Headers

try:
    import brotli
except ImportError:  # brotli is optional: gzip alone still serves every browser
    brotli = None

# Below this, compression saves less than a packet and costs a header; the body goes as it is.
MIN_SIZE = 1024
# When the client weighs them equally, the smaller encoding wins.
PREFERENCE = ("br", "gzip", "identity")
SUFFIX = {"br": "-br", "gzip": "-gz", "identity": ""}
COMPRESSIBLE = frozenset(
    {
        "text/html",
        "text/css",
        "text/plain",
        "text/javascript",
        "application/javascript",
        "application/json",
        "image/svg+xml",
    }
)
# Per-request pages that the hook compresses (GET/HEAD, status 200, at least MIN_SIZE bytes).
# Not here: the decision answer (a POST, ~0.5 kB), the visitor's own consent records (no-store,
# personal), the admin UI (BREACH, see above); the config JSON and the widget do it themselves.
COMPRESSED_ENDPOINTS = frozenset(
    {
        "privacy_center.index",
        "privacy_center.site_disclosure",
        "privacy_center.disclosure_json",
        "widget.demo",
        "widget.demo_video",
        "openapi.openapi_json",
    }
)
# Levels for bodies compressed per request: ~0.1-1 ms for 60 kB; a few % larger than the best.
DYNAMIC_GZIP_LEVEL = 6
DYNAMIC_BROTLI_QUALITY = 5
# Compressed bytes of recent bodies, keyed by (body hash, encoding), bounded in total size.
_MEMO_BYTES = 4 * 1024 * 1024
_memo: OrderedDict[tuple[str, str], bytes] = OrderedDict()
_memo_size = 0
_memo_lock = threading.Lock()


def parse_accept_encoding(header: str | None) -> dict[str, float]:
    """{coding: q} from an Accept-Encoding value; `x-gzip` is `gzip`; a bad q-value drops its
    entry (RFC 9110 12.5.3)."""
    weights: dict[str, float] = {}
    for item in (header or "").split(","):
        coding, _, params = item.partition(";")
        coding = coding.strip().lower()
        if not coding:
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = -1.0
        if not 0.0 <= q <= 1.0:
            continue
        weights["gzip" if coding == "x-gzip" else coding] = q
    return weights


def choose(header: str | None, available: Iterable[str]) -> str:
    """The encoding to send: "br", "gzip" or "identity".

    No header at all means identity (RFC 9110 allows any coding, but old clients and tools
    that send none expect plain bytes). A coding not named takes `*`'s weight, else 0; identity
    is acceptable unless `identity;q=0`, or `*;q=0` without an identity entry, excludes it, and
    when not named it comes after every coding named. The highest weight wins, `br` before
    `gzip` before identity on a tie. When nothing offered is acceptable the body goes
    uncompressed rather than as a 406.
    """
    if header is None:
        return "identity"
    weights = parse_accept_encoding(header)
    star = weights.get("*")
    best, best_q = "identity", 0.0
    for coding in PREFERENCE:
        if coding != "identity" and coding not in available:
            continue
        if coding in weights:
            q = weights[coding]
        elif star is not None:
            q = star
        else:  # identity not named: acceptable, but after any coding the client named
            q = 0.001 if coding == "identity" else 0.0
        if q > best_q:  # PREFERENCE order breaks ties
            best, best_q = coding, q
    return best


def add_vary(headers: Headers, *fields: str) -> None:
    """Add fields to the response's Vary, keeping it one header without repeats."""
    values: list[str] = []
    for line in headers.getlist("Vary") + list(fields):
        for value in line.split(","):
            value = value.strip()
            if value and value.lower() not in {v.lower() for v in values}:
                values.append(value)
    if not values:
        return
    headers["Vary"] = "*" if "*" in values else ", ".join(values)


@dataclass(frozen=True)
class Encoded:
    """One body in every encoding worth sending, and the ETag of its identity bytes."""

    identity: bytes
    gzip: bytes | None
    br: bytes | None
    etag: str

    @classmethod
    def build(
        cls, raw: bytes, etag: str | None = None, gzip_level: int = 9, br_quality: int = 11
    ) -> Encoded:
        """Compressed once, at the best levels (brotli 11 costs ~70-250 ms for 5-70 kB)."""
        etag = etag or hashlib.sha256(raw).hexdigest()[:32]
        if len(raw) < MIN_SIZE:
            return cls(raw, None, None, etag)
        return cls(
            identity=raw,
            gzip=gzip_module.compress(raw, gzip_level, mtime=0),
            br=brotli.compress(raw, quality=br_quality) if brotli else None,
            etag=etag,
        )

    @property
    def available(self) -> tuple[str, ...]:
        return tuple(c for c in ("br", "gzip") if getattr(self, c) is not None)

    def body(self, coding: str) -> bytes:
        return self.identity if coding == "identity" else getattr(self, coding)


def respond(encoded: Encoded, content_type: str, headers: dict | None = None) -> Response:
    """A 200 in the encoding the request accepts, or a 304 when its If-None-Match matches."""
    coding = choose(request.headers.get("Accept-Encoding"), encoded.available)
    etag = encoded.etag + SUFFIX[coding]
    if request.if_none_match.contains_weak(etag):  # RFC 9110: If-None-Match compares weakly
        response = Response(status=304)
    else:
        response = Response(encoded.body(coding), content_type=content_type)
        if coding != "identity":
            response.headers["Content-Encoding"] = coding
    response.headers["ETag"] = f'"{etag}"'
    if encoded.available:
        add_vary(response.headers, "Accept-Encoding")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _compress(raw: bytes, digest: str, coding: str) -> bytes:
    global _memo_size
    key = (digest, coding)
    with _memo_lock:
        found = _memo.get(key)
        if found is not None:
            _memo.move_to_end(key)
            return found
    if coding == "br":
        out = brotli.compress(raw, quality=DYNAMIC_BROTLI_QUALITY)
    else:
        out = gzip_module.compress(raw, DYNAMIC_GZIP_LEVEL, mtime=0)
    with _memo_lock:
        if key not in _memo:
            _memo[key] = out
            _memo_size += len(out)
            while _memo_size > _MEMO_BYTES:
                _, dropped = _memo.popitem(last=False)
                _memo_size -= len(dropped)
    return out


def compress_response(response: Response) -> Response:
    """Compress a finished 200 answer to a GET/HEAD in place (or turn it into a 304)."""
    if (
        request.method not in ("GET", "HEAD")
        or response.status_code != 200
        or response.direct_passthrough
        or response.is_streamed
        or "Content-Encoding" in response.headers
        or response.mimetype not in COMPRESSIBLE
    ):
        return response
    raw = response.get_data()
    if len(raw) < MIN_SIZE:
        return response
    digest = hashlib.sha256(raw).hexdigest()[:32]
    available = ("br", "gzip") if brotli else ("gzip",)
    coding = choose(request.headers.get("Accept-Encoding"), available)
    etag = digest + SUFFIX[coding]
    add_vary(response.headers, "Accept-Encoding")
    response.headers["ETag"] = f'"{etag}"'
    if request.if_none_match.contains_weak(etag):
        response.status_code = 304
        response.set_data(b"")
        del response.headers["Content-Length"]
        return response
    if coding != "identity":
        response.set_data(_compress(raw, digest, coding))
        response.headers["Content-Encoding"] = coding
    return response


def init_app(app: Flask) -> None:
    @app.after_request
    def compression(response: Response) -> Response:
        if request.endpoint in COMPRESSED_ENDPOINTS:
            response = compress_response(response)
        if len(response.headers.getlist("Vary")) > 1:
            add_vary(response.headers)  # blueprints add Origin, Accept-Language: one line
        return response
