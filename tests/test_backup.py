"""Backup and restore, as docs/storage.md describes them, on a real server that keeps recording:
SQLite's `privacy-center backup` and PostgreSQL's `pg_dump -Fc` / `pg_restore`; the restored
deployment has every decision acknowledged before the backup began and goes on recording."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import threading
import urllib.request

import pytest
from postgresql_server import SERVER, new_database

from server.storage import accounts, connect, migrate
from server.storage import registry as registry_store
from server.storage import revisions as revision_store
from support import ON_POSTGRESQL, ORIGIN, REGISTRY, decision

# These make their own PostgreSQL databases (and SQLite files) whatever the run's engine: they
# run once, on the SQLite leg of `make test`, not again on the PostgreSQL one.
pytestmark = pytest.mark.skipif(ON_POSTGRESQL, reason="runs on the SQLite leg (both engines)")


def prepare(location):
    """The test registry published, and an admin API token for the export."""
    db = connect(location)
    migrate(db)
    registry_store.apply(db, REGISTRY, "test")
    revision_store.publish(db, "shop", "test")
    token = accounts.create_token(db, "backup-test")
    db.close()
    return token


def post_decision(base):
    request = urllib.request.Request(
        f"{base}/api/v1/sites/shop/decisions",
        data=json.dumps(decision()).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Origin": ORIGIN},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        return json.loads(response.read())


def exported(base, token):
    """The consent ids of the site's whole log, through the admin API."""
    request = urllib.request.Request(
        f"{base}/api/v1/admin/sites/shop/decisions?format=jsonl",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return [json.loads(line)["consent_id"] for line in response.read().splitlines()]


def read_consent(base, answer):
    request = urllib.request.Request(
        f"{base}/api/v1/consents/{answer['consent_id']}",
        headers={"Authorization": f"Bearer {answer['receipt']}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


class Writer(threading.Thread):
    """Posts decisions one after another until stopped; keeps every acknowledged answer."""

    def __init__(self, base):
        super().__init__(daemon=True)
        self.base = base
        self.answers = []
        self.failures = []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                self.answers.append(post_decision(self.base))
            except Exception as error:  # kept, and the test fails on it
                self.failures.append(repr(error))

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.join(timeout=30)


def wait_for(writer, more):
    """Until the writer has `more` decisions acknowledged than now (it is really writing)."""
    import time

    target = len(writer.answers) + more
    deadline = time.monotonic() + 30
    while len(writer.answers) < target:
        assert time.monotonic() < deadline and not writer.failures, writer.failures
        time.sleep(0.02)


def cli(*args, **env):
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_sqlite_online_backup_while_the_server_records(tmp_path, served):
    live = tmp_path / "live" / "privacy-center.db"
    live.parent.mkdir()
    token = prepare(str(live))
    base = served(str(live), PRIVACY_CENTER_RATE_LIMIT="off")
    before = [post_decision(base) for _ in range(25)]
    backup = tmp_path / "backups" / "pc-2026-12-04.db"
    backup.parent.mkdir()
    with Writer(base) as writer:
        wait_for(writer, 5)
        acknowledged = list(before) + list(writer.answers)
        done = cli("backup", "--to", str(backup), PRIVACY_CENTER_DB=str(live))
        wait_for(writer, 5)  # and the server goes on recording after it
    assert done.returncode == 0, done.stderr
    assert f"to {backup}:" in done.stdout and "decisions" in done.stdout
    assert not writer.failures  # no decision was refused or held up past its timeout
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert not os.path.exists(f"{backup}-wal")  # one file, whole

    # A second backup to the same name is refused: a backup never overwrites.
    again = cli("backup", "--to", str(backup), PRIVACY_CENTER_DB=str(live))
    assert again.returncode == 1 and "already exists" in again.stderr

    # Restore as documented: the backup file (and the secret key, for the receipts) in place
    # of a database, then serve it.
    restored = tmp_path / "restored" / "privacy-center.db"
    restored.parent.mkdir()
    shutil.copy2(backup, restored)
    shutil.copy2(live.parent / "secret_key", restored.parent / "secret_key")
    restored_base = served(str(restored), PRIVACY_CENTER_RATE_LIMIT="off")
    ids = exported(restored_base, token)
    assert len(ids) == len(set(ids))
    assert {a["consent_id"] for a in acknowledged} <= set(ids)
    assert set(ids) <= {a["consent_id"] for a in before + writer.answers}
    assert len(ids) == int(done.stdout.split(": ")[1].split(" decisions")[0].replace(",", ""))
    assert read_consent(restored_base, before[0])["decisions"]
    post_decision(restored_base)  # and it records
    assert len(exported(restored_base, token)) == len(ids) + 1


def test_backup_refuses_postgresql_and_a_missing_database(tmp_path):
    pg = cli("backup", "--to", str(tmp_path / "b.db"), PRIVACY_CENTER_DB=f"{SERVER}/x")
    assert pg.returncode == 1 and "pg_dump -Fc" in pg.stderr
    missing = cli(
        "backup", "--to", str(tmp_path / "b.db"), PRIVACY_CENTER_DB=str(tmp_path / "no.db")
    )
    assert missing.returncode == 1 and "no such database file" in missing.stderr
    assert not (tmp_path / "no.db").exists() and not (tmp_path / "b.db").exists()
    no_folder = cli(
        "backup", "--to", str(tmp_path / "none" / "b.db"), PRIVACY_CENTER_DB=str(tmp_path / "no.db")
    )
    assert no_folder.returncode == 1 and "Traceback" not in no_folder.stderr


def test_postgresql_pg_dump_and_pg_restore_while_the_server_records(tmp_path, served):
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("pg_dump and pg_restore are not installed (Debian: postgresql-client)")
    instance = str(tmp_path / "instance")  # the secret key, shared by both deployments
    dump = tmp_path / "privacy-center.dump"
    with new_database() as live, new_database(migrated=False) as restored:
        token = prepare(live)
        env = {"PRIVACY_CENTER_RATE_LIMIT": "off", "PRIVACY_CENTER_INSTANCE": instance}
        base = served(live, **env)
        before = [post_decision(base) for _ in range(25)]
        with Writer(base) as writer:
            wait_for(writer, 5)
            acknowledged = list(before) + list(writer.answers)
            dumped = subprocess.run(
                ["pg_dump", "-Fc", "--no-owner", "-f", str(dump), live],
                capture_output=True,
                text=True,
                timeout=120,
            )
            wait_for(writer, 5)
        assert dumped.returncode == 0, dumped.stderr
        assert not writer.failures
        loaded = subprocess.run(
            ["pg_restore", "--no-owner", "--exit-on-error", "-d", restored, str(dump)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert loaded.returncode == 0, loaded.stderr
        # The restored schema is this release's: migrate finds nothing to do.
        up_to_date = cli("migrate", PRIVACY_CENTER_DB=restored)
        assert "(up to date)" in up_to_date.stdout, up_to_date.stdout + up_to_date.stderr

        restored_base = served(restored, **env)
        ids = exported(restored_base, token)
        assert len(ids) == len(set(ids))
        assert {a["consent_id"] for a in acknowledged} <= set(ids)
        assert set(ids) <= {a["consent_id"] for a in before + writer.answers}
        assert read_consent(restored_base, before[0])["decisions"]
        post_decision(restored_base)  # new ids follow the restored ones
        assert len(exported(restored_base, token)) == len(ids) + 1
