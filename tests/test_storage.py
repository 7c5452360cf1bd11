"""The schema step, WAL mode, the secret key file, and writers in several processes at once."""

import multiprocessing
import os
import stat

from server import create_app, load_secret_key
from server.storage import connect, migrate
from server.storage.schema import STEPS, schema_version


def test_migrate_is_idempotent_and_uses_wal(tmp_path):
    db = connect(tmp_path / "a.db")
    assert migrate(db) == (0, len(STEPS))
    assert migrate(db) == (len(STEPS), len(STEPS))
    assert schema_version(db) == len(STEPS)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert {"decisions", "revisions", "vendors", "sites", "audit_log"} <= set(db.table_names())


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


def test_writers_in_several_processes_all_succeed(tmp_path):
    path = str(tmp_path / "pc.db")
    migrate(connect(path))
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_many, args=(path, f"p{n}", 40)) for n in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    assert connect(path).execute("SELECT COUNT(*) FROM tokens").fetchone()[0] == 120
