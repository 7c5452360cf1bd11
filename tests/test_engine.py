"""The engine layer on this run's engine: portable SQL, migrating from several machines at
once, a write's locks, and an unreachable database as one readable line."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from server.storage import connect, migrate, write
from server.storage import registry as registry_store
from server.storage import revisions as revision_store
from server.storage.schema import STEPS, schema_version
from support import ON_POSTGRESQL


def test_placeholders_and_percent_signs_inside_quotes_are_left_alone(db):
    row = db.execute("SELECT '?', ?, '100%', 'a''?'", ["given"]).fetchone()
    assert tuple(row) == ("?", "given", "100%", "a'?")


def test_a_lookup_with_a_nul_character_finds_nothing_instead_of_failing(db, published):
    assert registry_store.get_site(db, "shop\x00") is None
    assert registry_store.get_site(db, "shop") is not None


def test_ids_come_back_from_inserts_and_big_integers_fit(db):
    # Milliseconds since the epoch and 56-bit user-agent ids need 64 bits on both engines.
    with write(db):
        first = db.execute(
            "INSERT INTO login_failures (scope, at) VALUES (?, ?) RETURNING id", ["a", 1.5]
        ).fetchone()[0]
        second = db.execute(
            "INSERT INTO login_failures (scope, at) VALUES (?, ?) RETURNING id",
            ["a", 1733299200.123456],
        ).fetchone()[0]
        db.execute("INSERT INTO user_agents (id, value, uses) VALUES (?, ?, 1)", [2**55 + 3, "UA"])
    assert second > first
    assert db.execute("SELECT MAX(at) FROM login_failures").fetchone()[0] == 1733299200.123456
    assert db.execute("SELECT id FROM user_agents").fetchone()[0] == 2**55 + 3


def test_a_failed_write_leaves_nothing_behind(db):
    with pytest.raises(RuntimeError), write(db):
        db.execute("INSERT INTO login_failures (scope, at) VALUES (?, ?)", ["x", 1.0])
        raise RuntimeError("midway")
    assert not db.in_transaction
    assert db.execute("SELECT COUNT(*) FROM login_failures").fetchone()[0] == 0


def test_a_named_lock_makes_the_second_writer_wait_for_the_first(db_path):
    first, second = connect(db_path), connect(db_path)
    order = []
    with write(first, "registry"):
        waiter = threading.Thread(target=lambda: _write_after(second, order))
        waiter.start()
        time.sleep(0.5)
        order.append("first commits")
    waiter.join(15)
    assert order == ["first commits", "second writes"]
    first.close()
    second.close()


def _write_after(db, order):
    with write(db, "registry"):
        order.append("second writes")


def test_init_db_from_several_machines_at_once_migrates_once(new_database, tmp_path):
    location = new_database(empty=True)
    env = dict(os.environ, PRIVACY_CENTER_DB=location)
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "server", "init-db"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [process.communicate(timeout=120)[0] for process in processes]
    assert [process.returncode for process in processes] == [0] * 4, outputs
    assert sum("(was 0)" in output for output in outputs) == 1, outputs
    assert sum("(up to date)" in output for output in outputs) == 3, outputs
    db = connect(location)
    assert schema_version(db) == len(STEPS)
    assert migrate(db) == (len(STEPS), len(STEPS))
    db.close()


@pytest.mark.skipif(not ON_POSTGRESQL, reason="a PostgreSQL URL")
def test_an_unreachable_postgresql_is_one_readable_line():
    result = subprocess.run(
        [sys.executable, "-m", "server", "init-db"],
        env=dict(os.environ, PRIVACY_CENTER_DB="postgresql://root:secret@127.0.0.1:9/none"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("Error: cannot open the database: postgresql://root:***@")
    assert "secret" not in result.stderr and "Traceback" not in result.stderr


def test_a_site_with_no_vendors_publishes(db, registry_doc):
    # Its revision reads the vendors of no keys: an empty `IN ()`, which PostgreSQL refuses.
    for site in registry_doc["sites"]:
        site["vendors"] = []
    registry_store.apply(db, registry_doc, "test")
    revision, created = revision_store.publish(db, "shop", "test")
    assert created and revision["content"]["vendors"] == []


@pytest.mark.skipif(not ON_POSTGRESQL, reason="PostgreSQL's connection pool")
def test_requests_share_a_bounded_pool_of_connections(app, db, published, db_path, monkeypatch):
    from server.storage import engine
    from support import decision

    monkeypatch.setenv(engine.POOL_SIZE_ENV, "2")
    engine.close_pools(db_path)
    client = app.test_client()
    errors = []

    def post_some():
        for _ in range(10):
            answer = client.post(
                "/api/v1/sites/shop/decisions",
                json=decision(),
                headers={"Origin": "https://shop.example.co.jp"},
            )
            if answer.status_code != 201:
                errors.append(answer.status_code)

    threads = [threading.Thread(target=post_some) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    database = db_path.rsplit("/", 1)[1]
    opened = db.execute(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = ? AND pid <> pg_backend_pid()",
        [database],
    ).fetchone()[0]
    # Six threads, sixty decisions: at most two connections for requests, two for counters.
    assert opened <= 4
    assert db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 60
