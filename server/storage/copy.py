"""Copy a whole deployment from one database into another, empty one (SQLite to PostgreSQL).

Every table of the source is copied, row for row with its ids, in batches, in one write
transaction of the target: either every row arrives or none does. Before that transaction
commits, each table is read back from the target and compared with what was read from the
source: the number of rows and a checksum of their values; on any difference it is rolled back.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from . import figures
from .engine import Database
from .schema import STEPS, write

# What an engine keeps for itself, not the deployment's data: SQLite's own tables, the
# schema version (each side has its own), PostgreSQL's rate-limit counters, how far SQLite
# has counted decisions into the figures (set in the target after the copy: `settle_copy`).
_NOT_DATA_PREFIXES = ("sqlite_",)
_NOT_DATA = {"schema_version", "ratelimit_counters", "figures_cursor"}
COPY_LOCK = "copy"


class CopyRefused(Exception):
    """The copy cannot start; nothing was written. The message says why and what to do."""


@dataclass
class Checksum:
    """The rows of a table as a count and an order-free checksum: the sum, modulo 2**256, of
    the SHA-256 of each row's canonical JSON. Any row missing, added or changed changes it,
    and it needs neither the same order on both engines nor the rows in memory."""

    rows: int = 0
    total: int = 0

    def add(self, row: Sequence[Any]) -> None:
        self.rows += 1
        # The sum is taken modulo 2**256 when read: a few more bits per row meanwhile.
        self.total += int.from_bytes(hashlib.sha256(_canonical(row)).digest(), "big")

    @property
    def value(self) -> int:
        return self.total % (1 << 256)

    @property
    def hex(self) -> str:
        return f"{self.value:064x}"


def _bytes(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return {"bytes": bytes(value).hex()}
    raise TypeError(f"{type(value).__name__} in a row")


def _canonical(row: Sequence[Any]) -> bytes:
    """A row's values as compact JSON: the same text from either engine for the same values."""
    return json.dumps(
        tuple(row), ensure_ascii=False, separators=(",", ":"), default=_bytes
    ).encode()


@dataclass
class TableCopy:
    table: str
    source: Checksum
    target: Checksum

    @property
    def matches(self) -> bool:
        return (self.source.rows, self.source.value) == (self.target.rows, self.target.value)


@dataclass
class CopyResult:
    tables: list[TableCopy]
    committed: bool

    @property
    def matches(self) -> bool:
        return all(table.matches for table in self.tables)


def data_tables(db: Database) -> list[str]:
    """The deployment's tables, parents before the tables whose foreign keys point to them."""
    names = [
        name
        for name in db.table_names()
        if name not in _NOT_DATA and not name.startswith(_NOT_DATA_PREFIXES)
    ]
    ordered: list[str] = []
    pending = {name: db.references(name) & set(names) - {name} for name in names}
    while pending:
        ready = sorted(name for name, parents in pending.items() if parents <= set(ordered))
        if not ready:  # a cycle (none in this schema): the rest in name order
            ready = sorted(pending)
        ordered += ready
        for name in ready:
            del pending[name]
    return ordered


def check(source: Database, target: Database) -> list[str]:
    """The tables to copy; CopyRefused if the two schemas differ or the target is not ready."""
    latest = len(STEPS)
    for side, db in (("source", source), ("target", target)):
        version = db.schema_version()
        if version < latest:
            what = "has no schema" if version == 0 else f"is at schema version {version}"
            raise CopyRefused(
                f"the {side} database {what}, this release's is {latest}: "
                f"run `PRIVACY_CENTER_DB=... privacy-center migrate` on it first"
            )
        if version > latest:
            raise CopyRefused(
                f"the {side} database is at schema version {version}, newer than this "
                f"release's ({latest}): copy with the release that migrated it"
            )
    tables = data_tables(source)
    target_tables = set(target.table_names())
    for table in tables:
        if table not in target_tables:
            raise CopyRefused(f"the target has no table '{table}': migrate it first")
        missing = [c for c in source.columns(table) if c not in target.columns(table)]
        if missing:
            raise CopyRefused(f"the target's table '{table}' has no column {', '.join(missing)}")
    return tables


def _batches(rows: Iterable[Sequence[Any]], size: int) -> Iterable[list[Sequence[Any]]]:
    batch: list[Sequence[Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _counted(rows: Iterable[Sequence[Any]], checksum: Checksum) -> Iterable[Sequence[Any]]:
    for row in rows:
        checksum.add(row)
        yield row


def _checksum(db: Database, table: str, columns: list[str]) -> Checksum:
    checksum = Checksum()
    for row in db.iterate(f"SELECT {', '.join(columns)} FROM {table}"):
        checksum.add(row)
    return checksum


def copy(
    source: Database,
    target: Database,
    batch_size: int = 5000,
    progress: Callable[[str, int], None] | None = None,
) -> CopyResult:
    """Copy every table of `source` into the empty, migrated `target`; see the module.

    `source` is read in one read transaction (a consistent snapshot, even while its server
    still writes). The target's transaction holds the lock "copy", so of two copies into one
    database, the second finds the first's rows and is refused. `progress(table, rows)` is
    called after each batch. Returns each table's counts and checksums on both sides; the
    target's transaction is committed only if every one matches.
    """
    tables = check(source, target)
    source.execute("BEGIN")  # a read transaction: one snapshot of every table
    try:
        # A SQLite source may hold decisions not yet counted into its figures: the copy's
        # figures are compared as they are, then the target counts those in (or, SQLite,
        # knows to).
        counted = figures.cursor(source)
        with write(target, COPY_LOCK):
            for table in tables:
                if target.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone():
                    raise CopyRefused(
                        f"the target is not empty (table '{table}' has rows): copy only into "
                        "a new database, migrated and never served"
                    )
            results = []
            for table in tables:
                columns = source.columns(table)
                read = Checksum()
                rows = source.iterate(f"SELECT {', '.join(columns)} FROM {table}")
                for batch in _batches(_counted(rows, read), batch_size):
                    target.insert_rows(table, columns, batch)
                    if progress is not None:
                        progress(table, read.rows)
                target.restart_ids(table)
                results.append(TableCopy(table, read, _checksum(target, table, columns)))
            result = CopyResult(results, committed=False)
            if not result.matches:
                raise _Mismatch(result)
            figures.settle_copy(target, counted)
    except _Mismatch as mismatch:
        return mismatch.result
    finally:
        source.rollback()
    result.committed = True
    return result


class _Mismatch(Exception):
    """Rolls the target's transaction back; the result is returned, not raised."""

    def __init__(self, result: CopyResult):
        super().__init__("the copy differs from its source")
        self.result = result
