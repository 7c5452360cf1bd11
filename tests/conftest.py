"""Fixtures: an app on its own new database (a SQLite file, or a PostgreSQL database when
PRIVACY_CENTER_TEST_ENGINE=postgresql: tests/support.py), its client, tokens and a registry."""

from __future__ import annotations

import copy

import pytest

from server import create_app
from server.storage import accounts, connect, migrate
from server.storage import registry as registry_store
from server.storage import revisions as revision_store
from support import ADMIN_PASSWORD, DATABASES, REGIMES, REGISTRY, AdminClient, skip_sqlite_only


def pytest_collection_modifyitems(config, items):
    skip_sqlite_only(items)


def pytest_sessionfinish(session, exitstatus):
    DATABASES.close()


@pytest.fixture
def registry_doc():
    return copy.deepcopy(REGISTRY)


@pytest.fixture
def new_database(tmp_path):
    """`new_database(name="pc", empty=False)`: where a new database of this run's engine is (a
    path or a URL); on PostgreSQL it already has the schema unless `empty`. Dropped after."""
    made = []

    def make(name: str = "pc", empty: bool = False) -> str:
        made.append(DATABASES.new(tmp_path, name, empty))
        return made[-1]

    yield make
    for location in made:
        DATABASES.give_back(location)


@pytest.fixture
def db_path(new_database):
    return new_database()


@pytest.fixture
def db(db_path):
    database = connect(db_path)
    migrate(database)
    yield database
    database.close()


@pytest.fixture
def app(db_path, db):
    return create_app({"DATABASE": db_path, "SECRET_KEY": "test-secret", "TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def regional(db, registry_doc):
    """The test registry with REGIMES, published as revision 1 of 'shop'."""
    registry_doc["sites"][0]["regimes"] = REGIMES
    registry_store.apply(db, registry_doc, "test")
    revision, _ = revision_store.publish(db, "shop", "test")
    return revision


@pytest.fixture
def published(db, registry_doc):
    """The test registry applied and published as revision 1 of 'shop'."""
    registry_store.apply(db, registry_doc, "test")
    revision, _ = revision_store.publish(db, "shop", "test")
    return revision


@pytest.fixture
def token(db):
    return accounts.create_token(db, "tests")


@pytest.fixture
def auth(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin_client(app, db):
    """`admin_client(role)`: a new client signed in to the admin UI as a user of that role."""

    def sign_in(role: str = "editor", email: str | None = None) -> AdminClient:
        email = email or f"{role}@example.com"
        if not any(user["email"] == email for user in accounts.list_users(db)):
            accounts.create_user(db, email, ADMIN_PASSWORD, role)
        return AdminClient(app.test_client(), email)

    return sign_in


def _serving(log_dir):
    """`start(db_path, workers=2, **env)`: `privacy-center serve` on a free loopback port, as a
    process group stopped when the generator ends; `start` returns its base URL."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    processes = []

    def start(db_path: str, workers: int = 2, **env: str) -> str:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        environ = dict(os.environ, PRIVACY_CENTER_DB=db_path, **env)
        environ.pop("PRIVACY_CENTER_SECRET_KEY", None)
        log_path = log_dir / f"serve-{port}.log"
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "server", "serve", "--host", "127.0.0.1"]
                + ["--port", str(port), "--workers", str(workers)],
                env=environ,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        processes.append(process)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
                    if response.status == 200:
                        return url
            except OSError:
                time.sleep(0.1)
        raise AssertionError(log_path.read_text())

    yield start
    for process in processes:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)


@pytest.fixture
def served(tmp_path):
    """`served(db_path, **env)`: a real server for this test (see _serving)."""
    yield from _serving(tmp_path)


@pytest.fixture(scope="module")
def served_module(tmp_path_factory):
    """`served_module(db_path, **env)`: a real server for the whole test module."""
    yield from _serving(tmp_path_factory.mktemp("serve"))
