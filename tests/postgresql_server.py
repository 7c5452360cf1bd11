"""New PostgreSQL databases for the tests that need PostgreSQL whatever the run's engine (a copy
from SQLite, two app machines on one database, pg_dump and pg_restore).

They are skipped, with the reason, when no PostgreSQL answers: the suite's SQLite leg runs on a
machine without it (`make test` says so).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator

import pytest

SERVER = os.environ.get("PRIVACY_CENTER_TEST_PG", "postgresql://root@127.0.0.1:5432")


def _admin():
    psycopg = pytest.importorskip("psycopg")
    try:
        return psycopg.connect(f"{SERVER}/postgres", autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        pytest.skip(f"no PostgreSQL at {SERVER}: {str(error).strip()}")


@contextlib.contextmanager
def new_database(migrated: bool = True) -> Iterator[str]:
    """The URL of a new database (with this release's schema unless not `migrated`), dropped
    when the block ends."""
    from server.storage import connect, engine, migrate

    admin = _admin()
    name = f"pc_ops_{secrets.token_hex(6)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{SERVER}/{name}"
    try:
        if migrated:
            db = connect(url)
            migrate(db)
            db.close()
        yield url
    finally:
        engine.close_pools(url)
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def row_counts(url: str) -> dict[str, int]:
    from server.storage import connect
    from server.storage.copy import data_tables

    db = connect(url)
    try:
        return {
            table: db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in data_tables(db)
        }
    finally:
        db.close()
