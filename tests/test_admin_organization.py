"""Admin UI: the organization page (name, policy URL, sections) and deleting an unpublished site."""

from __future__ import annotations

import json
import re

import pytest

from server.storage import registry as registry_store
from support import FormClient

SECTION = {
    "key": "contact",
    "title.ja": "お問い合わせ",
    "title.en": "Contact",
    "body.ja": "**窓口**: privacy@example.jp",
    "body.en": "Write to **privacy@example.jp**.",
}
BLOG = {
    "key": "blog",
    "name": {"ja": "ブログ", "en": "Blog"},
    "origins": ["https://blog.example"],
    "languages": ["ja", "en"],
    "default_language": "ja",
    "categories": [
        {
            "key": "necessary",
            "required": True,
            "name": {"ja": "必須", "en": "Necessary"},
            "description": {"ja": "必須です", "en": "Always on"},
        }
    ],
    "vendors": [{"vendor": "video", "category": "necessary"}],
}


def field_error(html, name):
    match = re.search(rf'<p class="error" id="err-{re.escape(name)}">(.*?)</p>', html, re.S)
    return match and match[1]


def audit_rows(db):
    return db.execute(
        "SELECT actor, action, object_type, object_key, site_key, before, after "
        "FROM audit_log ORDER BY id"
    ).fetchall()


@pytest.fixture
def setup(db, published):
    """The published test registry, a section, and an unpublished site `blog`."""

    def mutate(doc):
        doc["organization"]["sections"] = [
            {
                "key": "about",
                "title": {"ja": "概要", "en": "About"},
                "body": {"ja": "概要です。", "en": "About us."},
            }
        ]
        doc["sites"].insert(0, json.loads(json.dumps(BLOG)))
        return ""

    registry_store.change(db, mutate, "test")


def org(db):
    return registry_store.load(db)["organization"]


# Roles

ACTIONS = [
    ("GET", "/admin/organization", None, "viewer"),
    ("GET", "/admin/organization/sections/about", None, "viewer"),
    ("GET", "/admin/organization/sections/new", None, "editor"),
    (
        "POST",
        "/admin/organization",
        {
            "name.ja": "株式会社サンプル",
            "name.en": "Sample Co.",
            "privacy_policy_url": "https://example.jp/p",
        },
        "editor",
    ),
    ("POST", "/admin/organization/sections/new", SECTION, "editor"),
    (
        "POST",
        "/admin/organization/sections/about",
        {"title.ja": "概要2", "title.en": "About 2", "body.ja": "本文", "body.en": "Body"},
        "editor",
    ),
    ("POST", "/admin/organization/sections/about/move", {"direction": "down"}, "editor"),
    ("POST", "/admin/organization/sections/about/delete", {}, "editor"),
    ("GET", "/admin/sites/blog/delete", None, "editor"),
    ("POST", "/admin/sites/blog/delete", {}, "editor"),
]
RANK = {"viewer": 0, "editor": 1, "admin": 2}


@pytest.mark.parametrize("role", ["anonymous", "viewer", "editor", "admin"])
def test_each_role_against_each_action(client, admin_client, db, setup, role):
    user = FormClient(client) if role == "anonymous" else admin_client(role)
    for method, url, form, least in ACTIONS:
        before = len(audit_rows(db))
        response = user.get(url) if method == "GET" else user.post(url, data=form)
        if role != "anonymous" and RANK[role] >= RANK[least]:
            assert response.status_code in (200, 302), (role, url, response.status_code)
            assert "/admin/login" not in response.headers.get("Location", "")
            if method == "POST":
                assert len(audit_rows(db)) > before, (role, url)
        else:
            expected = (302 if method == "GET" else 401) if role == "anonymous" else 403
            assert response.status_code == expected, (role, url, response.status_code)
            assert len(audit_rows(db)) == before, (role, url)
    if role in ("editor", "admin"):
        assert [s["key"] for s in org(db)["sections"]] == ["contact"]
        assert "blog" not in registry_store.site_keys(db)
    else:
        assert [s["key"] for s in org(db)["sections"]] == ["about"]
        assert "blog" in registry_store.site_keys(db)


def test_a_viewer_reads_but_gets_no_buttons(admin_client, db, setup):
    viewer = admin_client("viewer")
    page = viewer.get("/admin/organization").text
    assert "Sample Inc." in page and "About" in page
    assert '<fieldset class="plain" disabled>' in page
    assert "Save organization" not in page and "New section" not in page
    assert "Move about" not in page
    assert "Delete this site" not in viewer.get("/admin/sites/blog").text


def test_navigation_links_to_the_page(admin_client, db, setup):
    viewer = admin_client("viewer")
    assert 'href="/admin/organization"' in viewer.get("/admin/").text


def test_forms_without_the_csrf_token_change_nothing(admin_client, db, setup):
    admin = admin_client("admin")
    before_doc, before_audit = registry_store.load(db), audit_rows(db)
    for url, form in [
        ("/admin/organization", {"name.ja": "別名", "name.en": "Other"}),
        ("/admin/organization/sections/new", SECTION),
        ("/admin/organization/sections/about/delete", {}),
        ("/admin/sites/blog/delete", {}),
    ]:
        for extra in ({}, {"csrf_token": "forged"}):
            response = admin.client.post(url, data={**form, **extra})
            assert response.status_code == 400 and "expired" in response.text, url
    assert registry_store.load(db) == before_doc and audit_rows(db) == before_audit


# Editing the organization


def test_save_the_organization_with_an_audit_entry(admin_client, db, setup):
    editor = admin_client("editor")
    response = editor.post(
        "/admin/organization",
        data={
            "name.ja": "株式会社テスト",
            "name.en": "Test K.K.",
            "privacy_policy_url": "https://test.example/privacy",
        },
        follow_redirects=True,
    )
    assert "Organization saved." in response.text
    saved = org(db)
    assert saved["name"] == {"ja": "株式会社テスト", "en": "Test K.K."}
    assert saved["privacy_policy_url"] == "https://test.example/privacy"
    assert [s["key"] for s in saved["sections"]] == ["about"]  # sections kept
    actor, action, kind, key, _site, before, after = audit_rows(db)[-1]
    assert (actor, action, kind, key) == (
        "user:editor@example.com",
        "update",
        "organization",
        "organization",
    )
    assert json.loads(before)["name"]["en"] == "Sample Inc."
    assert json.loads(after)["name"]["en"] == "Test K.K."
    # Live on the public front page at once, with the new policy link.
    front = editor.get("/?lang=en").text
    assert "Test K.K." in front and 'href="https://test.example/privacy"' in front


def test_organization_errors_are_next_to_their_fields_and_nothing_is_saved(admin_client, db, setup):
    editor = admin_client("editor")
    before_doc, before_audit = registry_store.load(db), audit_rows(db)
    response = editor.post(
        "/admin/organization",
        data={
            "name.ja": "株式会社<i>テスト</i>",
            "name.en": "",
            "privacy_policy_url": "ftp://x",
        },
    )
    assert response.status_code == 400
    page = response.text
    assert "missing" in field_error(page, "name-en")
    assert "http(s) URL" in field_error(page, "privacy_policy_url")
    assert re.search(
        r'id="f-name-en"[^>]*aria-describedby="err-name-en"[^>]*aria-invalid="true"', page
    )
    # What was typed comes back, escaped.
    assert 'value="株式会社&lt;i&gt;テスト&lt;/i&gt;"' in page and "<i>テスト" not in page
    assert registry_store.load(db) == before_doc and audit_rows(db) == before_audit


def test_the_organization_can_be_created_when_the_registry_has_none(admin_client, db, registry_doc):
    del registry_doc["organization"]
    registry_store.apply(db, registry_doc, "test")
    editor = admin_client("editor")
    refused = editor.post("/admin/organization/sections/new", data=SECTION)
    assert refused.status_code == 409 and "Save the organization&#39;s name first." in refused.text
    assert "organization" not in registry_store.load(db)
    editor.post("/admin/organization", data={"name.ja": "新会社", "name.en": "New Co."})
    assert org(db)["name"] == {"ja": "新会社", "en": "New Co."} and org(db)["sections"] == []
    assert audit_rows(db)[-1][1:4] == ("create", "organization", "organization")


# Sections


def test_add_edit_reorder_and_remove_sections(admin_client, db, setup):
    editor = admin_client("editor")
    response = editor.post("/admin/organization/sections/new", data=SECTION)
    assert response.status_code == 302 and response.headers["Location"].endswith("#sections")
    assert [s["key"] for s in org(db)["sections"]] == ["about", "contact"]
    assert org(db)["sections"][1]["body"]["en"] == "Write to **privacy@example.jp**."
    # The key cannot be changed by an edit: the URL's key wins.
    editor.post(
        "/admin/organization/sections/contact",
        data={**SECTION, "key": "renamed", "title.en": "Contact us"},
    )
    assert [s["key"] for s in org(db)["sections"]] == ["about", "contact"]
    assert org(db)["sections"][1]["title"]["en"] == "Contact us"
    editor.post("/admin/organization/sections/contact/move", data={"direction": "up"})
    assert [s["key"] for s in org(db)["sections"]] == ["contact", "about"]
    front = editor.get("/?lang=en").text
    assert front.index("Contact us") < front.index("About")
    assert "<strong>privacy@example.jp</strong>" in front  # Markdown rendered
    editor.post("/admin/organization/sections/about/delete")
    assert [s["key"] for s in org(db)["sections"]] == ["contact"]
    assert "About us." not in editor.get("/?lang=en").text
    entries = [(r[1], r[2], r[0]) for r in audit_rows(db)[-4:]]
    assert entries == [("update", "organization", "user:editor@example.com")] * 4
    removed = audit_rows(db)[-1]
    assert [s["key"] for s in json.loads(removed[5])["sections"]] == ["contact", "about"]
    # An unknown section is a 404 and changes nothing.
    assert editor.post("/admin/organization/sections/nope/delete").status_code == 404
    assert editor.get("/admin/organization/sections/nope").status_code == 404


def test_section_errors_are_next_to_their_fields_and_nothing_is_saved(admin_client, db, setup):
    editor = admin_client("editor")
    before_doc, before_audit = registry_store.load(db), audit_rows(db)
    response = editor.post(
        "/admin/organization/sections/new",
        data={
            "key": "Bad Key!",
            "title.ja": "",
            "title.en": "Title",
            "body.ja": "本文",
            "body.en": "",
        },
    )
    assert response.status_code == 400
    page = response.text
    assert "must match" in field_error(page, "key")
    assert "missing" in field_error(page, "title-ja")
    assert "missing" in field_error(page, "body-en")
    assert field_error(page, "title-en") is None
    assert 'value="Bad Key!"' in page and ">本文</textarea>" in page
    duplicate = editor.post("/admin/organization/sections/new", data={**SECTION, "key": "about"})
    assert duplicate.status_code == 400
    assert "already exists" in field_error(duplicate.text, "key")
    # An edit with a missing text keeps the old section whole.
    edit = editor.post(
        "/admin/organization/sections/about",
        data={
            "title.ja": "新しい見出し",
            "title.en": "",
            "body.ja": "x",
            "body.en": "y",
        },
    )
    assert edit.status_code == 400 and "missing" in field_error(edit.text, "title-en")
    assert registry_store.load(db) == before_doc and audit_rows(db) == before_audit


XSS_TITLE = '<script>alert("t")</script>Rights'
XSS_BODY = (
    "<img src=x onerror=alert(1)> <script>alert(2)</script> "
    "[click](javascript:alert(3)) [ok](https://example.jp/ok)"
)


def test_typed_markup_is_escaped_in_the_admin_and_on_the_front_page(admin_client, db, setup):
    editor = admin_client("editor")
    editor.post(
        "/admin/organization",
        data={
            "name.ja": "<b>株式会社</b>",
            "name.en": '"><svg onload=alert(0)>',
            "privacy_policy_url": "https://example.jp/p",
        },
    )
    response = editor.post(
        "/admin/organization/sections/new",
        data={
            "key": "rights",
            "title.ja": XSS_TITLE,
            "title.en": XSS_TITLE,
            "body.ja": XSS_BODY,
            "body.en": XSS_BODY,
        },
    )
    assert response.status_code == 302
    for lang in ("en", "ja"):
        editor.post("/admin/language", data={"lang": lang, "next": "/admin/"})
        for url in ("/admin/organization", "/admin/organization/sections/rights", "/admin/audit"):
            page = editor.get(url).text
            assert "<script>alert" not in page and "<img src=x" not in page, url
            assert "<svg onload" not in page and "<b>株式会社</b>" not in page, url
        listing = editor.get("/admin/organization").text
        assert "&lt;script&gt;alert(&#34;t&#34;)&lt;/script&gt;Rights" in listing
    for lang in ("en", "ja"):
        front = editor.get(f"/?lang={lang}").text
        assert "<script>alert" not in front and "<img src=x" not in front
        assert "<svg onload" not in front and "<b>株式会社</b>" not in front
        assert (
            "&lt;script&gt;alert(&#34;t&#34;)&lt;/script&gt;Rights" in front
            or "&lt;script&gt;alert(&quot;t&quot;)&lt;/script&gt;Rights" in front
        )
        assert 'href="javascript:' not in front.lower()
        assert 'href="https://example.jp/ok"' in front  # Markdown links still work


# Deleting a site


def test_an_unpublished_site_is_deleted_after_a_confirmation(admin_client, db, setup):
    editor = admin_client("editor")
    settings = editor.get("/admin/sites/blog").text
    assert 'href="/admin/sites/blog/delete"' in settings
    confirm = editor.get("/admin/sites/blog/delete").text
    assert "Yes, delete site blog" in confirm and 'action="/admin/sites/blog/delete"' in confirm
    assert "1 categories and 1 vendor assignments" in confirm
    response = editor.post("/admin/sites/blog/delete", follow_redirects=True)
    assert "Site blog deleted." in response.text
    assert registry_store.site_keys(db) == ["shop"]
    assert any(v["key"] == "video" for v in registry_store.load(db)["vendors"])
    entries = {(r[1], r[2], r[3]) for r in audit_rows(db) if r[0] == "user:editor@example.com"}
    assert entries == {
        ("delete", "site", "blog"),
        ("delete", "category", "necessary"),
        ("delete", "assignment", "video"),
    }
    site_entry = next(r for r in audit_rows(db) if r[2] == "site" and r[1] == "delete")
    assert json.loads(site_entry[5])["origins"] == ["https://blog.example"]
    assert editor.get("/admin/sites/blog").status_code == 404
    assert editor.post("/admin/sites/blog/delete").status_code == 404


def test_a_published_site_cannot_be_deleted(admin_client, db, setup):
    editor = admin_client("editor")
    settings = editor.get("/admin/sites/shop").text
    assert "it cannot be deleted" in settings and 'href="/admin/sites/shop/delete"' not in settings
    confirm = editor.get("/admin/sites/shop/delete").text
    assert "has published revisions and cannot be deleted" in confirm
    assert "Yes, delete" not in confirm
    before_doc, before_audit = registry_store.load(db), audit_rows(db)
    response = editor.post("/admin/sites/shop/delete")
    assert response.status_code == 302 and response.headers["Location"].endswith("#delete")
    page = editor.get(response.headers["Location"]).text
    assert "Site shop has published revisions and cannot be deleted" in page
    assert registry_store.load(db) == before_doc and audit_rows(db) == before_audit
    # The admin API refuses the same.
    assert editor.get("/api/v1/sites/shop/config").status_code == 200


def test_the_pages_speak_japanese(admin_client, db, setup):
    editor = admin_client("editor")
    editor.post("/admin/language", data={"lang": "ja", "next": "/admin/"})
    page = editor.get("/admin/organization").text
    assert (
        '<html lang="ja">' in page and "組織" in page and "プライバシーセンターのセクション" in page
    )
    assert "新しいセクション" in editor.get("/admin/organization/sections/new").text
    assert "はい、サイト blog を削除します" in editor.get("/admin/sites/blog/delete").text
    refused = editor.post("/admin/sites/shop/delete", follow_redirects=True).text
    assert "公開済みのリビジョンがあるため削除できません" in refused
    errors = editor.post("/admin/organization", data={"name.ja": "", "name.en": "X"}).text
    assert "何も保存されていません" in errors
