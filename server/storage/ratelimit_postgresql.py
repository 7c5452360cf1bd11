"""Rate-limit counters in the deployment's PostgreSQL database, shared by every app machine.

A `limits` storage (registered under the scheme `privacy-center-postgresql`), used when the
database is PostgreSQL and no Redis is named. The counters are an UNLOGGED table: written on
every public API request, they cost no WAL and no fsync, and a crash of the database server
empties them, which loses nothing but the current windows (as the SQLite counter file, which
runs with `synchronous=OFF`). A request's counters change in one short transaction that holds
an advisory lock per counted key, so that two machines never both admit the last request of
a window, and requests on other keys never wait.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from . import engine
from .engine import Database
from .ratelimit import PURGE_BATCH, PURGE_EVERY, CounterStorage, admitted

SCHEME = "privacy-center-postgresql"
TABLE = "ratelimit_counters"

_SCHEMA = (
    f"CREATE UNLOGGED TABLE IF NOT EXISTS {TABLE} ("
    ' key TEXT COLLATE "C" PRIMARY KEY, value BIGINT NOT NULL,'
    " expires_at DOUBLE PRECISION NOT NULL)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_expiry ON {TABLE} (expires_at)",
)
_PURGE = (
    f"DELETE FROM {TABLE} WHERE key IN "
    f"(SELECT key FROM {TABLE} WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)"
)
# A live counter grows; an expired one starts again at `amount` with a new expiry.
_ADD = (
    f"INSERT INTO {TABLE} (key, value, expires_at) VALUES (?, ?, ?) "
    "ON CONFLICT (key) DO UPDATE SET "
    f"value = CASE WHEN {TABLE}.expires_at > ? THEN {TABLE}.value + excluded.value "
    "ELSE excluded.value END, "
    f"expires_at = CASE WHEN {TABLE}.expires_at > ? THEN {TABLE}.expires_at "
    "ELSE excluded.expires_at END"
)


def uri_for(url: str) -> str:
    """The storage URI of a database's counters (a postgresql:// URL)."""
    return SCHEME + url[url.index("://") :]


class PostgreSQLStorage(CounterStorage):
    """Fixed and sliding-window counters in one UNLOGGED table of the deployment's database.

    Each change takes a connection from the worker process's pool of counter connections
    (storage/engine.py) and gives it back at once.
    """

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options: float | str | bool):
        self.url = "postgresql" + uri[len(SCHEME) :]
        self._ready = 0  # the process id that made sure the table exists
        self._purged = 0.0
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        import psycopg

        return (psycopg.Error, OSError)

    @contextmanager
    def _connection(self) -> Iterator[Database]:
        db = engine.acquire(self.url, "ratelimit")
        try:
            if self._ready != os.getpid():
                # Under a lock: two processes creating the table at once would collide.
                db.begin_write([f"{TABLE}:schema"])
                for statement in _SCHEMA:
                    db.execute(statement)
                db.commit()
                self._ready = os.getpid()
            yield db
        finally:
            engine.release(db)

    def close(self) -> None:
        """Nothing of its own to close: the connections are the pool's."""

    @contextmanager
    def _write(self, now: float, keys: Sequence[str]) -> Iterator[Database]:
        """A write transaction holding the locks of `keys`; committed unless it raises."""
        with self._connection() as db:
            db.begin_write([f"{TABLE}:{key}" for key in keys])
            try:
                if now - self._purged > PURGE_EVERY:
                    self._purged = now  # one thread of the process purges, the others go on
                    deleted = db.execute(_PURGE, [now, PURGE_BATCH]).rowcount
                    self._purged = 0.0 if deleted == PURGE_BATCH else now
                yield db
            except BaseException:
                db.rollback()
                raise
            db.commit()

    def _get(self, key: str) -> tuple[int, float]:
        now = time.time()
        with self._connection() as db:
            row = db.execute(
                f"SELECT value, expires_at FROM {TABLE} WHERE key = ? AND expires_at > ?",
                [key, now],
            ).fetchone()
        return (int(row[0]), float(row[1])) if row else (0, now)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with self._write(now, [key]) as db:
            row = db.execute(
                _ADD + " RETURNING value", [key, amount, now + expiry, now, now]
            ).fetchone()
        return int(row[0])

    def check(self) -> bool:
        import psycopg

        try:
            with self._connection() as db:
                db.execute("SELECT 1").fetchone()
        except (psycopg.Error, OSError):
            return False
        return True

    def reset(self) -> int | None:
        with self._write(time.time(), []) as db:
            return db.execute(f"DELETE FROM {TABLE}").rowcount

    def clear(self, key: str) -> None:
        with self._write(time.time(), [key]) as db:
            db.execute(f"DELETE FROM {TABLE} WHERE key = ?", [key])

    def acquire_sliding_window_entries(
        self, entries: Sequence[tuple[str, int, int]], amount: int = 1
    ) -> int | None:
        """As the SQLite storage's: the request's counters checked and added in one
        transaction; the index of the first full entry, or None when all were acquired."""
        if not entries:
            return None
        now = time.time()
        windows = [self.sliding_window_keys(key, expiry, now) for key, _, expiry in entries]
        names = [name for pair in windows for name in pair]
        with self._write(now, [key for key, _, _ in entries]) as db:
            counts = {
                key: int(value)
                for key, value in db.execute(
                    f"SELECT key, value FROM {TABLE} WHERE expires_at > ? AND key IN "
                    f"({', '.join('?' * len(names))})",
                    [now, *names],
                ).fetchall()
            }
            refused, increments = admitted(entries, windows, counts, now, amount)
            if increments:
                db.executemany(
                    _ADD,
                    [(key, amount, expires_at, now, now) for key, expires_at in increments],
                )
        return refused

    def clear_sliding_window(self, key: str, expiry: int) -> None:
        previous_key, current_key = self.sliding_window_keys(key, expiry, time.time())
        with self._write(time.time(), [key]) as db:
            db.execute(f"DELETE FROM {TABLE} WHERE key IN (?, ?)", [previous_key, current_key])
