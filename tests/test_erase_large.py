"""Issue 11 #2: erasing one consent id costs the same however large its site's log.

Every statement an erasure and the visitor's lookups run is checked with EXPLAIN QUERY PLAN
(with and without ANALYZE statistics; the plan includes the foreign-key check of deleting a
user agent), and the work SQLite does for an erasure (virtual machine steps) is compared on a
small and a large log.
"""

from __future__ import annotations

import re

import pytest

from server.services import decisions as decision_service
from server.services.decisions import Visitor
from server.storage import revisions as revision_store
from server.storage.schema import write

SECRET = "test-secret"
UA = "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0"


def fill(db, site_key: str, count: int, start: int = 0) -> None:
    """`count` more decisions on the site, shaped like recorded ones, written straight in."""
    with write(db):
        db.execute(
            "INSERT INTO user_agents (id, value, uses) VALUES (1, ?, 0) ON CONFLICT DO NOTHING",
            [UA],
        )
        db.executemany(
            "INSERT INTO decisions (consent_id, site_key, revision, action, categories, vendors, "
            "language, page_url, gpc, recorded_at, user_agent_id, client_hash) "
            "VALUES (?, ?, 1, 'custom', '110', '1100', 'en', 'https://shop.example.co.jp/', 0, "
            "?, 1, '0123456789abcdef')",
            (
                (f"bulk{i:018d}", site_key, 1_700_000_000_000 + i)
                for i in range(start, start + count)
            ),
        )
        db.execute("UPDATE user_agents SET uses = uses + ? WHERE id = 1", [count])


def record(db, user_agent: str = "RareBrowser/1.0 (one of a kind)", consent_id=None):
    revision = revision_store.get(db, "shop")
    body = {
        "revision": 1,
        "action": "accept_all",
        "categories": {"functional": True, "analytics": True, "advertising": True},
        "language": "en",
    }
    if consent_id:
        body |= consent_id
    return decision_service.record(
        db,
        SECRET,
        "shop",
        body,
        lambda n: revision if n == revision["number"] else None,
        Visitor(user_agent=user_agent, remote_addr="203.0.113.9"),
    )


def traced(db, action) -> list[str]:
    """The statements `action()` runs on the connection, with their parameters filled in."""
    statements: list[str] = []
    db.conn.set_trace_callback(statements.append)
    try:
        action()
    finally:
        db.conn.set_trace_callback(None)
    return [
        s
        for s in statements
        if not re.match(r"\s*(BEGIN|COMMIT|ROLLBACK|PRAGMA)", s, re.IGNORECASE)
    ]


def plan(db, statement: str) -> list[str]:
    return [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + statement)]


@pytest.mark.sqlite_only(reason="SQLite's EXPLAIN QUERY PLAN")
@pytest.mark.parametrize("statistics", [False, True], ids=["no statistics", "after ANALYZE"])
def test_every_erase_and_lookup_statement_uses_the_consent_index(db, published, statistics):
    fill(db, "shop", 3000)
    first = record(db)
    second = record(db, consent_id={"consent_id": first["consent_id"], "receipt": first["receipt"]})
    if statistics:
        db.execute("ANALYZE")
    cid = first["consent_id"]
    statements = traced(
        db,
        lambda: (
            decision_service.records(db, SECRET, "shop", cid),  # the visitor's page
            decision_service.erase(db, SECRET, "shop", cid),
            decision_service.erase(db, SECRET, "shop", cid),  # repeated: nothing to erase
            decision_service.records(db, SECRET, "shop", cid),
        ),
    )
    assert second["consent_id"] == cid
    touching = [s for s in statements if re.search(r"\b(decisions|erasures|user_agents)\b", s)]
    assert len(touching) >= 8, statements
    checked = 0
    for statement in touching:
        if statement.lstrip().upper().startswith("INSERT") and "SELECT" not in statement.upper():
            continue  # a plain insert reads nothing
        for line in plan(db, statement):
            assert "decisions_site_time" not in line, (statement, line)
            # figures_cursor holds one row (storage/figures.py): scanning it reads that row.
            assert not line.startswith("SCAN") or line == "SCAN figures_cursor", (statement, line)
            if re.search(r"\b(decisions|d)\b USING", line):
                # By consent id, by row id, or (the foreign-key check of deleting a user
                # agent, which EXPLAIN shows too) by user agent id: never the site's rows.
                assert re.search(
                    r"INDEX decisions_(consent|user_agent) |INTEGER PRIMARY KEY", line
                ), (statement, line)
                checked += 1
            if re.search(r"\berasures\b USING", line):
                assert "INDEX erasures_consent " in line, (statement, line)
                checked += 1
    assert checked >= 6
    # The erasure did its work: the decisions are gone, one erasure is kept.
    after = decision_service.records(db, SECRET, "shop", cid)
    assert after["decisions"] == [] and len(after["erasures"]) == 1


def vm_steps(db, action) -> int:
    """Virtual-machine instructions (in thousands) SQLite runs for `action()`."""
    steps = [0]

    def tick():
        steps[0] += 1
        return 0

    db.conn.set_progress_handler(tick, 1000)
    try:
        action()
    finally:
        db.conn.set_progress_handler(None, 0)
    return steps[0]


@pytest.mark.sqlite_only(reason="counts SQLite's virtual machine steps")
def test_an_erasure_costs_the_same_on_a_small_and_a_large_log(db, published):
    costs = []
    for size in (1000, 40_000):
        fill(db, "shop", size - db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0], size)
        # A rare user agent: the erasure deletes it too (and its foreign-key check runs).
        answer = record(db)
        costs.append(
            vm_steps(
                db,
                lambda answer=answer: decision_service.erase(
                    db, SECRET, "shop", answer["consent_id"]
                ),
            )
        )
        assert db.execute("SELECT COUNT(*) FROM user_agents").fetchone()[0] == 1
    small, large = costs
    # 40 times the log: a scan would cost ~40 times as much; an index lookup about the same.
    assert large <= small + 5, costs
