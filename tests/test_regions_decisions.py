"""Regional rules in the consent log: regime and region recorded, `dismiss`, and the proof."""

import csv
import io
import json
import sqlite3

import pytest
from test_cli import run

from server import create_app
from server.storage import connect, migrate
from server.storage import registry as registry_store
from server.storage import revisions as revision_store
from server.storage.schema import STEPS
from support import ORIGIN, cdn_app, decision

DECISIONS = "/api/v1/sites/shop/decisions"
OPTIONAL = {"functional": True, "analytics": True, "advertising": True}


@pytest.fixture
def app(db_path, db):
    return cdn_app(db_path)


def post(client, body, country=None, subdivision=None, **headers):
    headers = {"Origin": ORIGIN, **headers}
    if country:
        headers["CF-IPCountry"] = country
    if subdivision:
        headers["CF-Region-Code"] = subdivision
    return client.post(DECISIONS, json=body, headers=headers)


def stored(db, consent_id):
    return db.execute(
        "SELECT action, regime, region, gpc FROM decisions WHERE consent_id = ?", [consent_id]
    ).fetchone()


def test_a_decision_keeps_the_regime_and_region_of_its_request(client, db, regional):
    jp = post(client, decision(), "JP")
    de = post(client, decision(), "DE")
    unknown = post(client, decision(), "T1")
    assert (jp.json["regime"], jp.json["region"]) == ("notice", "JP")
    assert stored(db, jp.json["consent_id"]) == ("custom", "notice", "JP", 0)
    assert stored(db, de.json["consent_id"]) == ("custom", "opt_in", "DE", 0)
    assert stored(db, unknown.json["consent_id"]) == ("custom", "opt_in", None, 0)


def test_dismissing_a_notice_records_what_is_in_force(client, db, regional):
    answer = post(client, {"revision": 1, "action": "dismiss", "language": "ja"}, "JP")
    assert answer.status_code == 201, answer.json
    assert answer.json["categories"] == {"necessary": True, **OPTIONAL}
    assert all(answer.json["vendors"].values())
    assert stored(db, answer.json["consent_id"]) == ("dismiss", "notice", "JP", 0)


def test_dismiss_under_gpc_records_the_refusal(client, db, regional):
    answer = post(client, {"revision": 1, "action": "dismiss"}, "US", "CA", **{"Sec-GPC": "1"})
    assert answer.status_code == 201, answer.json
    assert answer.json["categories"]["advertising"] is False
    assert answer.json["vendors"]["ad-network"] is False
    assert answer.json["categories"]["analytics"] is True
    assert stored(db, answer.json["consent_id"]) == ("dismiss", "opt_out", "US-CA", 1)


@pytest.mark.parametrize("country", ["DE", None])
def test_dismiss_is_refused_where_consent_comes_first(client, db, regional, country):
    answer = post(client, {"revision": 1, "action": "dismiss"}, country)
    assert answer.status_code == 400
    assert answer.json["error"]["code"] == "invalid_decision"
    assert "dismiss is only for a notice" in answer.json["error"]["message"]
    assert "opt_in" in answer.json["error"]["message"]
    assert db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 0


def test_dismiss_refuses_nothing(client, regional):
    partial = post(
        client,
        {"revision": 1, "action": "dismiss", "categories": {**OPTIONAL, "analytics": False}},
        "JP",
    )
    assert partial.status_code == 400
    assert "dismiss must accept every optional category" in partial.json["error"]["message"]
    vendor = post(
        client, {"revision": 1, "action": "dismiss", "vendors": {"ad-network": False}}, "JP"
    )
    assert vendor.status_code == 400
    assert vendor.json["error"]["message"].startswith("vendors.ad-network: dismiss refuses")


def test_without_a_region_header_the_default_regime_is_recorded(db_path, db, registry_doc):
    registry_doc["sites"][0]["regimes"] = {"default": "notice"}
    registry_store.apply(db, registry_doc, "test")
    revision_store.publish(db, "shop", "test")
    client = create_app({"DATABASE": db_path, "SECRET_KEY": "k", "REGION_HEADER": None})
    client = client.test_client()
    answer = post(client, {"revision": 1, "action": "dismiss"}, "DE")  # the header is not read
    assert answer.status_code == 201
    assert stored(db, answer.json["consent_id"]) == ("dismiss", "notice", None, 0)


def test_exports_carry_regime_and_region(client, db, db_path, regional, auth):
    post(client, decision(), "JP")
    post(client, {"revision": 1, "action": "dismiss"}, "US", "CA")
    # A row recorded before regimes existed: null in the table, shown as opt_in.
    post(client, decision(), "DE")
    db.execute("UPDATE decisions SET regime = NULL, region = NULL WHERE id = 3")
    as_csv = client.get("/api/v1/admin/sites/shop/decisions?format=csv", headers=auth).text
    rows = list(csv.DictReader(io.StringIO(as_csv)))
    assert [(r["action"], r["regime"], r["region"]) for r in rows] == [
        ("custom", "notice", "JP"),
        ("dismiss", "opt_out", "US-CA"),
        ("custom", "opt_in", ""),
    ]
    lines = client.get("/api/v1/admin/sites/shop/decisions", headers=auth).text.splitlines()
    assert [(json.loads(x)["regime"], json.loads(x)["region"]) for x in lines] == [
        ("notice", "JP"),
        ("opt_out", "US-CA"),
        ("opt_in", None),
    ]
    cli = run(db_path, "decisions", "export", "shop", "--format", "jsonl").output.splitlines()
    assert json.loads(cli[1])["regime"] == "opt_out" and json.loads(cli[1])["region"] == "US-CA"


def test_the_receipt_page_says_the_rule_and_region(client, regional):
    answer = post(client, {"revision": 1, "action": "dismiss"}, "JP").json
    url = f"/consents/{answer['consent_id']}"
    en = client.post(f"{url}?lang=en", data={"receipt": answer["receipt"]}).text
    assert "Notice closed without a choice" in en
    assert "Rule applied: Notice (Japan&#39;s rules on external transmission)" in en
    assert "Region: JP" in en
    ja = client.post(f"{url}?lang=ja", data={"receipt": answer["receipt"]}).text
    assert "適用されたルール：通知・公表（外部送信規律）" in ja and "地域：JP" in ja
    api = client.get(
        f"/api/v1/consents/{answer['consent_id']}",
        headers={"Authorization": f"Bearer {answer['receipt']}"},
    ).json
    assert (api["decisions"][0]["regime"], api["decisions"][0]["region"]) == ("notice", "JP")


def test_the_admin_consent_log_shows_regime_and_region(client, admin_client, regional):
    consent_id = post(client, decision(), "US", "CA").json["consent_id"]
    page = admin_client("viewer").get(f"/admin/consents?consent_id={consent_id}").text
    assert "<td>opt_out</td><td>US-CA</td>" in page


def figures(client, auth, **query):
    return client.get("/api/v1/admin/sites/shop/figures", query_string=query, headers=auth)


def test_figures_are_split_by_regime(client, regional, auth, admin_client):
    post(client, decision(), "JP")
    post(client, {"revision": 1, "action": "dismiss"}, "JP")
    post(client, {"revision": 1, "action": "dismiss"}, "US", "CA")
    erased = post(client, decision(action="accept_all", categories=OPTIONAL), "DE").json
    post(client, decision(action="accept_all", categories=OPTIONAL), "FR")
    answer = figures(client, auth).json
    assert answer["total"] == 5
    assert answer["actions"] == {"accept_all": 2, "custom": 1, "dismiss": 2}
    assert answer["regimes"] == {
        "opt_in": {"total": 2, "actions": {"accept_all": 2}},
        "opt_out": {"total": 1, "actions": {"dismiss": 1}},
        "notice": {"total": 2, "actions": {"custom": 1, "dismiss": 1}},
    }
    client.delete(
        f"/api/v1/consents/{erased['consent_id']}",
        headers={"Authorization": f"Bearer {erased['receipt']}"},
    )
    assert figures(client, auth).json["regimes"]["opt_in"] == {
        "total": 1,
        "actions": {"accept_all": 1},
    }
    page = admin_client("viewer").get("/admin/sites/shop/figures").text
    assert 'data-regime="notice"><th scope="row">Notice</th><td>2</td>' in page
    assert 'data-regime="opt_out"><th scope="row">Opt-out</th><td>1</td>' in page


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"from": "2026-13-01"}, "from: must be a day"),
        ({"to": "yesterday"}, "to: must be a day"),
        ({"from": "2026-02-01", "to": "2026-01-01"}, "from: must not be after to"),
        ({"from": "2020-01-01", "to": "2026-01-01"}, "at most 400 days"),
    ],
)
def test_figures_refuse_a_bad_range(client, regional, auth, query, message):
    answer = figures(client, auth, **query)
    assert answer.status_code == 400 and message in answer.json["error"]["message"]


@pytest.mark.sqlite_only(reason="builds a SQLite database of schema version 9 by hand")
def test_the_figures_of_an_earlier_log_count_as_opt_in(tmp_path, db, published, client):
    for _ in range(2):
        assert post(client, decision()).status_code == 201
    old = tmp_path / "old.db"
    conn = sqlite3.connect(old)
    conn.executescript(";".join(step for step in STEPS[:3] if isinstance(step, str)))
    conn.execute("PRAGMA user_version = 9")  # every step before regimes
    for table in ("decision_requests", "scans"):
        conn.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY)")
    cols = "consent_id, site_key, revision, action, categories, vendors, language, gpc, recorded_at"
    conn.executemany(
        f"INSERT INTO decisions ({cols}) VALUES (?,?,?,?,?,?,?,?,?)",
        db.execute(f"SELECT {cols} FROM decisions").fetchall(),
    )
    conn.commit()
    conn.close()
    migrated = connect(old)
    assert migrate(migrated) == (9, len(STEPS))
    rows = migrated.execute("SELECT regime, action, decisions FROM figures_regimes").fetchall()
    assert rows == [("opt_in", "custom", 2)]
    assert migrated.execute("SELECT regime, region FROM decisions").fetchall() == [(None, None)] * 2
    migrated.close()
