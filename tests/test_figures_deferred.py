"""The figures are exact whenever they are read, though SQLite counts decisions into them after
writing them, many at a time (storage/figures.py): after erasures of counted and uncounted
decisions, a new decision taking an erased one's id, a purge, a copy to PostgreSQL."""

from __future__ import annotations

from collections import Counter

import pytest

from server.storage import connect
from server.storage import decisions as decision_log
from server.storage import figures as figures_store
from server.storage.schema import write
from server.storage.util import iso_to_ms
from support import choice

ALL_DAYS = ("2000-01-01", "2100-01-01")


ACCEPT, REJECT, CUSTOM = (
    choice("accept_all", True, True, regime="opt_in"),
    choice("reject_all", False, False, regime="opt_out"),
    choice("custom", True, False, regime="opt_in"),
)


def record(db, consent_id, made):
    return decision_log.record(db, "shop", consent_id, made, "Browser/1.0", None)


def recount(db):
    """The figures as the consent log says: counted from every decision it holds."""
    daily, optins, regimes = Counter(), Counter(), Counter()
    for item in decision_log.export(db, "shop"):
        daily[(item["recorded_at"][:10], item["revision"], item["action"])] += 1
        regimes[(item["regime"], item["action"])] += 1
        for kind, values in (("category", item["categories"]), ("vendor", item["vendors"])):
            optins.update((item["revision"], kind, key) for key, on in values.items() if on)
    return daily, optins, regimes


def shown(db):
    """The figures as the admin page and API read them."""
    daily = Counter({(d, r, a): n for d, r, a, n in figures_store.daily(db, "shop", *ALL_DAYS)})
    optins = Counter(
        {(r, k, key): n for r, k, key, n in figures_store.optins(db, "shop", *ALL_DAYS) if n}
    )
    regimes = Counter(
        {
            (regime, action): n
            for regime, actions in figures_store.by_regime(db, "shop", *ALL_DAYS).items()
            for action, n in actions.items()
        }
    )
    return daily, optins, regimes


def stored_daily(db):
    """What the rollup table holds right now, without counting anything in first."""
    return db.execute("SELECT COALESCE(SUM(decisions), 0) FROM figures_daily").fetchone()[0]


def test_decisions_are_in_the_figures_as_soon_as_they_are_read(db, published):
    for n, made in enumerate([ACCEPT, REJECT, CUSTOM, ACCEPT]):
        record(db, f"{n:022d}", made)
    expected = recount(db)
    assert sum(expected[0].values()) == 4
    if figures_store.deferred(db):  # SQLite: written, not counted in yet
        assert stored_daily(db) == 0 and figures_store.pending(db)
    assert shown(db) == expected
    assert stored_daily(db) == 4 and not figures_store.pending(db)
    assert shown(db) == expected  # a second read counts nothing twice


@pytest.mark.sqlite_only(reason="SQLite's deferred count of decisions into the figures")
def test_the_recording_process_counts_in_every_catch_up_every_decisions(db, published, monkeypatch):
    monkeypatch.setattr(figures_store, "CATCH_UP_EVERY", 3)
    monkeypatch.setattr(figures_store, "_recorded", 0)
    for n in range(3):
        record(db, f"{n:022d}", ACCEPT)
    # The third decision's own transaction counted all three in: nothing read the figures.
    assert stored_daily(db) == 3 and not figures_store.pending(db)
    record(db, "3" * 22, REJECT)
    assert stored_daily(db) == 3 and figures_store.pending(db)
    assert shown(db) == recount(db)


def test_erasing_counted_and_uncounted_decisions_keeps_the_figures_exact(db, published):
    first, second = "a" * 22, "b" * 22
    record(db, first, ACCEPT)
    record(db, first, CUSTOM)
    assert shown(db) == recount(db)  # both of `first`'s decisions counted in
    record(db, second, REJECT)
    record(db, first, REJECT)  # `first` now has one decision not counted in yet
    decision_log.erase(db, first, "shop", "hash-a")
    assert shown(db) == recount(db)
    assert sum(shown(db)[0].values()) == 1
    decision_log.erase(db, second, "shop", "hash-b")  # never counted in
    assert shown(db) == recount(db) == (Counter(), Counter(), Counter())


def test_a_decision_taking_an_erased_decisions_id_is_counted(db, published):
    record(db, "a" * 22, ACCEPT)
    record(db, "b" * 22, CUSTOM)
    assert shown(db) == recount(db)  # both counted in: the cursor is at the last id
    last = db.execute("SELECT MAX(id) FROM decisions").fetchone()[0]
    decision_log.erase(db, "b" * 22, "shop", "hash-b")
    record(db, "c" * 22, REJECT)  # SQLite gives it the erased decision's id again
    if figures_store.deferred(db):
        assert db.execute("SELECT MAX(id) FROM decisions").fetchone()[0] == last
    daily, _, regimes = shown(db)
    assert (daily, regimes) == recount(db)[::2]
    assert regimes == Counter({("opt_in", "accept_all"): 1, ("opt_out", "reject_all"): 1})


def test_a_purge_keeps_decisions_not_yet_counted_in(db, published):
    for n, made in enumerate([ACCEPT, REJECT, CUSTOM]):
        record(db, f"{n:022d}", made)
    with write(db):
        db.execute("UPDATE decisions SET recorded_at = ?", [iso_to_ms("2020-03-02T10:00:00.000Z")])
    # (On PostgreSQL they were counted in on their own day, before they were moved to 2020.)
    expected = recount(db)[1:]
    assert figures_store.pending(db) == figures_store.deferred(db)
    purged = sum(decision_log.purge_decisions(db, "shop", "2021-01-01T00:00:00.000Z"))
    assert purged == 3 and recount(db) == (Counter(), Counter(), Counter())
    assert shown(db)[1:] == expected  # the figures keep what the log no longer holds
    record(db, "9" * 22, ACCEPT)
    daily, _, _ = shown(db)
    assert sum(daily.values()) == 4


@pytest.mark.sqlite_only(reason="copy reads a SQLite database")
def test_a_copy_counts_in_what_its_source_had_not(tmp_path, db_path, db, published):
    from postgresql_server import new_database

    from server.storage.copy import copy

    record(db, "a" * 22, ACCEPT)
    assert shown(db) == recount(db)  # counted in at the source
    record(db, "b" * 22, REJECT)
    record(db, "c" * 22, CUSTOM)
    assert figures_store.pending(db)
    expected = recount(db)
    with new_database() as url:
        target = connect(url)
        try:
            assert copy(connect(db_path), target).committed
            assert shown(target) == expected
        finally:
            target.close()
