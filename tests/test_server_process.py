"""The real server process: decisions acknowledged before a SIGKILL are all there after restart."""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

from server.cli import DEMO_FILE
from server.storage import connect, migrate
from server.storage import registry as registry_store
from server.storage import revisions as revision_store


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(db_path, port, tmp_path):
    # Off: one client posts and reads back hundreds of decisions a second here (the rate limits
    # have their own tests, tests/test_rate_limit.py).
    env = dict(os.environ, PRIVACY_CENTER_DB=db_path, PRIVACY_CENTER_RATE_LIMIT="off")
    env.pop("PRIVACY_CENTER_SECRET_KEY", None)
    with open(tmp_path / f"server-{port}.log", "ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "server",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "2",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                if r.status == 200:
                    return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError((tmp_path / f"server-{port}.log").read_text())


def post_decision(port, origin):
    body = json.dumps(
        {
            "revision": 1,
            "action": "accept_all",
            "categories": {"functional": True, "analytics": True, "advertising": True},
        }
    ).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/sites/shop/decisions",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Origin": origin},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 201
        return json.loads(response.read())


def test_acknowledged_decisions_survive_sigkill(tmp_path, db_path):
    import yaml

    db = connect(db_path)
    migrate(db)
    origin = "http://127.0.0.1:9"
    doc = yaml.safe_load(DEMO_FILE.read_text(encoding="utf-8"))
    for site in doc["sites"]:
        site["origins"].append(origin)
    registry_store.apply(db, doc, "test")
    revision_store.publish(db, "shop", "test")
    db.close()

    port = free_port()
    process = start(db_path, port, tmp_path)
    acknowledged, stop = [], threading.Event()

    def load():
        while not stop.is_set():
            try:
                acknowledged.append(post_decision(port, origin))
            except (OSError, http.client.HTTPException):
                # The server died mid-request (refused, reset, or an answer cut short such as
                # IncompleteRead): that decision was not acknowledged.
                return

    workers = [threading.Thread(target=load) for _ in range(4)]
    for worker in workers:
        worker.start()
    time.sleep(1.5)
    os.killpg(process.pid, signal.SIGKILL)  # master and workers, mid-traffic
    process.wait(timeout=10)
    stop.set()
    for worker in workers:
        worker.join(timeout=10)
    assert len(acknowledged) > 10

    port = free_port()
    process = start(db_path, port, tmp_path)
    try:
        for answer in acknowledged:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/v1/consents/{answer['consent_id']}",
                headers={"Authorization": f"Bearer {answer['receipt']}"},
            )
            with urllib.request.urlopen(request, timeout=5) as response:
                decisions = json.loads(response.read())["decisions"]
            assert [d["recorded_at"] for d in decisions] == [answer["recorded_at"]]
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)


def test_serve_refuses_a_bad_worker_count_with_a_readable_message(tmp_path):
    from click.testing import CliRunner

    from server.cli import main

    db = str(tmp_path / "pc.db")
    runner = CliRunner()
    result = runner.invoke(main, ["--database", db, "serve", "--workers", "0"])
    assert result.exit_code == 2 and "0 is not in the range x>=1" in result.output
    result = runner.invoke(main, ["--database", db, "serve"], env={"PRIVACY_CENTER_WORKERS": "x"})
    assert result.exit_code == 2 and "'x' is not a valid integer" in result.output
    result = runner.invoke(main, ["--database", db, "serve", "--server", "tornado"])
    assert result.exit_code == 2 and "'tornado' is not one of" in result.output


def test_the_worker_count_comes_from_the_environment_and_the_option_wins(tmp_path):
    """PRIVACY_CENTER_WORKERS sets the workers of `serve`; `--workers` overrides it."""
    db_path = str(tmp_path / "pc.db")
    for env_value, option, expected in (("3", None, 3), ("3", "1", 1)):
        port = free_port()
        env = dict(os.environ, PRIVACY_CENTER_DB=db_path, PRIVACY_CENTER_WORKERS=env_value)
        args = [sys.executable, "-m", "server", "serve", "--port", str(port)]
        with open(tmp_path / f"server-{port}.log", "wb") as log:
            process = subprocess.Popen(
                args + (["--workers", option] if option else []),
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + 20
            while True:
                text = (tmp_path / f"server-{port}.log").read_text()
                if text.count("Started worker-") >= expected:
                    break
                assert process.poll() is None and time.monotonic() < deadline, text
                time.sleep(0.1)
            time.sleep(0.5)  # no further worker follows
            text = (tmp_path / f"server-{port}.log").read_text()
            assert f"Spawning worker-{expected} " in text
            assert f"Spawning worker-{expected + 1} " not in text
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
