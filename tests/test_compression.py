"""gzip and brotli on the wire: negotiation, identical bytes once decoded, ETags, 304, Vary."""

import gzip
import http.client
import os
import signal
import socket
import subprocess
import sys
import time

import brotli
import pytest

from server.compression import choose, parse_accept_encoding
from server.storage import registry as registry_store
from server.storage import revisions as revision_store
from support import ORIGIN, decision

CONFIG = "/api/v1/sites/shop/config"
# Every response the brief names, through the app: the config (compressed once per revision)
# and the pages built per request (compressed by the after-request hook).
COMPRESSED = [
    CONFIG,
    "/api/v1/sites/shop/disclosure",
    "/sites/shop/disclosure?lang=en",
    "/sites/shop/disclosure?lang=ja",
    "/demo/shop",
]


def decode(response):
    coding = response.headers.get("Content-Encoding")
    if coding == "br":
        return brotli.decompress(response.data)
    if coding == "gzip":
        return gzip.decompress(response.data)
    assert coding is None, coding
    return response.data


def vary(response):
    lines = response.headers.getlist("Vary")
    assert len(lines) == 1, lines  # one header, merged
    return [v.strip() for v in lines[0].split(",")]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "identity"),  # no header: plain bytes
        ("", "identity"),
        ("gzip", "gzip"),
        ("br", "br"),
        ("gzip, deflate, br, zstd", "br"),  # Chromium: equal weights, the smaller wins
        ("gzip, deflate", "gzip"),  # Safari before 17 / curl --compressed without brotli
        ("x-gzip", "gzip"),
        ("GZIP", "gzip"),
        ("br;q=0.5, gzip;q=0.8", "gzip"),
        ("br;q=0, gzip", "gzip"),
        ("br;q=0, gzip;q=0", "identity"),
        ("*", "br"),
        ("*;q=0.5, gzip;q=0.9", "gzip"),
        ("*;q=0", "identity"),  # nothing acceptable: plain bytes rather than a 406
        ("identity", "identity"),
        ("identity;q=1, gzip;q=0.5", "identity"),
        ("identity;q=0, gzip;q=0.1", "gzip"),
        ("deflate, zstd", "identity"),
        ("br;q=2, gzip", "gzip"),  # a q-value out of range drops its entry
        ("br;q=high, gzip;q=0.1", "gzip"),
        (" br ; q=0.9 ,gzip; q=0.9", "br"),
    ],
)
def test_negotiation(header, expected):
    assert choose(header, ("br", "gzip")) == expected


def test_negotiation_without_brotli():
    assert choose("br", ("gzip",)) == "identity"
    assert choose("br, gzip;q=0.1", ("gzip",)) == "gzip"
    assert parse_accept_encoding("gzip;q=0.5, br") == {"gzip": 0.5, "br": 1.0}


@pytest.mark.parametrize("path", COMPRESSED)
def test_each_encoding_decodes_to_the_identity_body(client, published, path):
    headers = {"Origin": ORIGIN}
    plain = client.get(path, headers=headers)
    assert plain.status_code == 200
    assert "Content-Encoding" not in plain.headers  # no Accept-Encoding: identity
    assert len(plain.data) > 1024
    etags = {plain.headers["ETag"]}
    for header, coding in (("gzip", "gzip"), ("br", "br"), ("gzip, deflate, br", "br")):
        response = client.get(path, headers={**headers, "Accept-Encoding": header})
        assert response.status_code == 200
        assert response.headers["Content-Encoding"] == coding
        assert int(response.headers["Content-Length"]) == len(response.data)
        assert len(response.data) < len(plain.data) * 0.6
        assert decode(response) == plain.data
        assert "Accept-Encoding" in vary(response)
        etags.add(response.headers["ETag"])
    identity = client.get(path, headers={**headers, "Accept-Encoding": "identity"})
    assert "Content-Encoding" not in identity.headers and identity.data == plain.data
    assert "Accept-Encoding" in vary(identity) and "Accept-Encoding" in vary(plain)
    assert len(etags) == 3  # identity, gzip, br: three strong ETags
    assert all(e.startswith('"') for e in etags)


@pytest.mark.parametrize("path", COMPRESSED)
def test_304_per_encoding(client, published, path):
    for header in ("gzip", "br", None):
        headers = {"Accept-Encoding": header} if header else {}
        first = client.get(path, headers=headers)
        etag = first.headers["ETag"]
        again = client.get(path, headers={**headers, "If-None-Match": etag})
        assert again.status_code == 304 and again.data == b""
        assert again.headers["ETag"] == etag
        assert "Accept-Encoding" in vary(again)
        weak = client.get(path, headers={**headers, "If-None-Match": f"W/{etag}"})
        assert weak.status_code == 304  # If-None-Match compares weakly
    # A cached gzip copy does not validate a brotli request: the client gets brotli bytes.
    gz = client.get(path, headers={"Accept-Encoding": "gzip"})
    other = client.get(path, headers={"Accept-Encoding": "br", "If-None-Match": gz.headers["ETag"]})
    assert other.status_code == 200 and other.headers["Content-Encoding"] == "br"


@pytest.mark.parametrize("path", COMPRESSED)
def test_head(client, published, path):
    get = client.get(path, headers={"Accept-Encoding": "br"})
    head = client.head(path, headers={"Accept-Encoding": "br"})
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Encoding"] == "br"
    assert head.headers["Content-Length"] == get.headers["Content-Length"]
    assert head.headers["ETag"] == get.headers["ETag"]


def test_config_vary_keeps_origin_and_cors(client, published):
    response = client.get(CONFIG, headers={"Origin": ORIGIN, "Accept-Encoding": "br"})
    assert set(vary(response)) == {"Accept-Encoding", "Origin"}
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert response.headers["Cache-Control"] == "public, max-age=60"
    assert response.content_type == "application/json"
    page = client.get("/sites/shop/disclosure", headers={"Accept-Encoding": "gzip"})
    assert set(vary(page)) == {"Accept-Encoding", "Accept-Language"}


def test_a_new_revision_changes_every_config_etag(client, db, published, registry_doc):
    before = {
        h: client.get(CONFIG, headers={"Accept-Encoding": h}).headers["ETag"]
        for h in ("gzip", "br", "identity")
    }
    registry_doc["sites"][0]["categories"][1]["name"]["en"] = "Functional, renamed"
    registry_store.apply(db, registry_doc, "test")
    revision_store.publish(db, "shop", "test")
    for header, etag in before.items():
        response = client.get(CONFIG, headers={"Accept-Encoding": header, "If-None-Match": etag})
        assert response.status_code == 200
        assert response.headers["ETag"] != etag
        assert b"Functional, renamed" in decode(response)


def test_config_is_compressed_once_per_revision(client, published):
    from server import api

    def encoded():
        return [e for r in api._REVISIONS.values() for e in r.get("config_variants", {}).values()]

    first = client.get(CONFIG, headers={"Accept-Encoding": "br"})
    cached = encoded()
    client.get(CONFIG, headers={"Accept-Encoding": "gzip"})
    again = encoded()
    assert len(cached) >= 1 and all(a is b for a, b in zip(cached, again, strict=True))
    assert first.data in [e.br for e in cached]


def test_the_decision_answer_and_small_answers_stay_plain(client, published):
    answer = client.post(
        "/api/v1/sites/shop/decisions",
        json=decision(),
        headers={"Origin": ORIGIN, "Accept-Encoding": "gzip, br"},
    )
    assert answer.status_code == 201
    assert "Content-Encoding" not in answer.headers
    assert len(answer.data) < 1024  # not worth a compressed copy (docs/benchmarks.md)
    gpc = client.get("/.well-known/gpc.json", headers={"Accept-Encoding": "gzip, br"})
    assert gpc.status_code == 200 and "Content-Encoding" not in gpc.headers
    missing = client.get("/sites/nope/disclosure", headers={"Accept-Encoding": "gzip, br"})
    assert missing.status_code == 404 and "Content-Encoding" not in missing.headers
    error = client.get("/api/v1/sites/nope/config", headers={"Accept-Encoding": "gzip, br"})
    assert error.status_code == 404 and error.json["error"]["code"] == "unknown_site"


def test_admin_pages_are_not_compressed(client, published):
    # They carry the session's CSRF token beside reflected input: compressing them is BREACH.
    page = client.get("/admin/login", headers={"Accept-Encoding": "gzip, br"})
    assert page.status_code == 200 and "Content-Encoding" not in page.headers


# One real server process (gunicorn), spoken to over a socket with http.client, which neither
# asks for nor decodes compression on its own.


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(tmp_path, published, db_path):
    port = free_port()
    log_path = tmp_path / "server.log"
    env = dict(os.environ, PRIVACY_CENTER_DB=db_path, PRIVACY_CENTER_SECRET_KEY="test-secret")
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "server", "serve", "--host", "127.0.0.1"]
            + ["--port", str(port), "--workers", "1"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                status, _, _ = fetch(port, "GET", "/healthz")
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise AssertionError(log_path.read_text())
            time.sleep(0.1)
        yield port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)


def fetch(port, method, path, **headers):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request(method, path, headers=headers)
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def test_real_server_negotiates(server):
    for path in (CONFIG, "/sites/shop/disclosure?lang=ja"):
        status, headers, plain = fetch(server, "GET", path, Origin=ORIGIN)
        assert status == 200 and headers["Content-Encoding"] is None
        assert int(headers["Content-Length"]) == len(plain)
        decoders = {"gzip": gzip.decompress, "br": brotli.decompress}
        for accept, coding in (("gzip", "gzip"), ("br", "br"), ("gzip, deflate, br, zstd", "br")):
            status, headers, body = fetch(server, "GET", path, **{"Accept-Encoding": accept})
            assert status == 200 and headers["Content-Encoding"] == coding
            assert int(headers["Content-Length"]) == len(body) < len(plain)
            assert decoders[coding](body) == plain
            assert "Accept-Encoding" in headers["Vary"]
            status, again, body = fetch(
                server, "GET", path, **{"Accept-Encoding": accept, "If-None-Match": headers["ETag"]}
            )
            assert status == 304 and body == b""
            status, head, body = fetch(server, "HEAD", path, **{"Accept-Encoding": accept})
            assert status == 200 and body == b"" and head["Content-Encoding"] == coding
            assert head["Content-Length"] == headers["Content-Length"]
