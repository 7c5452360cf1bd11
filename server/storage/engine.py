"""The two database engines behind one small interface: SQLite (a file) and PostgreSQL (a URL).

The storage modules write portable SQL with `?` placeholders and call `execute`,
`executemany` and `iterate`; what differs between the engines (opening a connection, the
write transaction and its locks, the schema version, the catalog reads of a migration, the
column types of a CREATE TABLE) is a method of the engine's class here, and nowhere else.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import os
import re
import sqlite3
import threading
import urllib.parse
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    import psycopg
    import psycopg_pool

POSTGRESQL_SCHEMES = ("postgresql://", "postgres://")
POOL_SIZE_ENV = "PRIVACY_CENTER_PG_POOL_SIZE"
DEFAULT_POOL_SIZE = 4


def is_postgresql(location: str | Path) -> bool:
    """Whether a PRIVACY_CENTER_DB value names a PostgreSQL database (else: a SQLite file)."""
    return str(location).startswith(POSTGRESQL_SCHEMES)


def normalise(location: str | Path) -> str:
    """The value kept in the app's config: a URL (its scheme spelt postgresql://), a SQLite
    path made absolute."""
    location = str(location)
    if location.startswith("postgres://"):
        return "postgresql://" + location[len("postgres://") :]
    return location if is_postgresql(location) else str(Path(location).resolve())


def instance_dir(location: str) -> Path:
    """Where the generated secret key lives: beside a SQLite file; for PostgreSQL, the
    folder PRIVACY_CENTER_INSTANCE names (default `instance/`): several app machines share
    one database, so they are given one PRIVACY_CENTER_SECRET_KEY (docs/storage.md)."""
    if is_postgresql(location):
        return Path(os.environ.get("PRIVACY_CENTER_INSTANCE") or "instance").resolve()
    return Path(location).parent


class Unavailable(Exception):
    """The database cannot be reached (a PostgreSQL server down, a wrong URL)."""


def _redacted(url: str) -> str:
    """A URL without its password, for a message."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


Params = Sequence[Any]


class Database:
    """One connection to either engine. `location` is the path or URL it was opened with."""

    engine: ClassVar[str]
    # One writer at a time, so rows are committed in the order of the ids they were given: a
    # row with a higher id than one already read can only be newer (storage/figures.py).
    serial_writes: ClassVar[bool] = False
    location: str | None
    conn: Any

    def execute(self, sql: str, params: Params = ()) -> Cursor:
        raise NotImplementedError

    def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        raise NotImplementedError

    def iterate(self, sql: str, params: Params = ()) -> Iterator[Any]:
        """The rows of a query that may be long (an export): streamed, not loaded at once."""
        yield from self.execute(sql, params)

    @property
    def in_transaction(self) -> bool:
        raise NotImplementedError

    def execute_late(self, sql: str, rows: Sequence[Params]) -> None:
        """Write statements whose result nothing reads before the commit: run at once on
        SQLite; on PostgreSQL, inside a transaction, held and sent together with the COMMIT
        in one round trip (a pipeline), so that the row locks they take (the shared rows of
        a decision: its user agent, the day's rollups) are held for the commit alone, not
        while this process runs Python or waits for the CPU (docs/storage.md)."""
        self.executemany(sql, rows)

    def begin_write(self, locks: Sequence[str]) -> None:
        raise NotImplementedError

    def lock(self, locks: Sequence[str]) -> None:
        """Take `locks` in the transaction already open (see `schema.write`)."""

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()

    def close(self) -> None:
        self.conn.close()

    # Migrations (storage/schema.py)

    def prepare_migration(self) -> None:
        """What must hold before the first step runs (outside any transaction)."""

    def schema_version(self) -> int:
        raise NotImplementedError

    def set_schema_version(self, number: int) -> None:
        raise NotImplementedError

    def ddl(self, statement: str) -> str:
        """A CREATE statement of a schema step, in this engine's dialect."""
        return statement

    def table_names(self) -> list[str]:
        raise NotImplementedError

    def columns(self, table: str) -> list[str]:
        raise NotImplementedError

    def index_columns(self, name: str) -> tuple[str, ...]:
        """The columns of index `name`, in order; () when there is no such index."""
        raise NotImplementedError

    def bulk_cache(self, mebibytes: int) -> None:
        """A larger cache for one connection's bulk deletes (retention), where it helps."""

    # Copying a deployment (storage/copy.py)

    def references(self, table: str) -> set[str]:
        """The tables that `table`'s foreign keys point to."""
        raise NotImplementedError

    def insert_rows(self, table: str, columns: Sequence[str], rows: Iterable[Params]) -> None:
        """Insert many rows at once (a copy): the fastest way the engine has."""
        marks = ", ".join("?" * len(columns))
        self.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)

    def restart_ids(self, table: str) -> None:
        """After rows were inserted with their own ids: new rows get ids after the largest."""


class SQLiteDatabase(Database):
    engine = "sqlite"
    serial_writes = True

    def __init__(self, path: str | Path):
        path = Path(path)
        self.location = None if str(path) == ":memory:" else str(path.resolve())
        if self.location is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            # The consent log is personal data: readable by the server's user only. SQLite
            # gives its -wal and -shm files the same mode as the database file. Only a new file
            # is opened here (O_EXCL): closing any descriptor of an existing database drops
            # every POSIX lock this process holds on it, and another process closing last would
            # then delete the WAL under this process's open connections, losing their writes.
            with contextlib.suppress(FileExistsError):
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        conn = sqlite3.connect(str(path), timeout=10, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute("PRAGMA foreign_keys = ON")
        # NORMAL (WAL): a committed decision survives any crash of the server process; FULL
        # also fsyncs every commit, so it survives power loss too, at a cost
        # (docs/benchmarks.md).
        sync = os.environ.get("PRIVACY_CENTER_SYNC", "NORMAL").upper()
        conn.execute(f"PRAGMA synchronous = {'FULL' if sync == 'FULL' else 'NORMAL'}")
        # SQLite checkpoints the WAL inside the COMMIT that crosses 1,000 pages (copying them
        # into the database and syncing both files) while that writer still holds the write
        # queue below: every other writer would wait for it. Here a commit only counts; a
        # thread of the process checkpoints (`_checkpoint_soon`), and SQLite's own checkpoint
        # stays as a backstop, at ten times its default.
        conn.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_PAGES}")
        self.conn: sqlite3.Connection = conn
        self._commits = 0
        self._queue_fd = -1
        self._queue_pid = 0
        self._queued = False

    def execute(self, sql: str, params: Params = ()) -> Cursor:
        return self.conn.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        self.conn.executemany(sql, rows)

    @property
    def in_transaction(self) -> bool:
        return self.conn.in_transaction

    def begin_write(self, locks: Sequence[str]) -> None:
        # The write lock up front: every write is serialised, so the named locks are implied,
        # and no transaction deadlocks midway upgrading a read lock. Writers first queue on an
        # flock of `<file>.lock`: the kernel wakes the next one the moment the lock is free,
        # where SQLite's busy handler sleeps 1, 2, 5, 10 ms… between tries, leaving the CPU
        # idle while a worker waits for a write of 100 µs (docs/benchmarks.md, "Group commit
        # and the writers' queue"). A writer that does not queue (another program) is still safe: it
        # meets SQLite's own lock and busy timeout.
        self._queue()
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._dequeue()
            raise

    def commit(self) -> None:
        try:
            self.conn.execute("COMMIT")
        finally:
            if not self.conn.in_transaction:
                self._dequeue()
        self._commits += 1
        if self._commits % CHECKPOINT_EVERY == 0 and self.location is not None:
            _checkpoint_soon(self.location)

    def rollback(self) -> None:
        try:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
        finally:
            self._dequeue()

    def close(self) -> None:
        self.conn.close()
        if self._queue_fd >= 0 and self._queue_pid == os.getpid():
            os.close(self._queue_fd)
        self._queue_fd, self._queued = -1, False

    def _queue(self) -> None:
        if self.location is None:
            return  # an in-memory database has this one connection
        if self._queue_pid != os.getpid():  # a descriptor inherited through fork() is not ours
            self._queue_fd = _queue_file(self.location)
            self._queue_pid = os.getpid()
        fcntl.flock(self._queue_fd, fcntl.LOCK_EX)
        self._queued = True

    def _dequeue(self) -> None:
        if self._queued:
            self._queued = False
            fcntl.flock(self._queue_fd, fcntl.LOCK_UN)

    def prepare_migration(self) -> None:
        if self.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            self.execute("PRAGMA journal_mode = WAL")

    def schema_version(self) -> int:
        return int(self.execute("PRAGMA user_version").fetchone()[0])

    def set_schema_version(self, number: int) -> None:
        self.execute(f"PRAGMA user_version = {int(number)}")

    def table_names(self) -> list[str]:
        rows = self.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        return [name for (name,) in rows]

    def columns(self, table: str) -> list[str]:
        return [row[1] for row in self.execute(f"PRAGMA table_info({table})")]

    def index_columns(self, name: str) -> tuple[str, ...]:
        return tuple(row[2] for row in self.execute(f"PRAGMA index_info({name})"))

    def references(self, table: str) -> set[str]:
        return {row[2] for row in self.execute(f"PRAGMA foreign_key_list({table})")}

    def bulk_cache(self, mebibytes: int) -> None:
        # A batch's dirty index pages stay in memory until its commit instead of spilling to
        # the WAL midway (about twice as fast).
        self.execute(f"PRAGMA cache_size = {-1024 * int(mebibytes)}")


def _queue_file(location: str) -> int:
    """A descriptor of the file whose flock queues the writers of the database `location`."""
    return os.open(location + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


# A connection's commits between two checkpoints: at about ten pages a decision's commit, near
# SQLite's default of every 1,000 pages. SQLite's own stays, at BACKSTOP_PAGES, for a process
# whose commits do not come through `commit()`.
CHECKPOINT_EVERY = 100
BACKSTOP_PAGES = 10_000
# location -> (process id, the checkpointer's wake-up): one thread per database and process.
_checkpointers: dict[str, tuple[int, threading.Event]] = {}
_checkpointers_guard = threading.Lock()


def _checkpoint_soon(location: str) -> None:
    """Wake this process's checkpointer of `location`, started on first use."""
    with _checkpointers_guard:
        pid, wake = _checkpointers.get(location, (0, None))
        if wake is None or pid != os.getpid():  # one inherited through fork() has no thread
            wake = threading.Event()
            _checkpointers[location] = (os.getpid(), wake)
            threading.Thread(
                target=_checkpointer, args=(location, wake), name="wal-checkpoint", daemon=True
            ).start()
    wake.set()


def _checkpointer(location: str, wake: threading.Event) -> None:
    """Checkpoint the WAL when woken: first beside the writers, then the rest in their queue.

    A PASSIVE checkpoint never waits: it copies what the readers no longer need and syncs,
    while writers go on appending. Only when a checkpoint has copied every frame does the next
    writer start the WAL over; under a steady load that moment never comes by itself (the WAL
    would grow without end). So a second checkpoint runs in the writers' queue, where it has
    only the frames written meanwhile to copy: writers wait for that short rest, not the whole.
    """
    while True:
        wake.wait()
        wake.clear()
        # Opened for each checkpoint (about 100 µs, every 100 commits): nothing stays open
        # between them, not even after the database is gone.
        try:
            # mode=rw: a database deleted meanwhile is not made again, empty.
            uri = f"file:{urllib.parse.quote(location)}?mode=rw"
            conn = sqlite3.connect(uri, uri=True, timeout=10, isolation_level=None)
            queue = _queue_file(location)
        except (sqlite3.Error, OSError):
            continue
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            fcntl.flock(queue, fcntl.LOCK_EX)
            try:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            finally:
                fcntl.flock(queue, fcntl.LOCK_UN)
        except sqlite3.Error:
            pass  # another process's checkpoint at the same moment: next time
        finally:
            conn.close()
            os.close(queue)


# PostgreSQL: the same SQL with `%s` placeholders (a literal `%` doubled), and the types of
# a CREATE TABLE widened where SQLite's are wider than PostgreSQL's of the same name.

_QUOTED_OR_MARK = re.compile(r"'(?:[^']|'')*'|\"[^\"]*\"|--[^\n]*|[?%]")
_DDL = [
    # SQLite's rowid alias; BY DEFAULT, as some tables are given their ids (user_agents).
    (re.compile(r"\bINTEGER PRIMARY KEY\b"), "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    (re.compile(r"\bINTEGER\b"), "BIGINT"),  # SQLite's INTEGER is 8 bytes: milliseconds, ids
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),  # and its REAL is a double: time.time()
    # Byte order, as in SQLite, whatever the database's locale: the same sort everywhere.
    (re.compile(r"\bTEXT\b"), 'TEXT COLLATE "C"'),
    (re.compile(r"\)\s*WITHOUT ROWID\s*$"), ")"),
]


@functools.lru_cache(maxsize=1024)
def _pg_sql(sql: str) -> str:
    # psycopg reads `%` even inside quotes: every one is doubled; a `?` only outside them.
    def swap(match: re.Match[str]) -> str:
        text = match.group(0)
        return "%s" if text == "?" else text.replace("%", "%%")

    return _QUOTED_OR_MARK.sub(swap, sql)


def _lock_key(name: str) -> int:
    """A lock's name as the 64-bit key of pg_advisory_xact_lock, the same in every process."""
    return int.from_bytes(
        hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True
    )


def _pg_params(params: Params) -> list[Any]:
    # PostgreSQL's text cannot hold NUL: a value with one can match nothing stored, so a
    # lookup finds nothing (as on SQLite) instead of failing; JSON documents escape it anyway.
    return [
        p.replace("\x00", "\ufffd") if isinstance(p, str) and "\x00" in p else p for p in params
    ]


class PostgreSQLDatabase(Database):
    engine = "postgresql"

    def __init__(self, conn: psycopg.Connection[Any], location: str, purpose: str = ""):
        self.conn = conn
        self.location = location
        self.purpose = purpose  # the pool it came from, if any
        self._cursors = 0
        self._held: set[int] = set()  # the advisory locks of the open transaction
        self._late: list[tuple[str, Sequence[Params]]] = []  # see execute_late

    @classmethod
    def open(cls, url: str) -> PostgreSQLDatabase:
        import psycopg

        try:
            return cls(psycopg.connect(url, autocommit=True), url)
        except psycopg.OperationalError as error:
            raise Unavailable(f"{_redacted(url)}: {str(error).strip()}") from None

    def execute(self, sql: str, params: Params = ()) -> Cursor:
        return self.conn.execute(_pg_sql(sql), _pg_params(params))

    def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        with self.conn.cursor() as cursor:
            cursor.executemany(_pg_sql(sql), [_pg_params(row) for row in rows])

    def iterate(self, sql: str, params: Params = ()) -> Iterator[Any]:
        # A server-side cursor: rows come in batches, so a 10 M-row export holds none of them.
        # It needs a transaction: the one open, or its own (read-only, no locks).
        self._cursors += 1
        name = f"pc_stream_{self._cursors}"
        owned = not self.in_transaction
        if owned:
            self.conn.execute("BEGIN")
        try:
            with self.conn.cursor(name=name) as cursor:
                cursor.itersize = 2000
                cursor.execute(_pg_sql(sql), _pg_params(params))
                yield from cursor
        except BaseException:
            if owned:
                self.conn.rollback()
            raise
        if owned:
            self.conn.execute("COMMIT")

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        return self.conn.info.transaction_status != TransactionStatus.IDLE

    def begin_write(self, locks: Sequence[str]) -> None:
        # READ COMMITTED, as PostgreSQL's default: writes of unrelated visitors and sites run
        # side by side. What SQLite serialised and the code relies on (a registry edit's read
        # then write, a consent id's record against its erasure, a request_id's first answer)
        # is named by the caller and serialised by a transaction-scoped advisory lock.
        self._held = set()
        self.conn.execute("BEGIN" + self._locking(locks))

    def lock(self, locks: Sequence[str]) -> None:
        statement = self._locking(locks)
        if statement:
            self.conn.execute(statement.lstrip("; "))

    def _locking(self, locks: Sequence[str]) -> str:
        """`; SELECT pg_advisory_xact_lock(k), …` for the locks not yet held, in one order, so
        that two transactions never wait on each other; sent with BEGIN in one round trip."""
        keys = sorted({_lock_key(name) for name in locks} - self._held)
        self._held.update(keys)
        if not keys:
            return ""
        return "; SELECT " + ", ".join(f"pg_advisory_xact_lock({key})" for key in keys)

    def execute_late(self, sql: str, rows: Sequence[Params]) -> None:
        if not self.in_transaction or os.environ.get("PRIVACY_CENTER_PG_LATE") == "0":
            super().execute_late(sql, rows)
            return
        self._late.append((sql, rows))

    def commit(self) -> None:
        late, self._late, self._held = self._late, [], set()
        if not late:
            self.conn.execute("COMMIT")
            return
        # One round trip: the held statements in order, then COMMIT. If one fails, the
        # transaction is rolled back and its error raised here: nothing is acknowledged.
        try:
            with self.conn.pipeline():
                for sql, rows in late:
                    for row in rows:
                        self.conn.execute(_pg_sql(sql), _pg_params(row))
                self.conn.execute("COMMIT")
        except BaseException:
            if self.in_transaction:
                self.conn.rollback()
            raise

    def rollback(self) -> None:
        self._late, self._held = [], set()
        self.conn.rollback()

    def schema_version(self) -> int:
        self.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
        row = self.execute("SELECT version FROM schema_version").fetchone()
        return int(row[0]) if row else 0

    def set_schema_version(self, number: int) -> None:
        if self.execute("UPDATE schema_version SET version = ?", [number]).rowcount == 0:
            self.execute("INSERT INTO schema_version (version) VALUES (?)", [number])

    def ddl(self, statement: str) -> str:
        for pattern, replacement in _DDL:
            statement = pattern.sub(replacement, statement)
        return statement

    def table_names(self) -> list[str]:
        rows = self.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
        )
        return [name for (name,) in rows]

    def columns(self, table: str) -> list[str]:
        rows = self.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
            [table],
        )
        return [name for (name,) in rows]

    def index_columns(self, name: str) -> tuple[str, ...]:
        rows = self.execute(
            "SELECT a.attname FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) "
            "WHERE c.relname = ? AND c.relnamespace = current_schema()::regnamespace "
            "ORDER BY array_position(i.indkey::int2[], a.attnum)",
            [name],
        )
        return tuple(column for (column,) in rows)

    def references(self, table: str) -> set[str]:
        rows = self.execute(
            "SELECT DISTINCT p.relname FROM pg_constraint c "
            "JOIN pg_class t ON t.oid = c.conrelid JOIN pg_class p ON p.oid = c.confrelid "
            "WHERE c.contype = 'f' AND t.relname = ? "
            "AND t.relnamespace = current_schema()::regnamespace",
            [table],
        )
        return {name for (name,) in rows}

    def insert_rows(self, table: str, columns: Sequence[str], rows: Iterable[Params]) -> None:
        # COPY: several times the rate of batched INSERTs.
        with self.conn.cursor() as cursor:
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(_pg_params(row))

    def restart_ids(self, table: str) -> None:
        # A sequence (an identity column's, or a serial's) does not move when rows are given
        # their ids.
        rows = self.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = "
            "current_schema() AND table_name = ? "
            "AND (is_identity = 'YES' OR column_default LIKE 'nextval(%')",
            [table],
        ).fetchall()
        for (column,) in rows:
            self.execute(
                f"SELECT setval(pg_get_serial_sequence(?, ?), COALESCE(MAX({column}), 0) + 1, "
                f"false) FROM {table}",
                [table, column],
            )


def connect(location: str | Path) -> Database:
    """A connection in autocommit mode; writes open their own transaction with `write(db)`.

    `location` is a PostgreSQL URL (postgresql://, postgres://) or a SQLite file's path.
    """
    if is_postgresql(location):
        return PostgreSQLDatabase.open(str(location))
    return SQLiteDatabase(location)


# The connections of an app's requests: `acquire()` at a request's first query, `release()`
# at its end. SQLite: one connection per thread, kept between requests (opening it and setting
# its pragmas costs more than most queries). PostgreSQL: a psycopg pool per worker process and
# database, of at most PRIVACY_CENTER_PG_POOL_SIZE connections, opened after the fork.

_local = threading.local()
# (database, purpose) -> (process id, pool). Purposes never wait on each other: a request that
# holds its connection and counts its rate limits takes the second one from another pool.
_pools: dict[tuple[str, str], tuple[int, psycopg_pool.ConnectionPool[Any]]] = {}
_pools_guard = threading.Lock()


def acquire(location: str, purpose: str = "requests") -> Database:
    if is_postgresql(location):
        return PostgreSQLDatabase(_pool(location, purpose).getconn(), location, purpose)
    if getattr(_local, "location", None) != location:
        if getattr(_local, "db", None) is not None:
            _local.db.close()
        _local.db, _local.location = SQLiteDatabase(location), location
    db: Database = _local.db
    return db


def release(db: Database) -> None:
    # A request that failed mid-write must not leave its transaction to the next one.
    if db.in_transaction:
        db.rollback()
    if isinstance(db, PostgreSQLDatabase):
        assert db.location is not None  # a PostgreSQL connection always has its URL
        _pool(db.location, db.purpose).putconn(db.conn)


def _pool(location: str, purpose: str) -> psycopg_pool.ConnectionPool[Any]:
    with _pools_guard:
        pid, pool = _pools.get((location, purpose), (0, None))
        if pool is None or pid != os.getpid():  # one inherited through fork() is the parent's
            from psycopg_pool import ConnectionPool

            size = int(os.environ.get(POOL_SIZE_ENV) or DEFAULT_POOL_SIZE)
            pool = ConnectionPool(
                location,
                min_size=1,
                max_size=max(1, size),
                kwargs={"autocommit": True},
                num_workers=1,
                open=True,
            )
            _pools[(location, purpose)] = (os.getpid(), pool)
        return pool


def close_pools(location: str | None = None) -> None:
    """Close this process's pools (of one database, or all): a test, before dropping it."""
    with _pools_guard:
        for key in [key for key in _pools if location in (None, key[0])]:
            pid, pool = _pools.pop(key, (0, None))
            if pool is not None and pid == os.getpid():
                pool.close()
