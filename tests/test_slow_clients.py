"""The real `serve`, default serving model: slow clients starve nothing, decisions still work.

Each test starts `privacy-center serve` as a subprocess on a free port, with its defaults (no
`--server`, no `--workers`): what a deployment gets. With gunicorn's sync workers, both slow
client tests fail (0 of 12 probes answered while 50 clients trickled their headers or their
bodies); with granian's own WSGI interface, the slow-body one does (3 or 4 of 12).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
import yaml

from server.cli import DEMO_FILE
from server.storage import accounts, connect, migrate
from server.storage import registry as registry_store
from server.storage import revisions as revision_store

ORIGIN = "http://127.0.0.1:9"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def served(db_path, tmp_path):
    """`privacy-center serve` with its defaults on a free port, the demo registry published."""
    db = connect(db_path)
    migrate(db)
    doc = yaml.safe_load(DEMO_FILE.read_text(encoding="utf-8"))
    for site in doc["sites"]:
        site["origins"].append(ORIGIN)
    registry_store.apply(db, doc, "test")
    revision_store.publish(db, "shop", "test")
    db.close()
    env = dict(os.environ, PRIVACY_CENTER_DB=db_path)
    for name in ("PRIVACY_CENTER_SECRET_KEY", "PRIVACY_CENTER_WORKERS", "PRIVACY_CENTER_SERVER"):
        env.pop(name, None)
    port = free_port()
    log_path = tmp_path / "server.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "server", "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log_path.read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.1)
        yield port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def probe(port) -> float | None:
    """Seconds a fresh health probe took, or None if it got no 200 within 2 s."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            if response.status != 200:
                return None
    except OSError:
        return None
    took = time.monotonic() - started
    return took if took <= 2 else None


def probes_while_trickling(port, head: bytes, trickled: bytes) -> list[float | None]:
    """12 health probes while 50 clients send `head` at once, then `trickled` a byte per 0.2 s."""
    stop = threading.Event()
    sent = [0] * 50
    sockets = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(50)]

    def trickle(index, sock):
        try:
            sock.sendall(head)
            for byte in trickled[:-1]:  # never finishes its request while the probes run
                if stop.wait(0.2):
                    return
                sock.sendall(bytes([byte]))
                sent[index] += 1
        except OSError:
            return

    threads = [threading.Thread(target=trickle, args=(i, sock)) for i, sock in enumerate(sockets)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(1.5)  # every slow client has its connection open and is mid-request
        answers = [probe(port) for _ in range(12)]
        trickling = sum(1 for count in sent if count >= 5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
        for sock in sockets:
            sock.close()
    assert trickling == 50, f"only {trickling} slow clients were still sending"
    return answers


def test_fifty_clients_trickling_headers_do_not_starve_health_probes(served):
    request = (
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow\r\nX-Padding: "
        + b"p" * 100
        + b"\r\n\r\n"
    )
    answers = probes_while_trickling(served, b"", request)
    answered = [a for a in answers if a is not None]
    assert len(answered) == 12, f"{len(answered)} of 12 health probes answered within 2 s"


def test_fifty_clients_trickling_decision_bodies_do_not_starve_health_probes(served):
    """Headers sent whole, the body a byte at a time: the app never waits on such a body."""
    body = decision_body(page_url="https://shop.example/" + "x" * 100).encode()
    head = (
        b"POST /api/v1/sites/shop/decisions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Origin: " + ORIGIN.encode() + b"\r\nContent-Type: text/plain\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    answers = probes_while_trickling(served, head, body)
    answered = [a for a in answers if a is not None]
    assert len(answered) == 12, f"{len(answered)} of 12 health probes answered within 2 s"


def decision_body(**extra):
    return json.dumps(
        {
            "revision": 1,
            "action": "accept_all",
            "categories": {"functional": True, "analytics": True, "advertising": True},
            **extra,
        }
    )


def test_the_decision_path_works_end_to_end_on_one_kept_alive_connection(served):
    conn = http.client.HTTPConnection("127.0.0.1", served, timeout=10)
    try:
        # CORS preflight, as a browser sends it before a POST with a JSON content type.
        conn.request(
            "OPTIONS",
            "/api/v1/sites/shop/decisions",
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        response = conn.getresponse()
        response.read()
        assert response.status == 204
        assert response.getheader("Access-Control-Allow-Origin") == ORIGIN
        assert response.getheader("Access-Control-Allow-Methods") == "POST"
        sock = conn.sock

        # The widget's own post: text/plain (a "simple" request, no preflight), same connection.
        conn.request(
            "POST",
            "/api/v1/sites/shop/decisions",
            body=decision_body(),
            headers={"Content-Type": "text/plain;charset=UTF-8", "Origin": ORIGIN},
        )
        response = conn.getresponse()
        answer = json.loads(response.read())
        assert response.status == 201, answer
        assert response.getheader("Access-Control-Allow-Origin") == ORIGIN
        assert conn.sock is sock, "the server closed a kept-alive connection"

        # A body over the decision limit: 413 in the JSON error shape, the site's CORS header on.
        conn.request(
            "POST",
            "/api/v1/sites/shop/decisions",
            body=decision_body(page_url="https://shop.example/" + "x" * 20_000),
            headers={"Content-Type": "text/plain", "Origin": ORIGIN},
        )
        response = conn.getresponse()
        error = json.loads(response.read())
        assert response.status == 413
        assert error["error"]["code"] == "too_large" and error["error"]["message"]
    finally:
        conn.close()

    # The receipt reads the decision back: it was stored, on its own connection.
    conn = http.client.HTTPConnection("127.0.0.1", served, timeout=10)
    try:
        conn.request(
            "GET",
            f"/api/v1/consents/{answer['consent_id']}",
            headers={"Authorization": f"Bearer {answer['receipt']}"},
        )
        response = conn.getresponse()
        decisions = json.loads(response.read())["decisions"]
        assert response.status == 200
        assert [d["recorded_at"] for d in decisions] == [answer["recorded_at"]]
    finally:
        conn.close()


def test_a_body_over_the_server_limit_is_refused_without_being_read(served):
    """A 64 MiB upload announced by Content-Length gets its 413 before the server reads it."""
    with socket.create_connection(("127.0.0.1", served), timeout=10) as sock:
        sock.sendall(
            b"POST /admin/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 67108864\r\n\r\n" + b"a" * 65536
        )
        started = time.monotonic()
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(65536)
            if not chunk:
                break
            head += chunk
    assert head.startswith(b"HTTP/1.1 413"), head[:200]
    assert time.monotonic() - started < 5


def test_requests_reach_the_app_as_a_wsgi_server_would_hand_them(served, db_path):
    """server/rsgi.py: the path decoded once, a chunked body bounded, an export streamed."""
    db = connect(db_path)
    token = accounts.create_token(db, "tests")
    db.close()
    conn = http.client.HTTPConnection("127.0.0.1", served, timeout=10)
    try:
        conn.request("GET", "/api/v1/x%2525y%C3%A9?q=%20")
        response = conn.getresponse()
        error = json.loads(response.read())
        assert response.status == 404
        assert "/api/v1/x%25yé;" in error["error"]["message"]

        # A body of unknown length over the decision limit: 413, not a hang or a 500.
        conn.request(
            "POST",
            "/api/v1/sites/shop/decisions",
            body=iter([b"{" + b" " * 10_000, b" " * 10_000, b"}"]),
            headers={"Content-Type": "text/plain", "Origin": ORIGIN},
            encode_chunked=True,
        )
        response = conn.getresponse()
        error = json.loads(response.read())
        assert response.status == 413 and error["error"]["code"] == "too_large"

        conn.request(
            "POST",
            "/api/v1/sites/shop/decisions",
            body=decision_body(),
            headers={"Content-Type": "application/json", "Origin": ORIGIN},
        )
        response = conn.getresponse()
        consent_id = json.loads(response.read())["consent_id"]
        assert response.status == 201

        # The export is streamed (no length known in advance) and arrives whole.
        conn.request(
            "GET",
            "/api/v1/admin/sites/shop/decisions?format=csv",
            headers={"Authorization": f"Bearer {token}"},
        )
        response = conn.getresponse()
        lines = response.read().decode().splitlines()
        assert response.status == 200
        assert response.getheader("Transfer-Encoding") == "chunked"
        assert lines[0].startswith("recorded_at,consent_id,") and len(lines) == 2
        assert consent_id in lines[1]
    finally:
        conn.close()
