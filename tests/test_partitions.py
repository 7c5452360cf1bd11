"""Issue 12 item 4: on PostgreSQL the consent log is partitioned by month; purge drops months.

PostgreSQL runs only (PRIVACY_CENTER_TEST_ENGINE=postgresql): each test on its own new, empty
database (docs/storage.md, "The consent log on PostgreSQL: one partition per month").
"""

from __future__ import annotations

import copy
import re

import pytest
from click.testing import CliRunner

from server.cli import main
from server.services import decisions as decision_service
from server.storage import connect, migrate, partitions, schema
from server.storage import decisions as decision_log
from server.storage import registry as registry_store
from server.storage import revisions as revision_store
from server.storage.schema import write
from server.storage.util import iso_to_ms, now_iso
from support import ON_POSTGRESQL, REGISTRY
from support import record_decision as record

SECRET = "test-secret"


@pytest.fixture
def pg_url(new_database):
    """A new, empty PostgreSQL database of this run (PostgreSQL runs only)."""
    if not ON_POSTGRESQL:
        pytest.skip("PostgreSQL only: run with PRIVACY_CENTER_TEST_ENGINE=postgresql")
    return new_database("partitions", empty=True)


def two_sites():
    doc = copy.deepcopy(REGISTRY)
    news = copy.deepcopy(doc["sites"][0])
    news["key"] = "news"
    news["origins"] = ["https://news.example.co.jp"]
    doc["sites"].append(news)
    return doc


@pytest.fixture
def pg(pg_url):
    db = connect(pg_url)
    migrate(db)
    registry_store.apply(db, two_sites(), "test")
    for site in ("shop", "news"):
        revision_store.publish(db, site, "test")
    yield db
    db.close()


def where(db, consent_id):
    """The partition that holds the consent id's (first) decision."""
    row = db.execute(
        "SELECT tableoid::regclass::text FROM decisions WHERE consent_id = ?", [consent_id]
    ).fetchone()
    return row[0]


def month_names(db):
    return [m.name for m in partitions.months(db)]


def test_the_log_is_partitioned_by_month_with_months_ahead(pg):
    assert partitions.is_partitioned(pg)
    now = partitions.Month.of(iso_to_ms(now_iso()))
    names = month_names(pg)
    assert [now.next(i).name for i in range(partitions.AHEAD + 1)] == names
    answer = record(pg)
    assert where(pg, answer["consent_id"]) == now.name
    # The primary key names the time: no uniqueness across months is asked of the database.
    key = pg.execute(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'decisions'::regclass AND contype = 'p'"
    ).fetchone()[0]
    assert key == "PRIMARY KEY (id, recorded_at)"
    # Every index of the log is on every month.
    indexes = {
        name
        for (name,) in pg.execute(
            "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = ?::regclass",
            [now.name],
        )
    }
    assert len(indexes) == 4, indexes  # primary key, consent, site and time, user agent


def test_a_decision_outside_every_month_is_kept_and_moved_into_its_own(pg):
    old = record(pg, at="2019-07-15T12:00:00.000Z")
    assert where(pg, old["consent_id"]) == partitions.DEFAULT  # never refused
    assert partitions.ensure(pg) == ["decisions_y2019m07"]
    assert where(pg, old["consent_id"]) == "decisions_y2019m07"
    assert pg.execute("SELECT COUNT(*) FROM decisions_default").fetchone()[0] == 0
    [found] = decision_log.for_consent(pg, old["consent_id"], "shop")
    assert found["recorded_at"] == "2019-07-15T12:00:00.000Z"
    assert partitions.ensure(pg) == []  # nothing left to do


def test_migrating_an_unpartitioned_log_keeps_every_row_and_id(pg_url, monkeypatch):
    db = connect(pg_url)
    try:
        with monkeypatch.context() as patch:
            patch.setattr(schema, "STEPS", schema.STEPS[:9])
            migrate(db)
        assert not partitions.is_partitioned(db)
        registry_store.apply(db, two_sites(), "test")
        revision_store.publish(db, "shop", "test")
        first = record(db, at="2024-02-10T00:00:00.000Z")
        second = record(db, at="2024-05-10T00:00:00.000Z")
        before = db.execute("SELECT * FROM decisions ORDER BY id").fetchall()
        migrate(db)
        assert partitions.is_partitioned(db)
        assert db.execute("SELECT * FROM decisions ORDER BY id").fetchall() == before
        assert where(db, first["consent_id"]) == "decisions_y2024m02"
        assert where(db, second["consent_id"]) == "decisions_y2024m05"
        third = record(db)  # ids go on after the ones kept
        ids = [i for (i,) in db.execute("SELECT id FROM decisions ORDER BY recorded_at")]
        assert ids[-1] > max(ids[:-1]) and len(ids) == 3
        assert decision_log.exists(db, third["consent_id"], "shop")
        migrate(db)  # idempotent
        assert partitions.is_partitioned(db)
    finally:
        db.close()


def run(url, *args):
    return CliRunner().invoke(main, ["--database", url, *args])


def count(db, table="decisions"):
    return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def test_purge_drops_whole_months_every_site_may_lose_and_deletes_rows_otherwise(pg_url, pg):
    # Both sites in 2020-03 and 2020-04; shop alone in 2020-05; news alone on 2020-06-10.
    # A user agent only the March decisions use.
    for site in ("shop", "news"):
        record(pg, site, at="2020-03-05T00:00:00.000Z", user_agent="March/1.0")
        record(pg, site, at="2020-04-05T00:00:00.000Z")
    record(pg, "shop", at="2020-05-05T00:00:00.000Z")
    record(pg, "news", at="2020-06-10T00:00:00.000Z")
    partitions.ensure(pg)
    recent = record(pg)
    assert count(pg) == 7

    # shop alone: March and April also hold news's decisions, May is shop's only.
    dry = run(pg_url, "purge", "--before", "2021-01-01", "--site", "shop", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "month partitions would be dropped whole: decisions_y2020m05" in dry.output
    assert count(pg) == 7
    result = run(pg_url, "purge", "--before", "2021-01-01", "--site", "shop")
    assert result.exit_code == 0, result.output
    assert "shop: deleted 3 decisions" in result.output
    assert "month partitions dropped whole: decisions_y2020m05" in result.output
    assert "decisions_y2020m05" not in month_names(pg)
    assert {"decisions_y2020m03", "decisions_y2020m04"} <= set(month_names(pg))
    assert count(pg) == 4

    # Every site up to 2020-06-01: March and April go whole; June is cut in the middle of
    # news's month, so its decision of June 10 stays.
    result = run(pg_url, "purge", "--before", "2020-06-20")
    assert result.exit_code == 0, result.output
    assert "news: deleted 3 decisions" in result.output, result.output
    assert "month partitions dropped whole: decisions_y2020m03, decisions_y2020m04" in result.output
    assert "user agents no longer used: deleted 1" in result.output
    assert "decisions_y2020m06" in month_names(pg)  # emptied row by row, not dropped
    assert count(pg) == 1 and decision_log.exists(pg, recent["consent_id"], "shop")
    agents = [v for (v,) in pg.execute("SELECT value FROM user_agents")]
    assert agents == ["Browser/1.0"]
    uses = pg.execute("SELECT uses FROM user_agents").fetchone()[0]
    assert uses == 1  # the dropped months' decisions were counted out
    # The daily figures are kept.
    assert pg.execute("SELECT SUM(decisions) FROM figures_daily").fetchone()[0] == 7


def test_erasure_and_lookups_touch_only_the_months_they_name(pg):
    old = record(pg, at="2020-03-05T00:00:00.000Z")
    partitions.ensure(pg)
    record(pg)

    def scanned(statement, params):
        plan = "\n".join(
            line for (line,) in pg.execute("EXPLAIN (ANALYZE, COSTS OFF) " + statement, params)
        )
        never = set(re.findall(r"(decisions_\w+) \(never executed\)", plan))
        return set(re.findall(r"on (decisions_\w+)", plan)) - never

    rows = pg.execute(
        "SELECT id, recorded_at FROM decisions WHERE consent_id = ?", [old["consent_id"]]
    ).fetchall()
    # The erasure's delete, by id and time: one month.
    one = scanned(
        "SELECT 1 FROM decisions WHERE id = ? AND recorded_at = ?", [rows[0][0], rows[0][1]]
    )
    assert one and {name for name in one if not name.endswith(("_idx", "_pkey"))} <= {
        "decisions_y2020m03"
    }, one
    # An export of a time range: only its months.
    export = scanned(
        "SELECT 1 FROM decisions WHERE site_key = ? AND recorded_at >= ? AND recorded_at < ?",
        ["shop", iso_to_ms("2020-03-01T00:00:00.000Z"), iso_to_ms("2020-04-01T00:00:00.000Z")],
    )
    assert export and {name for name in export if not name.endswith(("_idx", "_pkey"))} <= {
        "decisions_y2020m03"
    }, export
    assert decision_service.erase(pg, SECRET, "shop", old["consent_id"]) == 1
    assert decision_log.for_consent(pg, old["consent_id"], "shop") == []
    assert decision_log.for_consent_any_site(pg, old["consent_id"]) == []


def test_the_admin_lookup_finds_a_consent_id_on_any_site_in_one_query(pg):
    answer = record(pg, "news", at="2020-03-05T00:00:00.000Z")
    record(pg, "shop")
    [found] = decision_log.for_consent_any_site(pg, answer["consent_id"])
    assert found["site_key"] == "news" and found["recorded_at"].startswith("2020-03-05")


# Writes held to the commit (Database.execute_late): the shared rows of a decision.


def test_a_held_statement_that_fails_undoes_the_whole_transaction(pg):
    answer = record(pg)
    with pytest.raises(Exception, match="duplicate key"):  # noqa: PT011 - psycopg's own error
        with write(pg):
            pg.execute("UPDATE user_agents SET uses = uses + 100")
            pg.execute_late(
                "INSERT INTO organization (id, doc) VALUES (?, ?)", [(1, "{}"), (1, "{}")]
            )
    assert not pg.in_transaction
    assert pg.execute("SELECT uses FROM user_agents").fetchone()[0] == 1
    assert decision_log.exists(pg, answer["consent_id"], "shop")


def test_concurrent_decisions_and_erasures_keep_the_counts(pg_url, pg):
    import threading

    errors: list[BaseException] = []
    erased: list[str] = []

    def visitor(n):
        db = connect(pg_url)
        try:
            for i in range(15):
                answer = record(db, "shop" if i % 2 else "news")
                if i % 5 == n % 5:
                    site = "shop" if i % 2 else "news"
                    decision_service.erase(db, SECRET, site, answer["consent_id"])
                    erased.append(answer["consent_id"])
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            db.close()

    threads = [threading.Thread(target=visitor, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    kept = count(pg)
    assert kept == 4 * 15 - len(erased) and erased
    assert pg.execute("SELECT SUM(decisions) FROM figures_daily").fetchone()[0] == kept
    assert pg.execute("SELECT uses FROM user_agents").fetchone()[0] == kept


def test_the_first_decision_past_the_horizon_creates_next_months(pg, monkeypatch):
    now = partitions.Month.of(iso_to_ms(now_iso()))
    later = now.next(partitions.AHEAD).name
    pg.execute(f"DROP TABLE {later}")  # as if the months ahead had run out
    record(pg)  # this process checked lately: nothing to do
    assert later not in month_names(pg)
    monkeypatch.setattr(partitions, "_next_check", {})  # a new process, or a month later
    record(pg)
    assert later in month_names(pg)
