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

import asyncio
import re
from dataclasses import dataclass
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
from .storage.schema import write

DECISIONS = re.compile(r"/api/v1/sites/([^/]+)/decisions\Z")

Answer = tuple[int, list[tuple[str, str]], bytes]


@dataclass
class Ready:
    """A decision post past the checks that need no count: to be counted against the rate
    limits, then stored (`pending`) or refused by the service (`refusal`, its answer)."""

    site_key: str
    client: str | None  # the keyed hash the limits count
    cors: list[tuple[str, str]]
    scope: Any
    pending: decision_service.Pending | None
    refusal: Answer | None = None
    answer: dict[str, Any] | None = None  # what the service stored


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
        # SQLite: decisions are stored in batches on the event loop (`batched`); PostgreSQL
        # writes many transactions at once, each decision in its own on the app thread.
        self.grouped = not engine.is_postgresql(self.database)
        self._batch: list[tuple[Ready, asyncio.Future[Answer]]] = []

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
        step = self.prepare(site_key, scope, body)
        if not isinstance(step, Ready):
            return step
        return self.store([step])[0]

    async def batched(self, site_key: str, scope: Any, body: bytes) -> Answer | None:
        """`decision`, on the event loop's thread, its write grouped with the others that the
        loop has in hand: one transaction and one commit for all of them (group commit).

        SQLite writes one transaction at a time, and each commit writes every page it changed
        (a decision changes about ten: the log, its indexes, the day's rollups) and waits its
        turn on the write lock: a batch changes those pages and takes that lock once. The loop
        runs the decisions that arrived while the last batch was being written, then writes
        them together, and each is answered only once the batch is committed. Each decision
        is stored under a savepoint, so one refused (an erased consent id, a reused
        request_id) changes nothing of the others.
        """
        step = self.prepare(site_key, scope, body)
        if not isinstance(step, Ready):
            return step
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._batch.append((step, future))
        if len(self._batch) == 1:
            # After one more turn of the loop: the requests whose bytes arrived meanwhile
            # are read and join this batch (docs/benchmarks.md, "Consent ids in time order").
            loop = asyncio.get_running_loop()
            loop.call_soon(loop.call_soon, self._flush)
        return await future

    def _flush(self) -> None:
        batch, self._batch = self._batch, []
        try:
            answers = self.store([step for step, _ in batch])
        except Exception:  # store() answers its own faults; never leave a post unanswered
            answers = [self._failed(step.scope) for step, _ in batch]
        for (_, future), answer in zip(batch, answers, strict=True):
            if not future.cancelled():  # a client gone meanwhile: its decision is stored
                future.set_result(answer)

    def prepare(self, site_key: str, scope: Any, body: bytes) -> Answer | Ready | None:
        """What `decision` does before its write: an answer already (None for Flask, a
        refusal), or the decision ready to store."""
        db: Database | None = None
        try:
            db = engine.acquire(self.database)
            return self._prepare(db, site_key, scope, body)
        except Exception:
            return self._failed(scope)
        finally:
            if db is not None:
                engine.release(db)

    def store(self, steps: list[Ready]) -> list[Answer]:
        """Count decision posts against the rate limits, then store those admitted in one
        transaction: their answers, in order."""
        answers: list[Answer | None] = [step.refusal for step in steps]
        if self.limiter is not None:
            # As the Flask view: every post that got this far counts, refused by the service
            # or not, and a post over its limit gets the 429 whatever the service would say.
            refusals = self.limiter.check_many(
                "decisions", [(step.client or "unknown", step.site_key) for step in steps]
            )
            for index, (step, refusal) in enumerate(zip(steps, refusals, strict=True)):
                if refusal is not None:
                    answers[index] = self._error(
                        429,
                        "rate_limited",
                        refusal_message(refusal, step.site_key),
                        refusal_headers(refusal) + step.cors,
                        step.scope,
                    )
        todo = [index for index, answer in enumerate(answers) if answer is None]
        # Then the answers of those stored, once committed (receipts are signed out of the
        # lock). One transaction for the batch on SQLite; on PostgreSQL one each, as the Flask view
        # (its held writes, `execute_late`, cannot be undone by a savepoint).
        for group in [todo] if self.grouped else [[index] for index in todo]:
            if group:
                self._transaction([steps[index] for index in group], group, answers)
        return [
            self._stored(step) if answer is None else answer
            for step, answer in zip(steps, answers, strict=True)
        ]

    def _transaction(self, steps: list[Ready], at: list[int], answers: list[Answer | None]) -> None:
        """Store `steps` in one transaction; the refusals go to `answers` at the indexes `at`,
        and a fault of the transaction to every one of them."""
        db: Database | None = None
        try:
            db = engine.acquire(self.database)
            # One decision alone (PostgreSQL): its locks go with the BEGIN, one round trip.
            alone = steps[0].pending.locks if len(steps) == 1 and steps[0].pending else []
            with write(db, *alone):
                for index, step in zip(at, steps, strict=True):
                    answers[index] = self._store(db, step, savepoint=len(steps) > 1)
        except Exception:
            for index, step in zip(at, steps, strict=True):
                answers[index] = self._failed(step.scope)
        finally:
            if db is not None:
                engine.release(db)

    def _store(self, db: Database, step: Ready, savepoint: bool) -> Answer | None:
        """One decision inside the batch's transaction: None when stored (`step.answer` holds
        what the service stored), else its refusal, having written nothing."""
        assert step.pending is not None
        if savepoint:
            db.execute("SAVEPOINT decision")
        try:
            with write(db, *step.pending.locks):
                step.answer = decision_service.store(db, step.pending)
        except ServiceError as error:
            if savepoint:
                db.execute("ROLLBACK TO decision")
                db.execute("RELEASE decision")
            return self._error(error.status, error.code, error.message, step.cors, step.scope)
        except Exception:
            if not savepoint:
                raise
            db.execute("ROLLBACK TO decision")
            db.execute("RELEASE decision")
            return self._failed(step.scope)
        if savepoint:
            db.execute("RELEASE decision")
        return None

    def _stored(self, step: Ready) -> Answer:
        assert step.pending is not None and step.answer is not None
        raw = api.json_bytes(decision_service.receipted(step.pending, step.answer))
        return 201, self._headers(raw, step.cors, step.scope), raw

    def _failed(self, scope: Any) -> Answer:
        self.app.logger.exception("Exception on %s [POST]", scope.path)
        description = InternalServerError.description or "Internal Server Error"
        return self._error(500, "internal_server_error", description, [], scope)

    def _prepare(
        self, db: Database, site_key: str, scope: Any, body: bytes
    ) -> Answer | Ready | None:
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
        # From here on the request is counted (in `store`) and every answer is made here.
        remote_addr = self._remote_addr(scope)
        client = rules.client_hash(self.secret, remote_addr)
        visitor = decision_service.Visitor(
            user_agent=_header(headers, "user-agent"),
            remote_addr=remote_addr,
            gpc=_header(headers, "sec-gpc") == "1",
            # The region as the Flask view reads it (regions.request_region), from the same
            # configured headers; the service derives the regime from it and the revision.
            region=regions.header_region(self.app.config, lambda name: _header(headers, name)),
            client_hash=client,
        )
        try:
            pending = decision_service.prepare(
                db,
                self.secret,
                site_key,
                value,
                lambda number: api.cached_revision(db, site_key, number, head, self.database),
                visitor,
            )
        except ServiceError as error:
            refusal = self._error(error.status, error.code, error.message, cors, scope)
            return Ready(site_key, client, cors, scope, None, refusal)
        return Ready(site_key, client, cors, scope, pending)

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
