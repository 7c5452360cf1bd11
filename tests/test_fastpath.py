"""The decisions endpoint under granian's adapter: answered without Flask (server/fastpath.py),
with the same status, headers and body as the Flask view, and unusual requests left to Flask."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from server import create_app
from server import decisions as rules
from server.rsgi import RSGIApp
from server.storage import decisions as log
from server.storage import engine
from server.storage import registry as registry_store
from server.storage import revisions as revision_store
from support import CDN_HEADERS, ORIGIN, decision

UA = "pytest-browser/1.0"


class Headers:
    """granian's RSGIHeaders as the adapter uses it: lower-case names, repeats kept."""

    def __init__(self, pairs):
        self.pairs = [(name.lower(), value) for name, value in pairs]

    def get(self, name, default=None):
        return next((v for n, v in self.pairs if n == name), default)

    def get_all(self, name):
        return [v for n, v in self.pairs if n == name]

    def items(self):
        return list(self.pairs)


class Scope:
    def __init__(self, path, headers, body, method="POST", scheme="http"):
        self.proto, self.http_version, self.scheme = "http", "1.1", scheme
        self.method, self.path, self.query_string = method, path, ""
        self.server, self.client = "127.0.0.1:8000", "192.0.2.7:40000"
        pairs = [("host", "127.0.0.1:8000"), *headers]
        if body is not None:
            pairs.append(("content-length", str(len(body))))
        self.headers = Headers(pairs)


class Protocol:
    def __init__(self, body):
        self.body = body or b""

    async def __call__(self):
        return self.body

    async def _chunks(self):
        yield self.body

    def __aiter__(self):  # a body without Content-Length is read chunk by chunk
        return self._chunks()

    def response_bytes(self, status, headers, body):
        self.answer = (status, list(headers), body)


def call(rsgi, body=None, headers=None, site="shop", **scope):
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    pairs = (
        [("content-type", "application/json"), ("origin", ORIGIN), ("user-agent", UA)]
        if headers is None
        else headers
    )
    protocol = Protocol(raw)
    asyncio.run(
        rsgi.__rsgi__(Scope(f"/api/v1/sites/{site}/decisions", pairs, raw, **scope), protocol)
    )
    return protocol.answer


def comparable(answer):
    """An answer with what differs between two recordings (ids, times, receipts) masked."""
    status, headers, body = answer
    text = body.decode()
    for field in ("consent_id", "recorded_at", "receipt"):
        text = re.sub(rf'"{field}":"[^"]*"', f'"{field}":"…"', text)
    text = re.sub(r"retry in \d+ s", "retry in … s", text)
    headers = [(n, "…" if n == "Retry-After" else v) for n, v in headers]
    return status, headers, text


def pair(db_path, **config):
    """(fast, flask): the adapter with its fast path, and one that sends everything to Flask."""
    app = create_app({"DATABASE": db_path, "SECRET_KEY": "test-secret", "TESTING": True, **config})
    fast, flask = RSGIApp(app), RSGIApp(app)
    flask.fast.enabled = False
    return fast, flask


@pytest.fixture
def both(db_path, published):
    return lambda **config: pair(db_path, **config)


REGIMES = {"default": "opt_in", "regions": {"JP": "notice", "US": "opt_out"}}


@pytest.fixture
def regional(db_path, db, registry_doc):
    """Both adapters for a site whose revision 1 has regional rules, the headers configured."""
    registry_doc["sites"][0]["regimes"] = REGIMES
    registry_store.apply(db, registry_doc, "test")
    revision_store.publish(db, "shop", "test")
    return pair(db_path, **CDN_HEADERS)


def regional_call(rsgi, body, country, subdivision=None):
    headers = [("content-type", "application/json"), ("origin", ORIGIN), ("user-agent", UA)]
    if country is not None:
        headers.append(("cf-ipcountry", country))
    if subdivision is not None:
        headers.append(("cf-region-code", subdivision))
    return call(rsgi, body, headers)


def stored_regional(db, answer):
    return db.execute(
        "SELECT action, regime, region FROM decisions WHERE consent_id = ?",
        [json.loads(answer[2])["consent_id"]],
    ).fetchone()


def test_a_decision_is_recorded_and_answered_as_the_flask_view_does(both, db):
    fast, flask = both()
    assert fast.fast.enabled
    answers = [call(rsgi, decision()) for rsgi in (fast, flask)]
    assert answers[0][0] == 201
    assert comparable(answers[0]) == comparable(answers[1])
    names = [name for name, _ in answers[0][1]]
    assert names == [
        "Content-Type",
        "Content-Length",
        "Vary",
        "Access-Control-Allow-Origin",
        "X-Content-Type-Options",
        "Referrer-Policy",
    ]
    # Committed before the answer, with what the Flask view stores.
    stored = [log.for_consent(db, json.loads(a[2])["consent_id"], "shop")[0] for a in answers]
    for record in stored:
        record.pop("consent_id"), record.pop("recorded_at")
    assert stored[0] == stored[1]
    assert stored[0]["user_agent"] == UA
    assert stored[0]["client_hash"] == rules.client_hash("test-secret", "192.0.2.7")
    assert stored[0]["page_url"] == "https://shop.example.co.jp/items/1"


@pytest.mark.parametrize(
    "case",
    [
        "invalid decision",
        "unknown category",
        "bad receipt",
        "replayed request",
        "request_id reused",
        "https",
        "text/plain",
        "global privacy control",
        "not an object",
    ],
)
def test_answers_made_on_the_fast_path_match_flask(both, case):
    fast, flask = both()
    body, extra, scope = decision(), [], {}
    if case == "invalid decision":
        body.pop("categories")
    elif case == "unknown category":
        body["categories"]["nope"] = True
    elif case == "bad receipt":
        body.update(consent_id="A" * 22, receipt="A" * 22 + ".shop.forged")
    elif case == "replayed request":
        body["request_id"] = "retry-12345"
        call(fast, body)
    elif case == "request_id reused":
        call(fast, {**body, "request_id": "used-12345"})
        body.update(request_id="used-12345", action="reject_all")
        body["categories"] = {"functional": False, "analytics": False, "advertising": False}
    elif case == "https":
        scope["scheme"] = "https"
    elif case == "text/plain":
        extra = [("content-type", "text/plain;charset=UTF-8")]
    elif case == "global privacy control":
        extra = [("sec-gpc", "1")]
    elif case == "not an object":
        body = b"[1, 2]"
    headers = extra + [
        (n, v)
        for n, v in [("content-type", "application/json"), ("origin", ORIGIN)]
        if not (extra and n == extra[0][0])
    ]
    answers = [call(rsgi, body, headers, **scope) for rsgi in (fast, flask)]
    assert comparable(answers[0]) == comparable(answers[1])
    expected = {
        "invalid decision": 400,
        "unknown category": 400,
        "bad receipt": 403,
        "replayed request": 201,
        "request_id reused": 409,
        "https": 201,
        "text/plain": 201,
        "global privacy control": 201,
        "not an object": 400,
    }[case]
    assert answers[0][0] == expected
    if case == "https":
        assert ("Strict-Transport-Security", "max-age=31536000; includeSubDomains") in answers[0][1]


@pytest.mark.parametrize(
    "case, status",
    [
        ("unknown site", 404),
        ("foreign origin", 403),
        ("no origin", 403),
        ("two origins", 403),
        ("not json", 400),
        ("form body", 415),
        ("no length", 201),
        ("too large", 413),
    ],
)
def test_unusual_requests_are_left_to_flask(both, case, status):
    fast, _ = both()
    body, headers, site = decision(), None, "shop"
    raw = json.dumps(body).encode()
    base = [("content-type", "application/json"), ("origin", ORIGIN)]
    if case == "unknown site":
        site = "nope"
    elif case == "foreign origin":
        headers = [("content-type", "application/json"), ("origin", "https://evil.example")]
    elif case == "no origin":
        headers = [("content-type", "application/json")]
    elif case == "two origins":
        headers = [*base, ("origin", "https://evil.example")]
    elif case == "not json":
        raw = b"{nope"
    elif case == "form body":
        headers = [("content-type", "application/x-www-form-urlencoded"), ("origin", ORIGIN)]
    elif case == "too large":
        raw = b" " * (rules.MAX_BODY + 1)
    pairs = headers or base
    protocol = Protocol(raw)
    scope = Scope(f"/api/v1/sites/{site}/decisions", pairs, raw)
    if case == "no length":  # a chunked body: no Content-Length
        scope.headers.pairs = [p for p in scope.headers.pairs if p[0] != "content-length"]
    # The fast path declines before counting or storing anything ...
    assert fast.fast.decision(site, scope, raw) is None
    # ... and Flask answers as it always has.
    asyncio.run(fast.__rsgi__(scope, protocol))
    assert protocol.answer[0] == status


def test_a_rate_limit_refusal_matches_flask(both):
    fast, flask = both(RATE_LIMIT="decisions.client=1/minute")
    assert call(fast, decision())[0] == 201
    answers = [call(rsgi, decision()) for rsgi in (fast, flask)]
    assert answers[0][0] == 429
    assert comparable(answers[0]) == comparable(answers[1])
    assert json.loads(answers[0][2])["error"]["code"] == "rate_limited"


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(both, db):
    fast, flask = both(TRUSTED_PROXIES="1")
    headers = [
        ("content-type", "application/json"),
        ("origin", ORIGIN),
        ("x-forwarded-for", "198.51.100.9, 203.0.113.20"),
    ]
    answers = [call(rsgi, decision(), headers) for rsgi in (fast, flask)]
    hashes = [
        log.for_consent(db, json.loads(a[2])["consent_id"], "shop")[0]["client_hash"]
        for a in answers
    ]
    assert hashes == [rules.client_hash("test-secret", "203.0.113.20")] * 2


def test_other_middleware_turns_the_fast_path_off(db_path, published):
    app = create_app({"DATABASE": db_path, "SECRET_KEY": "test-secret", "TESTING": True})
    inner = app.wsgi_app
    app.wsgi_app = lambda environ, start_response: inner(environ, start_response)  # type: ignore[method-assign]
    assert not RSGIApp(app).fast.enabled


@pytest.mark.parametrize(
    "country, subdivision, regime, region",
    [
        ("JP", "13", "notice", "JP-13"),
        ("us", "US-CA", "opt_out", "US-CA"),
        ("DE", None, "opt_in", "DE"),
        ("T1", None, "opt_in", None),  # Tor: no region, the site's default
        ("JP", "99", "notice", "JP"),  # not a subdivision of Japan: the country alone
        (None, None, "opt_in", None),
    ],
)
def test_a_regional_decision_is_stored_and_answered_as_the_flask_view_does(
    regional, db, country, subdivision, regime, region
):
    answers = [regional_call(rsgi, decision(), country, subdivision) for rsgi in regional]
    assert answers[0][0] == 201
    assert comparable(answers[0]) == comparable(answers[1])
    body = json.loads(answers[0][2])
    assert (body["regime"], body["region"]) == (regime, region)
    assert [tuple(stored_regional(db, a)) for a in answers] == [("custom", regime, region)] * 2


def test_repeated_region_headers_are_read_as_flask_reads_them(regional, db):
    fast, flask = regional
    headers = [
        ("content-type", "application/json"),
        ("origin", ORIGIN),
        ("cf-ipcountry", "JP"),
        ("cf-ipcountry", "DE"),  # joined "JP,DE": no region
    ]
    answers = [call(rsgi, decision(), headers) for rsgi in (fast, flask)]
    assert comparable(answers[0]) == comparable(answers[1])
    assert json.loads(answers[0][2])["region"] is None


def test_dismissing_a_notice_matches_flask(regional, db):
    body = {"revision": 1, "action": "dismiss", "language": "ja"}
    answers = [regional_call(rsgi, body, "JP") for rsgi in regional]
    assert answers[0][0] == 201, answers[0][2]
    assert comparable(answers[0]) == comparable(answers[1])
    assert all(json.loads(answers[0][2])["categories"].values())
    assert [tuple(stored_regional(db, a)) for a in answers] == [("dismiss", "notice", "JP")] * 2


def test_dismiss_where_consent_comes_first_is_refused_as_flask_refuses_it(regional, db):
    body = {"revision": 1, "action": "dismiss"}
    answers = [regional_call(rsgi, body, "DE") for rsgi in regional]
    assert answers[0][0] == 400
    assert comparable(answers[0]) == comparable(answers[1])
    assert "dismiss" in json.loads(answers[0][2])["error"]["message"]
    assert db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 0


def test_every_decision_gives_its_connection_back(both, db, monkeypatch):
    """PostgreSQL: with a pool of one connection, a decision that kept its connection (answered,
    refused, failed or left to Flask) would leave the next one waiting for the pool's timeout."""
    monkeypatch.setenv(engine.POOL_SIZE_ENV, "1")
    engine.close_pools()
    fast, _ = both()
    assert call(fast, decision())[0] == 201
    assert call(fast, {**decision(), "consent_id": "A" * 22, "receipt": "forged"})[0] == 403
    assert call(fast, b"{nope")[0] == 400  # left to Flask
    assert call(fast, decision())[0] == 201


def test_a_failing_decision_gives_its_connection_back_rolled_back(both, db, monkeypatch):
    monkeypatch.setenv(engine.POOL_SIZE_ENV, "1")
    engine.close_pools()
    fast, _ = both()
    db.execute("ALTER TABLE decisions RENAME TO decisions_away")  # the write fails mid-way
    answers = [call(fast, decision()) for _ in range(2)]
    assert [a[0] for a in answers] == [500, 500]
    assert json.loads(answers[0][2])["error"]["code"] == "internal_server_error"
    db.execute("ALTER TABLE decisions_away RENAME TO decisions")
    # The same thread's (or pool's) connection, with nothing of the failed write left open.
    assert call(fast, decision())[0] == 201
    assert db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 1
