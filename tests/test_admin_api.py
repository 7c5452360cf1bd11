"""The admin API: tokens, the registry's resources, publishing, exports and the audit log."""

import csv
import io
import json

import pytest

from server.storage import accounts
from support import ORIGIN, decision

API = "/api/v1/admin"

NEW_VENDOR = {
    "key": "chat-widget",
    "name": "Chat",
    "recipient": "Chat K.K.",
    "country": "JP",
    "privacy_policy_url": "https://chat.example/privacy",
    "data_sent": {"ja": "チャット内容", "en": "Chat messages"},
    "purpose": {"ja": "問い合わせ対応", "en": "Answering questions"},
}


def test_token_required(client, published, db):
    assert client.get(f"{API}/vendors").status_code == 401
    response = client.get(f"{API}/vendors", headers={"Authorization": "Bearer pc_wrong"})
    assert response.status_code == 401 and response.json["error"]["code"] == "unauthorized"
    stored = db.execute("SELECT token_hash FROM tokens").fetchall()
    assert stored == []


def test_tokens_are_stored_hashed(db):
    token = accounts.create_token(db, "ci")
    (stored,) = db.execute("SELECT token_hash FROM tokens").fetchone()
    assert token not in stored and len(stored) == 64
    assert accounts.check_token(db, token)["name"] == "ci"


def test_viewer_token_may_only_read(client, db, published):
    viewer = {"Authorization": "Bearer " + accounts.create_token(db, "v", role="viewer")}
    assert client.get(f"{API}/vendors", headers=viewer).status_code == 200
    response = client.post(f"{API}/vendors", json=NEW_VENDOR, headers=viewer)
    assert response.status_code == 403
    assert client.post(f"{API}/sites/shop/publish", headers=viewer).status_code == 403


def test_vendor_crud_and_audit(client, auth, published):
    created = client.post(f"{API}/vendors", json=NEW_VENDOR, headers=auth)
    assert created.status_code == 201 and created.json["key"] == "chat-widget"
    assert client.post(f"{API}/vendors", json=NEW_VENDOR, headers=auth).status_code == 409
    listed = client.get(f"{API}/vendors?q=chat", headers=auth).json
    assert [v["key"] for v in listed] == ["chat-widget"]
    patched = client.patch(
        f"{API}/vendors/chat-widget", json={"recipient": "Chat Inc."}, headers=auth
    )
    assert patched.status_code == 200 and patched.json["recipient"] == "Chat Inc."
    assert patched.json["purpose"]["en"] == "Answering questions"
    assert client.delete(f"{API}/vendors/chat-widget", headers=auth).status_code == 204
    assert client.get(f"{API}/vendors/chat-widget", headers=auth).status_code == 404
    audit = client.get(f"{API}/audit", headers=auth).json
    mine = [
        (e["action"], e["object_type"], e["object_key"])
        for e in audit
        if e["actor"] == "token:tests"
    ]
    assert mine == [
        ("delete", "vendor", "chat-widget"),
        ("update", "vendor", "chat-widget"),
        ("create", "vendor", "chat-widget"),
    ]
    update = next(e for e in audit if e["action"] == "update")
    assert (
        update["before"]["recipient"] == "Chat K.K." and update["after"]["recipient"] == "Chat Inc."
    )


def test_invalid_vendor_names_each_field_and_changes_nothing(client, auth, published, db):
    bad = dict(NEW_VENDOR, privacy_policy_url="nope", purpose={"ja": "x"})
    response = client.post(f"{API}/vendors", json=bad, headers=auth)
    assert response.status_code == 400
    message = response.json["error"]["message"]
    assert "privacy_policy_url: must be an http(s) URL" in message
    assert response.json["error"]["code"] == "invalid"
    assert db.execute("SELECT COUNT(*) FROM vendors").fetchone()[0] == 3
    # a vendor used by a site must keep every language of that site
    response = client.patch(f"{API}/vendors/video", json={"purpose": {"ja": "動画"}}, headers=auth)
    assert (
        response.status_code == 400 and "purpose.en: missing" in response.json["error"]["message"]
    )


def test_vendor_in_use_cannot_be_deleted(client, auth, published):
    response = client.delete(f"{API}/vendors/video", headers=auth)
    assert response.status_code == 409
    assert "shop" in response.json["error"]["message"]


def test_sites_categories_assignments(client, auth, published):
    site = client.get(f"{API}/sites/shop", headers=auth).json
    assert site["origins"] == [ORIGIN]
    response = client.patch(
        f"{API}/sites/shop", json={"origins": [ORIGIN, "https://m.example.co.jp"]}, headers=auth
    )
    assert response.status_code == 200 and len(response.json["origins"]) == 2
    social = {
        "key": "social",
        "name": {"ja": "SNS", "en": "Social"},
        "description": {"ja": "共有", "en": "Sharing"},
        "position": 1,
    }
    response = client.post(f"{API}/sites/shop/categories", json=social, headers=auth)
    assert response.status_code == 201
    keys = [c["key"] for c in client.get(f"{API}/sites/shop/categories", headers=auth).json]
    assert keys == ["necessary", "social", "functional", "analytics", "advertising"]
    client.post(f"{API}/vendors", json=NEW_VENDOR, headers=auth)
    response = client.post(
        f"{API}/sites/shop/vendors",
        json={"vendor": "chat-widget", "category": "social"},
        headers=auth,
    )
    assert response.status_code == 201
    response = client.post(
        f"{API}/sites/shop/vendors",
        json={"vendor": "chat-widget", "category": "analytics"},
        headers=auth,
    )
    assert response.status_code == 409
    response = client.put(
        f"{API}/sites/shop/vendors/chat-widget", json={"category": "nope"}, headers=auth
    )
    assert response.status_code == 400 and "no category 'nope'" in response.json["error"]["message"]
    response = client.delete(f"{API}/sites/shop/categories/social", headers=auth)
    assert response.status_code == 409
    response = client.put(
        f"{API}/sites/shop/vendors/chat-widget", json={"category": "functional"}, headers=auth
    )
    assert response.status_code == 200
    assert client.delete(f"{API}/sites/shop/categories/social", headers=auth).status_code == 204
    published_now = client.post(f"{API}/sites/shop/publish", headers=auth)
    assert published_now.status_code == 201
    assert published_now.json["number"] == 2 and published_now.json["needs_decision"]
    assert {
        "change": "vendor_added",
        "vendor": "chat-widget",
        "name": "Chat",
        "category": "functional",
    } in published_now.json["changes"]
    unchanged = client.post(f"{API}/sites/shop/publish", headers=auth)
    assert unchanged.status_code == 200 and unchanged.json["created"] is False
    numbers = [r["number"] for r in client.get(f"{API}/sites/shop/revisions", headers=auth).json]
    assert numbers == [2, 1]
    config = client.get("/api/v1/sites/shop/config").json
    assert "chat-widget" in [v["key"] for v in config["vendors"]]


def test_create_site_and_refuse_deleting_a_published_one(client, auth, published):
    new = {
        "key": "blog",
        "name": {"ja": "ブログ", "en": "Blog"},
        "origins": ["https://blog.example"],
        "languages": ["en"],
        "categories": [
            {
                "key": "necessary",
                "required": True,
                "name": {"en": "Necessary"},
                "description": {"en": "Needed"},
            }
        ],
    }
    response = client.post(f"{API}/sites", json=new, headers=auth)
    assert response.status_code == 201 and response.json["default_language"] == "en"
    assert client.delete(f"{API}/sites/blog", headers=auth).status_code == 204
    assert client.delete(f"{API}/sites/shop", headers=auth).status_code == 409
    response = client.post(f"{API}/sites", json=dict(new, key="Bad!"), headers=auth)
    assert response.status_code == 400 and "key: must match" in response.json["error"]["message"]


def test_key_in_body_cannot_rename(client, auth, published):
    response = client.put(f"{API}/vendors/video", json=dict(NEW_VENDOR), headers=auth)
    assert response.status_code == 400


def test_export_decisions_csv_and_jsonl(client, auth, published):
    headers = {"Origin": ORIGIN}
    for _ in range(3):
        client.post("/api/v1/sites/shop/decisions", json=decision(), headers=headers)
    response = client.get(f"{API}/sites/shop/decisions?format=jsonl", headers=auth)
    assert response.status_code == 200 and response.is_streamed
    lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert len(lines) == 3 and lines[0]["categories"]["analytics"] is True
    response = client.get(f"{API}/sites/shop/decisions?format=csv", headers=auth)
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 3 and rows[0]["action"] == "custom" and rows[0]["revision"] == "1"
    later = client.get(f"{API}/sites/shop/decisions?since=2999-01-01T00:00:00Z", headers=auth)
    assert later.get_data(as_text=True) == ""
    bad = client.get(f"{API}/sites/shop/decisions?since=yesterday", headers=auth)
    assert bad.status_code == 400 and bad.json["error"]["message"].startswith("since:")
    assert client.get(f"{API}/sites/shop/decisions?format=xml", headers=auth).status_code == 400


def test_organization(client, auth, published):
    response = client.patch(
        f"{API}/organization",
        json={"name": {"ja": "株式会社テスト", "en": "Test Inc."}},
        headers=auth,
    )
    assert response.status_code == 200 and response.json["name"]["en"] == "Test Inc."
    response = client.patch(f"{API}/organization", json={"name": {"ja": "x"}}, headers=auth)
    assert response.status_code == 400 and "name.en: missing" in response.json["error"]["message"]


@pytest.mark.parametrize("path", ["/vendors", "/sites", "/sites/shop/categories"])
def test_non_json_body(client, auth, published, path):
    response = client.post(API + path, data="x", headers=auth)
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_json"


def test_csv_export_cannot_carry_a_spreadsheet_formula(client, auth, published):
    client.post(
        "/api/v1/sites/shop/decisions",
        json=decision(),
        headers={"Origin": ORIGIN, "User-Agent": '=HYPERLINK("https://evil.example","x")'},
    )
    text = client.get(f"{API}/sites/shop/decisions?format=csv", headers=auth).get_data(as_text=True)
    row = list(csv.DictReader(io.StringIO(text)))[0]
    assert row["user_agent"] == '\'=HYPERLINK("https://evil.example","x")'


@pytest.mark.parametrize(
    "query", ["since=2026-13-45", "until=2026-01-01T25:61", "since=2026-02-30"]
)
def test_impossible_times_are_a_400(client, auth, published, query):
    response = client.get(f"{API}/sites/shop/decisions?{query}", headers=auth)
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid"


@pytest.mark.parametrize("query", ["before_id=" + "9" * 24, "limit=-" + "1" * 23, "limit=0"])
def test_audit_bounds(client, auth, query):
    response = client.get(f"{API}/audit?{query}", headers=auth)
    assert response.status_code == 400


def test_deeply_nested_body_is_a_400(client, auth, published):
    response = client.post(
        f"{API}/vendors", data="[" * 5000, headers=auth, content_type="application/json"
    )
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_json"
