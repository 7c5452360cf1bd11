"""Rate-limit counters in a small SQLite file, shared by every worker process of one machine.

A `limits` storage (registered under the scheme `privacy-center-sqlite`), for deployments
without Redis. The counters live in their own file beside the database, never in it: a
counter is written on every public API request, and must not queue behind the consent log's
write lock (nor a long erasure queue behind it). The file holds only hashed keys and counts,
so losing it loses nothing but the current windows: it runs with `synchronous=OFF`.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from math import floor
from urllib.parse import unquote, urlparse

from limits.storage import SlidingWindowCounterSupport, Storage
from limits.storage.base import TimestampedSlidingWindow

SCHEME = "privacy-center-sqlite"
PURGE_EVERY = 60.0  # seconds between sweeps of expired counters, per process
BUSY_TIMEOUT_MS = 1000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS counters (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL,
    expires_at REAL NOT NULL
) WITHOUT ROWID
"""
# A live counter grows; an expired one starts again at `amount` with a new expiry.
_INCR = """
INSERT INTO counters (key, value, expires_at) VALUES (:key, :amount, :expires_at)
ON CONFLICT (key) DO UPDATE SET
    value = CASE WHEN counters.expires_at > :now THEN counters.value + excluded.value
                 ELSE excluded.value END,
    expires_at = CASE WHEN counters.expires_at > :now THEN counters.expires_at
                      ELSE excluded.expires_at END
RETURNING value
"""


def uri_for(path: str) -> str:
    """The storage URI of a counter file (an absolute path)."""
    return f"{SCHEME}://{os.path.abspath(path)}"


class SQLiteStorage(Storage, SlidingWindowCounterSupport, TimestampedSlidingWindow):
    """Fixed and sliding-window counters in one table; each change is one short transaction.

    One connection per process (opened on first use, and again after a fork), used under a
    lock: a sync worker has one thread, a threaded server shares it.
    """

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options: float | str | bool):
        parsed = urlparse(uri)
        self.path = unquote(parsed.netloc + parsed.path)
        if not self.path:
            raise ValueError(f"{uri}: no file named (use {SCHEME}:///path/to/file)")
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._purged = 0.0
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return sqlite3.Error

    def _connection(self) -> sqlite3.Connection:
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        # A connection inherited through fork() is never used (nor closed) by the child.
        directory = os.path.dirname(self.path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        # Mode 600 like the database: the keys are hashes, but they are the deployment's.
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
        )
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=OFF")
            conn.execute(_SCHEMA)
        except BaseException:
            conn.close()
            raise
        self._conn, self._pid = conn, os.getpid()
        return conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def _transaction(self, conn: sqlite3.Connection, now: float) -> None:
        # IMMEDIATE: a read-then-write must not fail on upgrading its lock; the busy timeout
        # queues it behind another worker's few microseconds instead.
        conn.execute("BEGIN IMMEDIATE")
        if now - self._purged > PURGE_EVERY:
            self._purged = now
            conn.execute("DELETE FROM counters WHERE expires_at <= ?", [now])

    def _get(self, conn: sqlite3.Connection, key: str, now: float) -> tuple[int, float]:
        row = conn.execute(
            "SELECT value, expires_at FROM counters WHERE key = ? AND expires_at > ?", [key, now]
        ).fetchone()
        return (int(row[0]), float(row[1])) if row else (0, now)

    def _incr(
        self, conn: sqlite3.Connection, key: str, expiry: float, amount: int, now: float
    ) -> int:
        row = conn.execute(
            _INCR, {"key": key, "amount": amount, "expires_at": now + expiry, "now": now}
        ).fetchone()
        return int(row[0])

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with self._lock:
            conn = self._connection()
            self._transaction(conn, now)
            try:
                value = self._incr(conn, key, expiry, amount, now)
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
            return value

    def get(self, key: str) -> int:
        with self._lock:
            return self._get(self._connection(), key, time.time())[0]

    def get_expiry(self, key: str) -> float:
        with self._lock:
            return self._get(self._connection(), key, time.time())[1]

    def check(self) -> bool:
        try:
            with self._lock:
                self._connection().execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    def reset(self) -> int | None:
        with self._lock:
            return self._connection().execute("DELETE FROM counters").rowcount

    def clear(self, key: str) -> None:
        with self._lock:
            self._connection().execute("DELETE FROM counters WHERE key = ?", [key])

    def _window(
        self, conn: sqlite3.Connection, key: str, expiry: int, now: float
    ) -> tuple[int, float, int, float]:
        """(previous count, previous TTL, current count, current TTL), as `limits` weighs them."""
        previous_key, current_key = self.sliding_window_keys(key, expiry, now)
        previous = self._get(conn, previous_key, now)[0]
        current = self._get(conn, current_key, now)[0]
        previous_ttl = (1 - (((now - expiry) / expiry) % 1)) * expiry if previous else 0.0
        current_ttl = (1 - ((now / expiry) % 1)) * expiry + expiry
        return previous, previous_ttl, current, current_ttl

    def acquire_sliding_window_entry(
        self, key: str, limit: int, expiry: int, amount: int = 1
    ) -> bool:
        if amount > limit:
            return False
        now = time.time()
        with self._lock:
            conn = self._connection()
            # The check and the increment in one write transaction: no worker slips in between,
            # so unlike a store without transactions nothing has to be given back afterwards.
            self._transaction(conn, now)
            try:
                previous, previous_ttl, current, _ = self._window(conn, key, expiry, now)
                if floor(previous * previous_ttl / expiry + current) + amount > limit:
                    conn.rollback()
                    return False
                _, current_key = self.sliding_window_keys(key, expiry, now)
                self._incr(conn, current_key, 2 * expiry, amount, now)
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
            return True

    def get_sliding_window(self, key: str, expiry: int) -> tuple[int, float, int, float]:
        with self._lock:
            return self._window(self._connection(), key, expiry, time.time())

    def clear_sliding_window(self, key: str, expiry: int) -> None:
        previous_key, current_key = self.sliding_window_keys(key, expiry, time.time())
        with self._lock:
            self._connection().execute(
                "DELETE FROM counters WHERE key IN (?, ?)", [previous_key, current_key]
            )
