"""A site's decisions endpoint answered without Flask's request machinery, under granian.

Flask's request context, routing, hooks and response objects cost a decision about as much CPU
as the decision's own work (docs/benchmarks.md, "Decisions without Flask (fast path)"). `server/rsgi.py` hands
a `POST /api/v1/sites/<site>/decisions` here first. The rules are the ones the Flask view
calls (`api.parse_decision`, the service's `record`, the rate limiter); this module adds only
the HTTP around them, with the headers Flask's hooks would add (CORS, security headers).

Anything out of the ordinary goes to Flask unchanged, before anything is counted or stored:
an unknown site, an origin that is not the site's, a body that is not a JSON decision, a
missing or oversized Content-Length, a repeated Origin header, an app wrapped in middleware
other than ProxyFix. Flask then answers exactly as it always has. What is answered here is a
recorded decision (201), a rate-limit refusal (429) and the service's refusals (4xx), the same
status, headers and body as the Flask view's (tests/test_fastpath.py compares them).
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from werkzeug.exceptions import InternalServerError
from werkzeug.middleware.proxy_fix import ProxyFix

from . import api, regions, security_headers
from . import decisions as rules
from .errors import ApiError
from .ratelimit import limiter_for, refusal_headers, refusal_message
from .services import decisions as decision_service
from .services.errors import ServiceError
from .storage import engine
from .storage import registry as registry_store
from .storage.engine import Database

DECISIONS = re.compile(r"/api/v1/sites/([^/]+)/decisions\Z")

Answer = tuple[int, list[tuple[str, str]], bytes]


def _header(headers: Any, name: str) -> str | None:
    """A header's value as Flask reads it from the adapter's environ: repeats joined by ","."""
    return ",".join(headers.get_all(name.lower())) or None


class FastPath:
    """The decisions endpoint for one app; `route(method, path)` says whether it applies."""

    def __init__(self, app: Flask):
        self.app = app
        self.database: str = app.config["DATABASE"]
        self.secret: str = app.config["SECRET_KEY"]
        self.limiter = limiter_for(app)
        wsgi: Any = app.wsgi_app
        flask_app = Flask.wsgi_app.__get__(app)
        self.proxy_fix: Any = None
        if isinstance(wsgi, ProxyFix):
            # The address as ProxyFix makes it: ProxyFix itself, around an app that returns it.
            self.proxy_fix = ProxyFix(lambda environ, _: environ["REMOTE_ADDR"], x_for=wsgi.x_for)
            wsgi = wsgi.app
        # Other middleware around the app: not mimicked here, so every request goes to Flask.
        self.enabled = wsgi == flask_app

    def route(self, method: str, path: str) -> str | None:
        """The site key of a decision to answer here, or None for Flask."""
        if not self.enabled or method != "POST":
            return None
        match = DECISIONS.match(path)
        return match.group(1) if match else None

    def decision(self, site_key: str, scope: Any, body: bytes) -> Answer | None:
        """Answer a decision post, or None (before any side effect) to leave it to Flask.

        The database connection is borrowed as `db.get_db` borrows it for a Flask request
        (storage/engine.py: the thread's SQLite connection, or one from the PostgreSQL pool)
        and given back before this returns, rolled back if an error left a transaction open.
        """
        db: Database | None = None
        try:
            db = engine.acquire(self.database)
            return self._decision(db, site_key, scope, body)
        except Exception:
            self.app.logger.exception("Exception on %s [POST]", scope.path)
            description = InternalServerError.description or "Internal Server Error"
            return self._error(500, "internal_server_error", description, [], scope)
        finally:
            if db is not None:
                engine.release(db)

    def _decision(self, db: Database, site_key: str, scope: Any, body: bytes) -> Answer | None:
        headers = scope.headers
        length = headers.get("content-length")
        if (
            length is None
            or not length.isdigit()
            or int(length) > rules.MAX_BODY
            or len(body) != int(length)
        ):
            return None
        origin_values = headers.get_all("origin")
        if len(origin_values) != 1:
            return None
        origin = origin_values[0]
        mimetype = headers.get("content-type", "").partition(";")[0].strip().lower()
        try:
            value = api.parse_decision(body, mimetype)
        except ApiError:
            return None
        origins, head = registry_store.decision_context(db, site_key, api.revision_hint(value))
        if origins is None or origin not in origins:
            return None
        cors = [("Vary", "Origin"), ("Access-Control-Allow-Origin", origin)]
        # From here on the request is counted: every answer is made here.
        remote_addr = self._remote_addr(scope)
        if self.limiter is not None:
            client = rules.client_hash(self.secret, remote_addr)
            refusal = self.limiter.check("decisions", client or "unknown", site_key)
            if refusal is not None:
                return self._error(
                    429,
                    "rate_limited",
                    refusal_message(refusal, site_key),
                    refusal_headers(refusal) + cors,
                    scope,
                )
        visitor = decision_service.Visitor(
            user_agent=_header(headers, "user-agent"),
            remote_addr=remote_addr,
            gpc=_header(headers, "sec-gpc") == "1",
            # The region as the Flask view reads it (regions.request_region), from the same
            # configured headers; the service derives the regime from it and the revision.
            region=regions.header_region(self.app.config, lambda name: _header(headers, name)),
        )
        try:
            answer = decision_service.record(
                db,
                self.secret,
                site_key,
                value,
                lambda number: api.cached_revision(db, site_key, number, head, self.database),
                visitor,
            )
        except ServiceError as error:
            return self._error(error.status, error.code, error.message, cors, scope)
        raw = api.json_bytes(answer)
        return 201, self._headers(raw, cors, scope), raw

    def _remote_addr(self, scope: Any) -> str:
        address = scope.client.rpartition(":")[0].strip("[]")
        if self.proxy_fix is None:
            return address
        forwarded = ",".join(scope.headers.get_all("x-forwarded-for"))
        environ = {"REMOTE_ADDR": address}
        if forwarded:
            environ["HTTP_X_FORWARDED_FOR"] = forwarded
        return str(self.proxy_fix(environ, None))

    def _headers(
        self, raw: bytes, extra: list[tuple[str, str]], scope: Any
    ) -> list[tuple[str, str]]:
        return [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(raw))),
            *extra,
            *security_headers.defaults(scope.scheme == "https"),
        ]

    def _error(
        self,
        status: int,
        code: str,
        message: str,
        extra: list[tuple[str, str]],
        scope: Any = None,
    ) -> Answer:
        """The JSON error shape, byte for byte as `errors.error_response` (jsonify) makes it."""
        text = self.app.json.dumps(
            {"error": {"code": code, "message": message}}, separators=(",", ":")
        )
        raw = f"{text}\n".encode()
        secure = scope is not None and scope.scheme == "https"
        return (
            status,
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(raw))),
                *extra,
                *security_headers.defaults(secure),
            ],
            raw,
        )
