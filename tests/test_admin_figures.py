"""Consent figures: the daily rollups follow the log (record, erase, migration) and the page shows them."""

from __future__ import annotations

import re
import sqlite3

from server.storage import connect, migrate
from server.storage import decisions as decision_log
from server.storage import figures as figures_store
from server.storage.schema import STEPS
from support import choice


def rollup_rows(db):
    figures_store.catch_up(db)  # SQLite counts decisions in after writing them
    return (
        db.execute("SELECT * FROM figures_daily ORDER BY 1, 2, 3, 4").fetchall(),
        db.execute(
            "SELECT * FROM figures_optins WHERE accepted != 0 ORDER BY 1, 2, 3, 4, 5"
        ).fetchall(),
    )


def test_rollups_follow_record_and_erase(db, published):
    stamp = decision_log.record(db, "shop", "c" * 22, choice("accept_all", True, True), None, None)
    decision_log.record(db, "shop", "d" * 22, choice("reject_all", False, False), None, None)
    decision_log.record(db, "shop", "d" * 22, choice("custom", True, False), None, None)
    day = stamp[:10]
    assert figures_store.daily(db, "shop", day, day) == [
        (day, 1, "accept_all", 1),
        (day, 1, "custom", 1),
        (day, 1, "reject_all", 1),
    ]
    optins = {(kind, key): n for _, kind, key, n in figures_store.optins(db, "shop", day, day)}
    assert optins[("category", "analytics")] == 2 and optins[("category", "advertising")] == 1
    assert optins[("category", "necessary")] == 3 and optins[("vendor", "ad-network")] == 1
    decision_log.erase(db, "d" * 22, "shop", "hash")
    assert figures_store.daily(db, "shop", day, day) == [(day, 1, "accept_all", 1)]
    optins = {(kind, key): n for _, kind, key, n in figures_store.optins(db, "shop", day, day)}
    assert optins[("category", "analytics")] == 1


def test_the_migration_builds_rollups_from_an_existing_log(tmp_path, published, db):
    for i, (action, a, ads) in enumerate(
        [("accept_all", True, True), ("custom", True, False), ("reject_all", False, False)]
    ):
        decision_log.record(db, "shop", f"{i:022d}", choice(action, a, ads), None, None)
    expected = rollup_rows(db)
    # Go back to schema 1 with the same log, then migrate again: the back-fill must agree.
    old = tmp_path / "old.db"
    conn = sqlite3.connect(old)
    conn.executescript(STEPS[0])
    conn.execute("PRAGMA user_version = 1")
    cols = (
        "consent_id, site_key, revision, action, categories, vendors, language, page_url, "
        "gpc, recorded_at"
    )
    conn.executemany(
        f"INSERT INTO decisions ({cols}) VALUES (?,?,?,?,?,?,?,?,?,?)",
        db.execute(f"SELECT {cols} FROM decisions").fetchall(),
    )
    # the log's choices decode against the revisions they name
    conn.executemany(
        "INSERT INTO revisions VALUES (?,?,?,?,?,?,?,?,?)",
        db.execute("SELECT * FROM revisions").fetchall(),
    )
    conn.commit()
    conn.close()
    migrated = connect(old)
    migrate(migrated)
    assert rollup_rows(migrated) == expected


def test_the_figures_page_shows_shares_and_rates(admin_client, db, published):
    for i in range(3):
        decision_log.record(db, "shop", f"a{i:021d}", choice("accept_all", True, True), None, None)
    decision_log.record(db, "shop", "r" * 22, choice("reject_all", False, False), None, None)
    viewer = admin_client("viewer")
    page = viewer.get("/admin/sites/shop/figures").text
    assert "4 decisions from" in page
    assert page.count('<svg class="chart"') == 4  # the charts; the legend swatches are svg too
    # accept all 3 of 4, reject all 1 of 4; analytics accepted by 3 of 4.
    assert "75.0%" in page and "25.0%" in page
    assert re.search(r"Analytics <code>analytics</code></th>\s*<td>75.0%", page)
    bad = viewer.get("/admin/sites/shop/figures?from=2026-02-10&to=2026-01-01")
    assert bad.status_code == 400 and "must not be after" in bad.text
    empty = viewer.get("/admin/sites/shop/figures?from=2001-01-01&to=2001-01-30").text
    assert "0 decisions from 2001-01-01 to 2001-01-30" in empty


def test_consent_search_and_streamed_export(admin_client, db, published):
    decision_log.record(db, "shop", "x" * 22, choice("custom", True, False), None, None)
    viewer = admin_client("viewer")
    found = viewer.get("/admin/consents?consent_id=" + "x" * 22).text
    assert "custom" in found and "analytics ✓" in found and "advertising ✗" in found
    export = viewer.get("/admin/consents/export?site=shop&format=jsonl")
    assert export.status_code == 200 and export.headers["Content-Type"].startswith(
        "application/x-ndjson"
    )
    assert '"consent_id":"' + "x" * 22 in export.get_data(as_text=True)
    csv = viewer.get("/admin/consents/export?site=shop&format=csv&from=2001-01-01&to=2001-01-02")
    assert csv.get_data(as_text=True).strip().startswith("recorded_at,consent_id")
    assert csv.get_data(as_text=True).count("\n") == 1
