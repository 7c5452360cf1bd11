"""Issue 11 #9: each site's retention_days, and `privacy-center purge` deleting what is past it."""

from __future__ import annotations

import copy
import json
import re
import sqlite3

import pytest
import yaml
from click.testing import CliRunner

from server.cli import main
from server.registry import DEFAULT_RETENTION_DAYS, RegistryError, normalize
from server.services import decisions as decision_service
from server.services import registry as registry_service
from server.storage import decisions as decision_log
from server.storage import figures as figures_store
from server.storage import migrate
from server.storage import revisions as revision_store
from server.storage.schema import write
from server.storage.util import iso_to_ms
from support import REGISTRY
from support import record_decision as record

SECRET = "test-secret"
API = "/api/v1/admin"


def run(db_path, *args, env=None):
    return CliRunner().invoke(main, ["--database", db_path, *args], env=env)


def erased(db, answer, at):
    """Erase the answer's consent id, the erasure record dated `at`."""
    decision_service.erase(db, SECRET, "shop", answer["consent_id"])
    with write(db):
        db.execute(
            "UPDATE erasures SET erased_at = ? WHERE id = (SELECT MAX(id) FROM erasures)", [at]
        )


def counts(db):
    return {
        table: db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        for table in ("decisions", "erasures", "user_agents", "audit_log")
    }


def figures(db):
    figures_store.catch_up(db)  # SQLite counts decisions in after writing them
    return (
        db.execute("SELECT * FROM figures_daily ORDER BY 1, 2, 3, 4").fetchall(),
        db.execute("SELECT * FROM figures_optins ORDER BY 1, 2, 3, 4, 5").fetchall(),
    )


# The registry field


def test_retention_days_defaults_and_is_checked():
    doc = copy.deepcopy(REGISTRY)
    assert normalize(doc)["sites"][0]["retention_days"] == DEFAULT_RETENTION_DAYS == 1095
    for value, problem in (
        # Shorter than the site's consent_max_age_days (180).
        (90, "must be at least the consent lifetime: a consent still in force must stay provable"),
        (3651, "must be between 1 and 3650"),
        ("2y", "must be a whole number"),
        (True, "must be a whole number"),
    ):
        doc["sites"][0]["retention_days"] = value
        with pytest.raises(RegistryError) as refused:
            normalize(doc)
        assert refused.value.problems == [f"sites[0].retention_days: {problem}"]
    doc["sites"][0]["retention_days"] = 180  # the consent lifetime itself is enough
    assert normalize(doc)["sites"][0]["retention_days"] == 180


def test_retention_round_trips_through_export_and_apply(tmp_path, db_path, registry_doc):
    registry_doc["sites"][0]["retention_days"] = 730
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump(registry_doc, allow_unicode=True), encoding="utf-8")
    assert run(db_path, "registry", "apply", str(path), "--publish").exit_code == 0
    exported = run(db_path, "registry", "export").output
    assert yaml.safe_load(exported)["sites"][0]["retention_days"] == 730
    again = tmp_path / "exported.yaml"
    again.write_text(exported, encoding="utf-8")
    assert "no changes" in run(db_path, "registry", "apply", str(again)).output
    as_json = json.loads(run(db_path, "registry", "export", "--format", "json").output)
    assert as_json["sites"][0]["retention_days"] == 730


def test_retention_is_not_part_of_a_revision(db, published, client, auth):
    assert not registry_service.pending(db, "shop")
    changed = client.patch(f"{API}/sites/shop", json={"retention_days": 400}, headers=auth)
    assert changed.status_code == 200 and changed.json["retention_days"] == 400
    assert client.get(f"{API}/sites/shop", headers=auth).json["retention_days"] == 400
    # Nothing visitors see changed: nothing to publish, and the public config does not show it.
    assert not registry_service.pending(db, "shop")
    assert "retention_days" not in json.dumps(revision_store.get(db, "shop")["content"])
    refused = client.patch(f"{API}/sites/shop", json={"retention_days": 30}, headers=auth)
    assert refused.status_code == 400
    assert "retention_days" in refused.json["error"]["message"]


def test_admin_site_form_edits_retention(admin_client, db, published):
    editor = admin_client("editor")
    page = editor.get("/admin/sites/shop").text
    assert re.search(r'name="retention_days" value="1095"', page)
    form = {
        "name.ja": "テストショップ",
        "name.en": "Test Shop",
        "origins": "https://shop.example.co.jp",
        "languages.ja": "1",
        "languages.en": "1",
        "default_language": "ja",
        "consent_max_age_days": "180",
        "honor_gpc": "1",
    }
    refused = editor.post("/admin/sites/shop", data={**form, "retention_days": "100"})
    assert refused.status_code == 400
    assert "at least the consent lifetime" in refused.text
    saved = editor.post("/admin/sites/shop", data={**form, "retention_days": "800"})
    assert saved.status_code == 302
    assert registry_service.get_site(db, "shop")["retention_days"] == 800


def test_the_schema_step_gives_stored_sites_the_default(db, published):
    with write(db):
        (doc,) = db.execute("SELECT doc FROM sites WHERE key = 'shop'").fetchone()
        site = json.loads(doc)
        del site["retention_days"]
        db.execute("UPDATE sites SET doc = ? WHERE key = 'shop'", [json.dumps(site)])
        db.set_schema_version(6)  # before step 7, which added retention_days
    migrate(db)
    migrate(db)  # idempotent
    assert registry_service.get_site(db, "shop")["retention_days"] == DEFAULT_RETENTION_DAYS


# privacy-center purge


@pytest.fixture
def old_and_new(db, published):
    """On shop: two decisions of 2020 (one user agent only they use), one of 2026, erasures."""
    old = record(db, user_agent="OldBrowser/0.1", at="2020-03-01T10:00:00.000Z")
    record(
        db,
        user_agent="OldBrowser/0.1",
        at="2020-03-02T10:00:00.000Z",
        consent={"consent_id": old["consent_id"], "receipt": old["receipt"]},
    )
    record(db, user_agent="Browser/1.0", at="2026-11-01T10:00:00.000Z")
    erased(db, record(db, user_agent="Browser/1.0"), "2020-04-01T00:00:00.000Z")
    erased(db, record(db, user_agent="Browser/1.0"), "2026-11-02T00:00:00.000Z")
    return old


def test_purge_by_date_keeps_the_figures(db_path, db, old_and_new):
    before = counts(db)
    rollups = figures(db)
    result = run(db_path, "purge", "--before", "2021-01-01")
    assert result.exit_code == 0, result.output
    assert re.search(
        r"shop: deleted 2 decisions and 1 erasure records older than 2021-01-01T00:00:00.000Z",
        result.output,
    ), result.output
    assert "user agents no longer used: deleted 1" in result.output
    after = counts(db)
    assert after["decisions"] == before["decisions"] - 2 == 1
    assert after["erasures"] == 1
    agents = [v for (v,) in db.execute("SELECT value FROM user_agents")]
    assert agents == ["Browser/1.0"]  # the one only the old decisions used is gone
    assert figures(db) == rollups and rollups[0]  # the daily figures are kept
    assert decision_log.for_consent(db, old_and_new["consent_id"], "shop") == []


def test_purge_by_each_sites_retention(client, auth, db_path, db, old_and_new):
    # 2020 is older than the default three years; 2026-11-01 is newer than any retention.
    result = run(db_path, "purge")
    assert result.exit_code == 0, result.output
    assert re.search(
        r"shop: deleted 2 decisions and 1 erasure records older than \S+ "
        r"\(retention 1095 days\)",
        result.output,
    ), result.output
    assert counts(db)["decisions"] == 1
    # A shorter retention takes the next one; figures stay.
    record(db, at="2026-01-01T00:00:00.000Z")
    assert (
        client.patch(f"{API}/sites/shop", json={"retention_days": 200}, headers=auth).json[
            "retention_days"
        ]
        == 200
    )
    result = run(db_path, "purge", "--site", "shop")
    assert "shop: deleted 1 decisions" in result.output and "(retention 200 days)" in result.output
    assert counts(db)["decisions"] == 1


def test_dry_run_changes_nothing_and_says_what_would_go(db_path, db, old_and_new):
    before, rollups = counts(db), figures(db)
    dry = run(db_path, "purge", "--before", "2021-01-01", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "dry run: nothing is deleted" in dry.output
    assert "shop: would delete 2 decisions and 1 erasure records" in dry.output
    assert "user agents no longer used: would delete 1" in dry.output
    assert counts(db) == before and figures(db) == rollups
    real = run(db_path, "purge", "--before", "2021-01-01")
    assert "shop: deleted 2 decisions and 1 erasure records" in real.output
    assert "user agents no longer used: deleted 1" in real.output


def test_purge_drops_retry_ids_older_than_a_day_and_keeps_todays(db_path, db, published):
    old = record(db, consent={"request_id": "retry-of-last-week"})
    new = record(db, consent={"request_id": "retry-of-this-hour"})
    with write(db):
        db.execute(
            "UPDATE decision_requests SET created_at = ? WHERE request_id = ?",
            [iso_to_ms("2026-11-20T00:00:00.000Z"), "retry-of-last-week"],
        )
    result = run(db_path, "purge", "--before", "2020-01-01")
    assert result.exit_code == 0, result.output
    assert "retry ids older than a day: deleted 1" in result.output
    kept = [r for (r,) in db.execute("SELECT request_id FROM decision_requests")]
    assert kept == ["retry-of-this-hour"]
    # Both decisions stay: only the memory of their first answer went.
    assert counts(db)["decisions"] == 2 and old["consent_id"] != new["consent_id"]


def test_purge_runs_in_batches_that_let_writers_in(db_path, db, published):
    for day in range(1, 8):
        record(db, user_agent=f"Browser/{day}", at=f"2020-01-0{day}T00:00:00.000Z")
    batches = decision_log.purge_decisions(db, "shop", "2021-01-01T00:00:00.000Z", batch=3)
    assert next(batches) == 3
    # Between two batches the write lock is free: another connection records at once.
    # (PostgreSQL has no such lock: a purge's batch locks only the rows it deletes.)
    if db.engine == "sqlite":
        other = sqlite3.connect(db_path, timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
        finally:
            other.close()
    assert list(batches) == [3, 1]
    assert counts(db)["decisions"] == 0
    # Through the CLI: each batch is its own transaction, at most --batch-size rows.
    for day in range(1, 6):
        record(db, at=f"2020-02-0{day}T00:00:00.000Z")
    result = run(db_path, "purge", "--before", "2021-01-01", "--batch-size", "2")
    assert "shop: deleted 5 decisions" in result.output
    assert "write transactions of at most 2 rows" in result.output


def test_audit_log_keeps_its_own_retention(db_path, db, old_and_new):
    with write(db):
        db.execute("UPDATE audit_log SET at = '2020-01-01T00:00:00.000Z' WHERE id = 1")
    entries = counts(db)["audit_log"]
    # The decisions' date does not touch the audit log ...
    result = run(db_path, "purge", "--before", "2021-01-01")
    assert "audit log: deleted 0 entries" in result.output
    # ... its own retention does: ten years by default, or the deployment's setting.
    assert "audit log: deleted 0 entries" in run(db_path, "purge").output
    result = run(db_path, "purge", env={"PRIVACY_CENTER_AUDIT_RETENTION_DAYS": "1000"})
    assert "audit log: deleted 1 entries" in result.output, result.output
    assert counts(db)["audit_log"] == entries - 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["--before", "2021-13-01"], "'2021-13-01' is not an ISO 8601 date or time"),
        (["--before", "yesterday"], "is not an ISO 8601 date or time"),
        (["--before", "2999-01-01"], "is in the future"),
        (["--site", "nope"], "no site 'nope'"),
        (["--batch-size", "0"], "--batch-size"),
    ],
)
def test_bad_input_is_a_readable_error_and_changes_nothing(db_path, db, old_and_new, args, message):
    before = counts(db)
    result = run(db_path, "purge", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert counts(db) == before
