"""Rate-limit counters in a small SQLite file, shared by every worker process of one machine.

A `limits` storage (registered under the scheme `privacy-center-sqlite`), for deployments
without Redis. The counters live in their own file beside the database, never in it: a
counter is written on every public API request, and must not queue behind the consent log's
write lock (nor a long erasure queue behind it). The file holds only hashed keys and counts,
so losing it loses nothing but the current windows: it runs with `synchronous=OFF`.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from math import floor
from urllib.parse import unquote, urlparse

from limits.storage import SlidingWindowCounterSupport, Storage
from limits.storage.base import TimestampedSlidingWindow

SCHEME = "privacy-center-sqlite"
# Expired counters are deleted in batches of PURGE_BATCH, at most every PURGE_EVERY seconds per
# process, or at once again while the last batch came back full: the lock is held for a batch's
# few hundred rows, never for a sweep of the whole table.
PURGE_EVERY = 1.0
PURGE_BATCH = 500
BUSY_TIMEOUT = 5.0  # seconds; only for a writer outside this module (the lock file queues ours)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS counters (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL,
    expires_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS counters_expiry ON counters (expires_at);
"""
_PURGE = """
DELETE FROM counters WHERE key IN (
    SELECT key FROM counters WHERE expires_at <= ? ORDER BY expires_at LIMIT ?
)
"""
# A live counter grows; an expired one starts again at `amount` with a new expiry.
_ADD = """
INSERT INTO counters (key, value, expires_at) VALUES (:key, :amount, :expires_at)
ON CONFLICT (key) DO UPDATE SET
    value = CASE WHEN counters.expires_at > :now THEN counters.value + excluded.value
                 ELSE excluded.value END,
    expires_at = CASE WHEN counters.expires_at > :now THEN counters.expires_at
                      ELSE excluded.expires_at END
"""
_INCR = _ADD + "RETURNING value"


def admitted(
    entries: Sequence[tuple[str, int, int]],
    windows: Sequence[tuple[str, str]],
    counts: dict[str, int],
    now: float,
    amount: int,
) -> tuple[int | None, list[tuple[str, float]]]:
    """Which entry is refused (None: none) and the (current window key, expiry) to add
    `amount` to, for the entries before it, from the live `counts` of their windows."""
    refused, increments = None, []
    for index, ((_, limit, expiry), (previous_key, current_key)) in enumerate(
        zip(entries, windows, strict=True)
    ):
        # The weighting of limits' sliding window counter, as its other storages do it.
        previous_ttl = (1 - (((now - expiry) / expiry) % 1)) * expiry
        previous = counts.get(previous_key, 0) * previous_ttl / expiry
        if amount > limit or floor(previous + counts.get(current_key, 0)) + amount > limit:
            refused = index
            break
        increments.append((current_key, now + 2 * expiry))
    return refused, increments


def uri_for(path: str) -> str:
    """The storage URI of a counter file (an absolute path)."""
    return f"{SCHEME}://{os.path.abspath(path)}"


class CounterStorage(Storage, SlidingWindowCounterSupport, TimestampedSlidingWindow):
    """What both counter storages (this file's SQLite one, ratelimit_postgresql.py's) derive
    from their own `_get` (count, expiry) and `acquire_sliding_window_entries`."""

    def _get(self, key: str) -> tuple[int, float]:
        raise NotImplementedError

    def acquire_sliding_window_entries(
        self, entries: Sequence[tuple[str, int, int]], amount: int = 1
    ) -> int | None:
        raise NotImplementedError

    def acquire_sliding_window_batches(
        self, batches: Sequence[Sequence[tuple[str, int, int]]], amount: int = 1
    ) -> list[int | None]:
        """`acquire_sliding_window_entries` for each batch in turn: each one's result."""
        return [self.acquire_sliding_window_entries(entries, amount) for entries in batches]

    def get(self, key: str) -> int:
        return self._get(key)[0]

    def get_expiry(self, key: str) -> float:
        return self._get(key)[1]

    def acquire_sliding_window_entry(
        self, key: str, limit: int, expiry: int, amount: int = 1
    ) -> bool:
        return self.acquire_sliding_window_entries([(key, limit, expiry)], amount) is None

    def get_sliding_window(self, key: str, expiry: int) -> tuple[int, float, int, float]:
        """(previous count, previous TTL, current count, current TTL), as `limits` weighs them."""
        now = time.time()
        previous_key, current_key = self.sliding_window_keys(key, expiry, now)
        previous, current = self._get(previous_key)[0], self._get(current_key)[0]
        previous_ttl = (1 - (((now - expiry) / expiry) % 1)) * expiry if previous else 0.0
        current_ttl = (1 - ((now / expiry) % 1)) * expiry + expiry
        return previous, previous_ttl, current, current_ttl


class SQLiteStorage(CounterStorage):
    """Fixed and sliding-window counters in one table; each change is one short transaction.

    One connection per process (opened on first use, and again after a fork), used under a
    thread lock: a sync worker has one thread, a threaded server shares it. Writers of all
    processes queue on an flock of `<file>.lock` before `BEGIN IMMEDIATE`: the kernel wakes the
    next one as soon as the lock is free, where SQLite's own busy handler would sleep 1 ms and
    more, and under a steady load could starve one worker past any timeout.
    """

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options: float | str | bool):
        parsed = urlparse(uri)
        self.path = unquote(parsed.netloc + parsed.path)
        if not self.path:
            raise ValueError(f"{uri}: no file named (use {SCHEME}:///path/to/file)")
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._lock_fd = -1
        self._pid = 0
        self._purged = 0.0
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return (sqlite3.Error, OSError)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        # What was inherited through fork() is left alone: the parent still owns it.
        directory = os.path.dirname(self.path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        # Mode 600 like the database: the keys are hashes, but they are the deployment's.
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        lock_fd = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT
            )
        except BaseException:
            os.close(lock_fd)
            raise
        try:
            # Set up in the writers' queue: two workers' first requests come together, and a
            # journal-mode change or a CREATE beside another's fails at once with "database is
            # locked" (its busy handler is not called), which let that request through uncounted.
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=OFF")
                conn.executescript(_SCHEMA)
            finally:
                fcntl.flock(lock_fd, fcntl.LOCK_UN)
        except BaseException:
            conn.close()
            os.close(lock_fd)
            raise
        self._conn, self._lock_fd, self._pid = conn, lock_fd, os.getpid()
        return conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
                os.close(self._lock_fd)
            self._conn, self._lock_fd = None, -1

    @contextmanager
    def _write(self, now: float) -> Iterator[sqlite3.Connection]:
        """A write transaction, this thread and process alone; committed unless it raises."""
        with self._lock:
            conn = self._connection()
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    if now - self._purged > PURGE_EVERY:
                        deleted = conn.execute(_PURGE, [now, PURGE_BATCH]).rowcount
                        self._purged = 0.0 if deleted == PURGE_BATCH else now
                    yield conn
                except BaseException:
                    conn.rollback()
                    raise
                conn.commit()
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _get(self, key: str) -> tuple[int, float]:
        now = time.time()
        with self._lock:
            row = (
                self._connection()
                .execute(
                    "SELECT value, expires_at FROM counters WHERE key = ? AND expires_at > ?",
                    [key, now],
                )
                .fetchone()
            )
        return (int(row[0]), float(row[1])) if row else (0, now)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with self._write(now) as conn:
            row = conn.execute(
                _INCR, {"key": key, "amount": amount, "expires_at": now + expiry, "now": now}
            ).fetchone()
        return int(row[0])

    def check(self) -> bool:
        try:
            with self._lock:
                self._connection().execute("SELECT 1").fetchone()
        except (sqlite3.Error, OSError):
            return False
        return True

    def reset(self) -> int | None:
        with self._write(time.time()) as conn:
            return conn.execute("DELETE FROM counters").rowcount

    def clear(self, key: str) -> None:
        with self._write(time.time()) as conn:
            conn.execute("DELETE FROM counters WHERE key = ?", [key])

    def acquire_sliding_window_entries(
        self, entries: Sequence[tuple[str, int, int]], amount: int = 1
    ) -> int | None:
        """Acquire each (key, limit, expiry) in turn, as many `acquire_sliding_window_entry`
        calls would, but in one transaction: a request's limits cost one lock, not one each.

        Stops at the first entry that is full and returns its index (the entries before it
        stay acquired); None when every one was acquired. The checks and the increments share
        the transaction, so no worker slips in between and, unlike a store without
        transactions, nothing has to be given back afterwards.
        """
        return self.acquire_sliding_window_batches([entries], amount)[0]

    def acquire_sliding_window_batches(
        self, batches: Sequence[Sequence[tuple[str, int, int]]], amount: int = 1
    ) -> list[int | None]:
        """Each batch as `acquire_sliding_window_entries` would acquire it, after the batches
        before it, all in one transaction: a group of requests costs one lock and one commit."""
        now = time.time()
        windows = [[self.sliding_window_keys(key, e, now) for key, _, e in b] for b in batches]
        names = sorted({name for batch in windows for pair in batch for name in pair})
        if not names:
            return [None] * len(batches)
        with self._write(now) as conn:
            counts: dict[str, int] = dict(
                conn.execute(
                    "SELECT key, value FROM counters WHERE expires_at > ? AND key IN "
                    f"({', '.join('?' * len(names))})",
                    [now, *names],
                ).fetchall()
            )
            results: list[int | None] = []
            added: dict[str, tuple[int, float]] = {}  # key -> (amount added here, expiry)
            for entries, pairs in zip(batches, windows, strict=True):
                refused, increments = admitted(entries, pairs, counts, now, amount)
                results.append(refused)
                for key, expires_at in increments:
                    counts[key] = counts.get(key, 0) + amount
                    total, _ = added.get(key, (0, expires_at))
                    added[key] = (total + amount, expires_at)
            if added:
                conn.executemany(
                    _ADD,
                    [
                        {"key": key, "amount": total, "expires_at": expires_at, "now": now}
                        for key, (total, expires_at) in added.items()
                    ],
                )
        return results

    def clear_sliding_window(self, key: str, expiry: int) -> None:
        previous_key, current_key = self.sliding_window_keys(key, expiry, time.time())
        with self._write(time.time()) as conn:
            conn.execute("DELETE FROM counters WHERE key IN (?, ?)", [previous_key, current_key])
