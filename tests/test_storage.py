"""The schema step, WAL mode, the secret key file, and writers in several processes at once."""

import multiprocessing
import os
import stat

import pytest

from server import create_app, load_secret_key
from server.storage import connect, migrate
from server.storage.schema import STEPS, schema_version


def test_migrate_is_idempotent(new_database):
    db = connect(new_database(empty=True))
    assert migrate(db) == (0, len(STEPS))
    assert migrate(db) == (len(STEPS), len(STEPS))
    assert schema_version(db) == len(STEPS)
    assert {"decisions", "revisions", "vendors", "sites", "audit_log"} <= set(db.table_names())
    db.close()


@pytest.mark.sqlite_only(reason="the journal mode of a SQLite file")
def test_migrate_uses_wal(tmp_path):
    db = connect(tmp_path / "a.db")
    migrate(db)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_secret_key_is_generated_once_and_private(tmp_path, monkeypatch):
    monkeypatch.delenv("PRIVACY_CENTER_SECRET_KEY", raising=False)
    first = load_secret_key(tmp_path)
    assert len(first) >= 40 and load_secret_key(tmp_path) == first
    assert stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode) == 0o600
    app = create_app({"DATABASE": str(tmp_path / "pc.db")})
    assert app.config["SECRET_KEY"] == first
    monkeypatch.setenv("PRIVACY_CENTER_SECRET_KEY", "from-the-environment")
    assert load_secret_key(tmp_path) == "from-the-environment"


def _write_many(path, name, count):
    from server.storage import accounts

    db = connect(path)
    for i in range(count):
        accounts.create_token(db, f"{name}-{i}")


def test_writers_in_several_processes_all_succeed(db_path):
    path = db_path
    first = connect(path)
    migrate(first)
    first.close()
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_many, args=(path, f"p{n}", 40)) for n in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    db = connect(path)
    assert db.execute("SELECT COUNT(*) FROM tokens").fetchone()[0] == 120
    db.close()
