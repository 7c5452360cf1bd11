"""The versioned, idempotent schema steps of both engines, the write transaction, migrate."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

from ..registry import DEFAULT_RETENTION_DAYS
from .engine import Database, connect
from .util import ms_to_iso

__all__ = ["STEPS", "Database", "connect", "migrate", "schema_version", "write"]

# Each step moves the schema from version i to i + 1; steps only ever get appended. A step is
# SQL (statements separated by `;`, CREATE statements in SQLite's dialect, translated for
# PostgreSQL by the engine's `ddl`) or a function of the connection, which reads the catalog
# through the engine (`db.columns`, `db.index_columns`) and so runs on both.
STEPS = [
    """
    CREATE TABLE organization (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        doc TEXT NOT NULL
    );
    CREATE TABLE vendors (
        key TEXT PRIMARY KEY,
        doc TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE sites (
        key TEXT PRIMARY KEY,
        doc TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE categories (
        site_key TEXT NOT NULL REFERENCES sites(key),
        key TEXT NOT NULL,
        position INTEGER NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (site_key, key)
    );
    CREATE TABLE assignments (
        site_key TEXT NOT NULL REFERENCES sites(key),
        vendor_key TEXT NOT NULL REFERENCES vendors(key),
        category_key TEXT NOT NULL,
        position INTEGER NOT NULL,
        PRIMARY KEY (site_key, vendor_key)
    );
    CREATE INDEX assignments_vendor ON assignments (vendor_key);
    CREATE TABLE revisions (
        site_key TEXT NOT NULL,
        number INTEGER NOT NULL,
        content TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        needs_decision INTEGER NOT NULL,
        consent_revision INTEGER NOT NULL,
        changes TEXT NOT NULL,
        published_at TEXT NOT NULL,
        published_by TEXT NOT NULL,
        PRIMARY KEY (site_key, number)
    );
    CREATE TABLE user_agents (
        id INTEGER PRIMARY KEY,      -- derived from the text (storage/decisions.py)
        value TEXT NOT NULL,
        uses INTEGER NOT NULL DEFAULT 0  -- decisions pointing here (none left after an erasure: deleted)
    );
    CREATE TABLE decisions (
        id INTEGER PRIMARY KEY,
        consent_id TEXT NOT NULL,
        site_key TEXT NOT NULL,
        revision INTEGER NOT NULL,
        action TEXT NOT NULL,
        categories TEXT NOT NULL,
        vendors TEXT NOT NULL,
        language TEXT NOT NULL,
        page_url TEXT,
        gpc INTEGER NOT NULL,
        recorded_at INTEGER NOT NULL,  -- milliseconds since the epoch, UTC
        user_agent_id INTEGER REFERENCES user_agents(id),
        client_hash TEXT
    );
    CREATE INDEX decisions_consent ON decisions (consent_id);
    CREATE INDEX decisions_site_time ON decisions (site_key, recorded_at);
    CREATE TABLE erasures (
        id INTEGER PRIMARY KEY,
        consent_hash TEXT NOT NULL,
        site_key TEXT NOT NULL,
        decisions_erased INTEGER NOT NULL,
        erased_at TEXT NOT NULL
    );
    CREATE INDEX erasures_consent ON erasures (consent_hash);
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        email TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL
    );
    CREATE TABLE tokens (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    );
    CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        object_type TEXT NOT NULL,
        object_key TEXT NOT NULL,
        site_key TEXT,
        before TEXT,
        after TEXT
    );
    CREATE INDEX audit_site ON audit_log (site_key, at);
    """,
    # 2: the admin UI: failed sign-ins (throttling shared by every worker) and the daily
    # rollups of the consent log that the figures page reads instead of the log itself; the
    # rollups of a log recorded before this step are rebuilt from it.
    """
    CREATE TABLE login_failures (
        id INTEGER PRIMARY KEY,
        scope TEXT NOT NULL,
        at REAL NOT NULL
    );
    CREATE INDEX login_failures_scope ON login_failures (scope, at);
    CREATE TABLE figures_daily (
        site_key TEXT NOT NULL,
        day TEXT NOT NULL,
        revision INTEGER NOT NULL,
        action TEXT NOT NULL,
        decisions INTEGER NOT NULL,
        PRIMARY KEY (site_key, day, revision, action)
    ) WITHOUT ROWID;
    CREATE TABLE figures_optins (
        site_key TEXT NOT NULL,
        day TEXT NOT NULL,
        revision INTEGER NOT NULL,
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        accepted INTEGER NOT NULL,
        PRIMARY KEY (site_key, day, revision, kind, key)
    ) WITHOUT ROWID;
    """,
    lambda db: _rebuild_figures(db),
    # 4: a login whose password was generated and printed (CLI, `make run`, the admin UI) must
    # choose its own at the first sign-in.
    lambda db: _add_column(db, "users", "must_change_password", "INTEGER NOT NULL DEFAULT 0"),
    # 5: signing out ends the login's sessions: a session is valid only for the epoch it began in.
    lambda db: _add_column(db, "users", "session_epoch", "INTEGER NOT NULL DEFAULT 0"),
    # 6: erasing one consent id touches only its rows, however large its site's log. Without
    # statistics (no ANALYZE is ever run) SQLite rates `consent_id = ? AND site_key = ?` the
    # same on (consent_id) and on (site_key, recorded_at) and took the site index: a scan of
    # the site under the write lock. Two-column indexes on both equalities win on any
    # statistics. The user-agent index serves the foreign-key check of deleting an unused
    # user agent (otherwise a scan of every decision); (site_key, erased_at) serves purge.
    lambda db: _erase_indexes(db),
    # 7: every site has a retention period (registry.py): sites stored before it get the default.
    lambda db: _site_retention(db),
    # 8: scans (issue 9): each run of the scanner started from the admin API or UI, its progress
    # while it runs (written by the scanning process, read by every worker) and its report.
    """
    CREATE TABLE IF NOT EXISTS scans (
        id INTEGER PRIMARY KEY,
        site_key TEXT NOT NULL,
        revision INTEGER NOT NULL,
        state TEXT NOT NULL,            -- queued, running, done, failed
        requested_by TEXT NOT NULL,
        options TEXT NOT NULL,
        pages_done INTEGER NOT NULL DEFAULT 0,
        pages_total INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT,
        heartbeat_at TEXT NOT NULL,
        pid INTEGER,
        error TEXT,
        leaks INTEGER,
        findings INTEGER,
        result TEXT
    );
    CREATE INDEX IF NOT EXISTS scans_site ON scans (site_key, id);
    CREATE TABLE IF NOT EXISTS scan_settings (
        site_key TEXT PRIMARY KEY,
        after_publish INTEGER NOT NULL DEFAULT 0
    );
    """,
    # 9: duplicate-free retries: the first answer to each decision's request_id, per site, for a
    # day (storage/decisions.py); a retry with the same id is answered from here.
    """
    CREATE TABLE IF NOT EXISTS decision_requests (
        id INTEGER PRIMARY KEY,
        site_key TEXT NOT NULL,
        request_id TEXT NOT NULL,
        created_at INTEGER NOT NULL,  -- milliseconds since the epoch, UTC
        fingerprint TEXT NOT NULL,    -- a hash of the request body, to refuse a reused id
        status INTEGER NOT NULL,
        body TEXT NOT NULL,           -- the answer, without its receipt (re-signed on replay)
        UNIQUE (site_key, request_id)
    );
    CREATE INDEX IF NOT EXISTS decision_requests_created ON decision_requests (created_at);
    """,
    # 10: regional rules (docs/regions.md): each decision keeps the regime it was made under and
    # the visitor's region (null before this step: then every site was opt_in), and the figures
    # count decisions per regime; the rollup of a log recorded before this step is rebuilt here.
    lambda db: _regimes(db),
    # 11: what every app machine of the deployment must agree on (storage/deployment.py): the
    # secret key's fingerprint, so that a machine started with another key is refused.
    """
    CREATE TABLE IF NOT EXISTS deployment (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # 12: PostgreSQL: the consent log partitioned by month on recorded_at, its primary key
    # (id, recorded_at), so that retention drops whole months (storage/partitions.py, issue 12
    # item 4). Every row and id is kept. SQLite: nothing.
    lambda db: _partition_decisions(db),
    # 13: SQLite counts decisions into the figures after writing them, many at a time
    # (storage/figures.py): the highest decision id counted in; every decision recorded before
    # this step is. PostgreSQL has the table too, and never reads it.
    """
    CREATE TABLE IF NOT EXISTS figures_cursor (id INTEGER NOT NULL);
    INSERT INTO figures_cursor (id) SELECT COALESCE(MAX(id), 0) FROM decisions
    WHERE NOT EXISTS (SELECT 1 FROM figures_cursor);
    """,
]


def _add_column(db: Database, table: str, column: str, definition: str) -> None:
    # Checked first, so that the step also runs on a database where the column already exists.
    if column not in db.columns(table):
        db.execute(db.ddl(f"ALTER TABLE {table} ADD COLUMN {column} {definition}"))


def _index(db: Database, name: str, table: str, columns: tuple[str, ...]) -> None:
    """Create index `name` on `columns`, replacing one of that name on other columns."""
    if db.index_columns(name) != columns:
        db.execute(f"DROP INDEX IF EXISTS {name}")
        db.execute(f"CREATE INDEX {name} ON {table} ({', '.join(columns)})")


def _erase_indexes(db):
    _index(db, "decisions_consent", "decisions", ("consent_id", "site_key"))
    _index(db, "decisions_user_agent", "decisions", ("user_agent_id",))
    _index(db, "erasures_consent", "erasures", ("consent_hash", "site_key"))
    _index(db, "erasures_site_time", "erasures", ("site_key", "erased_at"))


def _site_retention(db):
    for key, doc in db.execute("SELECT key, doc FROM sites").fetchall():
        site = json.loads(doc)
        if "retention_days" not in site:
            site["retention_days"] = DEFAULT_RETENTION_DAYS
            db.execute(
                "UPDATE sites SET doc = ? WHERE key = ?",
                [json.dumps(site, ensure_ascii=False, sort_keys=True, separators=(",", ":")), key],
            )


def _regimes(db):
    _add_column(db, "decisions", "regime", "TEXT")
    _add_column(db, "decisions", "region", "TEXT")
    db.execute(
        db.ddl(
            "CREATE TABLE IF NOT EXISTS figures_regimes ("
            " site_key TEXT NOT NULL, day TEXT NOT NULL, regime TEXT NOT NULL, action TEXT NOT NULL,"
            " decisions INTEGER NOT NULL, PRIMARY KEY (site_key, day, regime, action)"
            ") WITHOUT ROWID"
        )
    )
    db.execute("DELETE FROM figures_regimes")
    # Grouped by whole UTC days in SQL (portable integer division), named in Python.
    day_ms = 86_400_000
    rows = db.execute(
        f"SELECT site_key, recorded_at / {day_ms}, COALESCE(regime, 'opt_in'), action, COUNT(*) "
        "FROM decisions GROUP BY 1, 2, 3, 4"
    ).fetchall()
    db.executemany(
        "INSERT INTO figures_regimes (site_key, day, regime, action, decisions) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (site_key, day, regime, action) "
        "DO UPDATE SET decisions = figures_regimes.decisions + excluded.decisions",
        [(s, ms_to_iso(d * day_ms)[:10], r, a, n) for s, d, r, a, n in rows],
    )


def _partition_decisions(db):
    from . import partitions

    partitions.partition(db)


def _rebuild_figures(db):
    from .decisions import rebuild_figures  # decisions imports this module

    # The rebuild reads and writes what step 10 adds; step 10 then runs again, changing nothing.
    _regimes(db)
    rebuild_figures(db)


@contextlib.contextmanager
def write(db: Database, *locks: str) -> Iterator[Database]:
    """One write transaction, committed at the end of the block, rolled back if it raises.

    `locks` name what the transaction reads and then writes on and must not share with another
    writer meanwhile ("registry", "consent:shop:ID"): SQLite takes its one write lock up front
    anyway, PostgreSQL takes these advisory locks. A nested `write` joins the open transaction
    (and takes its own locks there).
    """
    if db.in_transaction:
        db.lock(locks)
        yield db
        return
    db.begin_write(locks)
    try:
        yield db
    except BaseException:
        db.rollback()
        raise
    db.commit()


def schema_version(db: Database) -> int:
    return db.schema_version()


def migrate(db: Database) -> tuple[int, int]:
    """Bring the schema to the latest version; safe to run any number of times, by any worker
    and from several machines at once (the steps run under one lock, each machine's after the
    other's, and find nothing left to do)."""
    db.prepare_migration()
    with write(db, "migrate"):
        before = db.schema_version()
        for number, step in enumerate(STEPS[before:], start=before + 1):
            if callable(step):
                step(db)
            else:
                for statement in step.split(";"):
                    if statement.strip():
                        db.execute(db.ddl(statement))
            db.set_schema_version(number)
        after = db.schema_version()
    # PostgreSQL: next months' partitions of the log, in their own short transaction.
    from . import partitions

    partitions.ensure(db)
    return before, after
