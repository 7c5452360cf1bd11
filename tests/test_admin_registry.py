"""Admin UI: editing the registry through forms (validation, all or nothing, escaping, audit)."""

from __future__ import annotations

import json
import re

from server.storage import registry as registry_store
from server.storage import revisions as revision_store

VENDOR = {
    "key": "chat-widget",
    "name": "Chat <b>Widget</b>",
    "recipient": "Chat Co.",
    "country": "jp",
    "privacy_policy_url": "https://chat.example/privacy",
    "hosts": "chat.example\ncdn.chat.example",
    "cookies": "_chat, 30\n_chat_s 1",
    "data_sent.ja": "会話の内容",
    "data_sent.en": "Messages",
    "purpose.ja": "問い合わせ対応",
    "purpose.en": "Answering questions",
}


def field_error(html, name):
    match = re.search(rf'<p class="error" id="err-{re.escape(name)}">(.*?)</p>', html, re.S)
    return match and match[1]


def test_create_a_vendor_with_every_field(admin_client, db, published):
    editor = admin_client("editor")
    response = editor.post("/admin/vendors/new", data=VENDOR)
    assert response.status_code == 302
    vendor = next(v for v in registry_store.load(db)["vendors"] if v["key"] == "chat-widget")
    assert vendor["country"] == "JP"
    assert vendor["hosts"] == ["chat.example", "cdn.chat.example"]
    assert vendor["cookies"] == [
        {"name": "_chat", "duration_days": 30},
        {"name": "_chat_s", "duration_days": 1},
    ]
    assert vendor["data_sent"] == {"ja": "会話の内容", "en": "Messages"}
    entry = db.execute(
        "SELECT actor, action, object_type, after FROM audit_log WHERE object_key = 'chat-widget'"
    ).fetchone()
    assert entry[:3] == ("user:editor@example.com", "create", "vendor")
    assert json.loads(entry[3])["name"] == "Chat <b>Widget</b>"
    # What an admin typed is escaped wherever it is shown.
    listing = editor.get("/admin/vendors").text
    assert "Chat &lt;b&gt;Widget&lt;/b&gt;" in listing and "<b>Widget</b>" not in listing
    audit = editor.get("/admin/audit").text
    assert "<b>Widget</b>" not in audit


def test_each_problem_is_shown_next_to_its_field_and_nothing_is_saved(admin_client, db, published):
    editor = admin_client("editor")
    before = registry_store.load(db)
    audit_before = db.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]
    bad = {
        **VENDOR,
        "key": "Bad Key",
        "privacy_policy_url": "ftp://x",
        "data_sent.en": "",
        "cookies": "_ok, 10\n_bad, soon",
        "country": "Japan",
    }
    response = editor.post("/admin/vendors/new", data={**bad})
    assert response.status_code == 400
    html = response.text
    assert "must match" in field_error(html, "key")
    assert "http(s) URL" in field_error(html, "privacy_policy_url")
    assert "line 2" in field_error(html, "cookies") and "whole number" in field_error(
        html, "cookies"
    )
    assert field_error(html, "country")
    # The input points at its error, for screen readers.
    assert re.search(
        r'id="f-privacy_policy_url"[^>]*aria-describedby="err-privacy_policy_url"'
        r'[^>]*aria-invalid="true"',
        html,
    )
    # What was typed comes back, escaped.
    assert 'value="Chat &lt;b&gt;Widget&lt;/b&gt;"' in html
    assert registry_store.load(db) == before
    assert db.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0] == audit_before


def test_a_vendor_used_by_a_site_needs_texts_in_its_languages(admin_client, db, published):
    editor = admin_client("editor")
    form = {
        "key": "video",
        "name": "Video Player",
        "recipient": "Video Co.",
        "privacy_policy_url": "https://video.example/privacy",
        "data_sent.ja": "再生状況",
        "purpose.ja": "動画の再生",
        "purpose.en": "Playing videos",
    }
    response = editor.post("/admin/vendors/video", data=form)
    assert response.status_code == 400 and field_error(response.text, "data_sent-en")


def test_a_vendor_in_use_cannot_be_deleted(admin_client, db, published):
    editor = admin_client("editor")
    response = editor.post("/admin/vendors/video/delete", follow_redirects=True)
    assert "still assigned to shop" in response.text
    assert any(v["key"] == "video" for v in registry_store.load(db)["vendors"])


def test_assign_publish_with_diff_and_roll_back(admin_client, db, published):
    editor = admin_client("editor")
    editor.post("/admin/vendors/new", data=VENDOR)
    response = editor.post(
        "/admin/sites/shop/vendors",
        data={"vendor": "chat-widget", "category": "functional"},
        follow_redirects=True,
    )
    assert "Vendor chat-widget assigned to functional" in response.text
    preview = editor.get("/admin/sites/shop/publish").text
    assert "Vendor added:" in preview and "chat-widget" in preview
    assert "Visitors will be asked to decide again." in preview
    editor.post("/admin/sites/shop/publish")
    live = editor.get("/api/v1/sites/shop/config").get_json()
    assert live["revision"] == 2 and "chat-widget" in [v["key"] for v in live["vendors"]]
    assert "Nothing to publish" not in editor.get("/admin/sites/shop/revisions").text
    rollback = editor.get("/admin/sites/shop/revisions/1/rollback").text
    assert "Vendor removed:" in rollback
    editor.post("/admin/sites/shop/revisions/1/rollback")
    live = editor.get("/api/v1/sites/shop/config").get_json()
    assert live["revision"] == 3 and "chat-widget" not in [v["key"] for v in live["vendors"]]
    # The draft keeps the vendor: a rollback changes what is live, not the registry.
    assert "chat-widget" in [a["vendor"] for a in registry_store.load(db)["sites"][0]["vendors"]]
    actions = [
        row[0]
        for row in db.execute(
            "SELECT action || ' ' || object_type FROM audit_log WHERE actor = 'user:editor@example.com' "
            "ORDER BY id"
        )
    ]
    assert actions == ["create vendor", "create assignment", "publish revision", "publish revision"]
    assert [r["published_by"] for r in revision_store.history(db, "shop")][:2] == [
        "user:editor@example.com"
    ] * 2


def test_site_settings_errors_and_category_rules(admin_client, db, published):
    editor = admin_client("editor")
    response = editor.post(
        "/admin/sites/shop",
        data={
            "name.ja": "ショップ",
            "name.en": "",
            "origins": "https://shop.example.co.jp/path\nnot a url",
            "languages.ja": "1",
            "languages.en": "1",
            "default_language": "ja",
            "consent_max_age_days": "1000",
        },
    )
    assert response.status_code == 400
    assert field_error(response.text, "name-en")
    assert "line 1" in field_error(response.text, "origins") and "line 2" in field_error(
        response.text, "origins"
    )
    assert "between 1 and 395" in field_error(response.text, "consent_max_age_days")
    # A category that still holds vendors cannot be deleted.
    refused = editor.post(
        "/admin/sites/shop/categories/analytics/delete",
        follow_redirects=True,
    )
    assert "still holds google-analytics" in refused.text
    moved = editor.post(
        "/admin/sites/shop/categories/advertising/move",
        data={"direction": "up"},
    )
    assert moved.status_code == 302
    keys = [c["key"] for c in registry_store.load(db)["sites"][0]["categories"]]
    assert keys == ["necessary", "functional", "advertising", "analytics"]


def test_create_a_site_and_a_category(admin_client, db, published):
    editor = admin_client("editor")
    response = editor.post(
        "/admin/sites/new",
        data={
            "key": "blog",
            "name.ja": "ブログ",
            "name.en": "Blog",
            "origins": "https://blog.example",
            "languages.ja": "1",
            "languages.en": "1",
            "default_language": "en",
            "consent_max_age_days": "90",
            "honor_gpc": "1",
        },
    )
    assert response.status_code == 302
    response = editor.post(
        "/admin/sites/blog/categories/new",
        data={
            "key": "advertising",
            "name.ja": "広告",
            "name.en": "Ads",
            "description.ja": "広告",
            "description.en": "Ads",
            "gpc_refuses": "1",
        },
    )
    assert response.status_code == 302
    site = next(s for s in registry_store.load(db)["sites"] if s["key"] == "blog")
    assert [c["key"] for c in site["categories"]] == ["necessary", "advertising"]
    assert site["categories"][1]["google_consent_types"] == [
        "ad_storage",
        "ad_user_data",
        "ad_personalization",
    ]
    duplicate = editor.post(
        "/admin/sites/new",
        data={
            "key": "blog",
            "name.ja": "ブログ",
            "name.en": "Blog",
            "origins": "https://b.example",
            "languages.ja": "1",
            "default_language": "ja",
        },
    )
    assert duplicate.status_code == 400 and "already exists" in field_error(duplicate.text, "key")


def test_the_ui_speaks_japanese_when_chosen(admin_client, db, published):
    editor = admin_client("editor")
    editor.post("/admin/language", data={"lang": "ja", "next": "/admin/"})
    page = editor.get("/admin/vendors").text
    assert '<html lang="ja">' in page and "ベンダー" in page
