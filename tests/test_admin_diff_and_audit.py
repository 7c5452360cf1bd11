"""Admin UI: old and new values on the publish and rollback pages, the first publication, the
audit log's readable changes, and choosing a category when assigning a vendor."""

from __future__ import annotations

import copy
import html
import json
import re

from admin import diff_view
from server import revisions
from server.registry import normalize
from server.storage import audit as audit_store
from server.storage import registry as registry_store
from server.storage import revisions as revision_store
from support import fetch_text


def compiled(doc, key="shop"):
    doc = normalize(doc)
    site = next(s for s in doc["sites"] if s["key"] == key)
    return revisions.compile_site(site, doc["organization"], {v["key"]: v for v in doc["vendors"]})


def words(page: str) -> str:
    """The page's text as a reader gets it: tags dropped, entities decoded, spaces collapsed."""
    text = re.sub(r"<[^>]+>", " ", page)
    return re.sub(r"\s+", " ", html.unescape(text)).strip()


def edited(registry_doc):
    """The test registry with a text, a list, a boolean and the organization changed."""
    after = copy.deepcopy(registry_doc)
    analytics = next(v for v in after["vendors"] if v["key"] == "google-analytics")
    analytics["purpose"] = {"ja": "利用状況の分析", "en": "Measuring <b>visits</b>"}
    analytics["hosts"] = ["www.google-analytics.com", "region1.google-analytics.com"]
    after["sites"][0]["honor_gpc"] = False
    after["organization"]["privacy_policy_url"] = "https://www.example.co.jp/privacy/v2"
    return after


# diff(values=True)


def test_diff_with_values_gives_old_and_new_of_each_changed_field(registry_doc):
    before, after = compiled(registry_doc), compiled(edited(registry_doc))
    plain = revisions.diff(before, after)
    detailed = revisions.diff(before, after, values=True)
    vendor = next(c for c in detailed if c["change"] == "vendor_changed")
    assert vendor["fields"] == ["hosts", "purpose"]
    assert vendor["old"] == {
        "hosts": ["www.google-analytics.com"],
        "purpose": {"ja": "利用状況の分析", "en": "Analysing how the site is used"},
    }
    assert vendor["new"]["purpose"]["en"] == "Measuring <b>visits</b>"
    site = next(c for c in detailed if c["change"] == "site_changed")
    assert site["fields"] == ["honor_gpc", "organization"]
    assert (site["old"]["honor_gpc"], site["new"]["honor_gpc"]) == (True, False)
    assert site["new"]["organization"]["privacy_policy_url"].endswith("/v2")
    # Only additions: without them the records are exactly what revisions store.
    for record in detailed:
        record.pop("old", None), record.pop("new", None)
    assert detailed == plain
    assert all("old" not in c for c in plain)
    # A new purpose asks visitors again, with or without the values.
    assert revisions.needs_decision(revisions.diff(before, after, values=True))
    assert revisions.needs_decision(plain)


def test_category_changes_carry_their_values_too(registry_doc):
    after = copy.deepcopy(registry_doc)
    after["sites"][0]["categories"][0]["required"] = False
    (change,) = revisions.diff(compiled(registry_doc), compiled(after), values=True)
    assert change["old"] == {"required": True} and change["new"] == {"required": False}
    assert revisions.needs_decision([change])


# How values read


def test_values_read_per_language_as_added_and_removed_items_and_as_yes_no(app):
    with app.test_request_context():
        texts = diff_view.rows("purpose", {"ja": "同じ", "en": "Old"}, {"ja": "同じ", "en": "New"})
        assert texts == [
            {"field": "purpose", "lang": "en", "kind": "value", "old": "Old", "new": "New"}
        ]
        (hosts,) = diff_view.rows("hosts", ["a.example", "b.example"], ["b.example", "c.example"])
        assert (hosts["added"], hosts["removed"]) == (["c.example"], ["a.example"])
        (order,) = diff_view.rows("languages", ["ja", "en"], ["en", "ja"])
        assert (order["kind"], order["old"], order["new"]) == ("order", "ja, en", "en, ja")
        (flag,) = diff_view.rows("honor_gpc", True, False)
        assert (flag["old"], flag["new"]) == ("yes", "no")
        (cookies,) = diff_view.rows(
            "cookies",
            [{"name": "_ga", "duration_days": 400}],
            [{"duration_days": 30, "name": "_ga"}],
        )
        assert (cookies["added"], cookies["removed"]) == (["_ga (30 days)"], ["_ga (400 days)"])
        (short,) = diff_view.rows("cookies", [], [{"name": "_gid", "duration_days": 1}])
        assert short["added"] == ["_gid (1 day)"]
        notice = diff_view.rows("notice", None, {"ja": "お知らせ", "en": "Notice"})
        assert [(r["lang"], r["old"], r["new"]) for r in notice] == [
            ("ja", None, "お知らせ"),
            ("en", None, "Notice"),
        ]
        nested = diff_view.rows(
            "organization",
            {"name": {"en": "A"}, "privacy_policy_url": "https://a.example/"},
            {"privacy_policy_url": "https://b.example/", "name": {"en": "B"}},
        )
        assert [(r["field"], r["lang"], r["new"]) for r in nested] == [
            ("organization.name", "en", "B"),
            ("organization.privacy_policy_url", None, "https://b.example/"),
        ]
        assert diff_view.rows("name", {"en": "Same", "ja": "同"}, {"ja": "同", "en": "Same"}) == []


# The publish and rollback pages


def test_the_publish_page_shows_each_changed_value_escaped(admin_client, db, published):
    registry_store.apply(db, edited(registry_store.load(db)), "test")
    page = admin_client("viewer").get("/admin/sites/shop/publish").text
    text = words(page)
    assert (
        "purpose (English): before: Analysing how the site is used → after: Measuring <b>visits</b>"
        in text
    )
    assert "hosts : added region1.google-analytics.com" in text
    assert "honor_gpc : before: yes → after: no" in text
    assert (
        "organization.privacy_policy_url : before: https://www.example.co.jp/privacy/ "
        "→ after: https://www.example.co.jp/privacy/v2"
    ) in text
    # The unchanged Japanese purpose is not listed; typed markup is shown, never run.
    assert "purpose (日本語)" not in text
    assert "Measuring &lt;b&gt;visits&lt;/b&gt;" in page and "<b>visits</b>" not in page
    assert "Visitors will be asked to decide again." in text


def test_the_rollback_page_shows_the_values_it_would_restore(admin_client, db, published):
    registry_store.apply(db, edited(registry_store.load(db)), "test")
    revision_store.publish(db, "shop", "test")
    page = admin_client("editor").get("/admin/sites/shop/revisions/1/rollback").text
    text = words(page)
    assert "hosts : removed region1.google-analytics.com" in text
    assert "honor_gpc : before: no → after: yes" in text
    assert "before: Measuring <b>visits</b> → after: Analysing how the site is used" in text
    assert "<b>visits</b>" not in page


def test_values_read_in_japanese_when_the_ui_is_japanese(admin_client, db, published):
    registry_store.apply(db, edited(registry_store.load(db)), "test")
    viewer = admin_client("viewer")
    viewer.post("/admin/language", {"lang": "ja", "next": "/admin/"})
    text = words(viewer.get("/admin/sites/shop/publish").text)
    assert "honor_gpc : 変更前： はい → 変更後： いいえ" in text
    assert "hosts : 追加 region1.google-analytics.com" in text


def test_a_first_publication_shows_the_banner_to_everyone_not_again(admin_client, db, published):
    doc = registry_store.load(db)
    blog = copy.deepcopy(doc["sites"][0])
    blog.update(key="blog", origins=["https://blog.example.co.jp"])
    doc["sites"].append(blog)
    registry_store.apply(db, doc, "test")
    editor = admin_client("editor")
    text = words(editor.get("/admin/sites/blog/publish").text)
    assert "This site has never been published." in text
    assert "shows the banner to every visitor" in text
    assert "again" not in text
    editor.post("/admin/language", {"lang": "ja", "next": "/admin/"})
    text = words(editor.get("/admin/sites/blog/publish").text)
    assert "すべての訪問者にバナーが表示され" in text
    assert "再度" not in text
    # A later revision still says "again" when it asks.
    doc["sites"][0]["vendors"].pop()
    registry_store.apply(db, doc, "test")
    revision_store.publish(db, "shop", "test")
    doc["sites"][0]["vendors"].append({"vendor": "ad-network", "category": "advertising"})
    registry_store.apply(db, doc, "test")
    assert "訪問者に再度判断を求めます。" in editor.get("/admin/sites/shop/publish").text


# The audit log


def audit_rows(page: str) -> list[str]:
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [words(row) for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def test_the_audit_log_lists_changed_fields_in_a_stable_order(admin_client, db, published):
    # The same change stored twice with its keys in different orders reads the same.
    before = {"key": "x", "purpose": {"en": "Old", "ja": "旧"}, "hosts": ["a.example"], "n": 1}
    after = {"n": 1, "hosts": ["b.example"], "purpose": {"ja": "旧", "en": "New"}, "key": "x"}
    audit_store.record(db, "token:audit-test", "update", "vendor", "x", None, before, after)
    reordered_before = dict(reversed(list(before.items())))
    reordered_after = dict(reversed(list(after.items())))
    audit_store.record(
        db, "token:audit-test", "update", "vendor", "x", None, reordered_before, reordered_after
    )
    page = admin_client("viewer").get("/admin/audit?actor=token:audit-test").text
    first, second = audit_rows(page)[:2]
    assert first == second
    assert "hosts : added b.example ; removed a.example" in first
    assert "purpose (English): before: Old → after: New" in first
    assert first.index("hosts") < first.index("purpose (English)")
    # Only what changed is listed; the full documents, keys sorted, are behind a <details>.
    listed = first.split("Full before and after (JSON)")[0]
    assert "旧" not in listed and " n " not in listed
    details = re.findall(r"<details>.*?</details>", page, re.S)[0]
    assert html.unescape(details).count('"hosts"') == 2
    assert html.unescape(details).index('"hosts"') < html.unescape(details).index('"key"')


def test_audit_entries_from_the_forms_read_as_old_and_new(admin_client, db, published):
    editor = admin_client("editor")
    registry_store.apply(db, edited(registry_store.load(db)), "user:editor@example.com")
    text = " | ".join(audit_rows(editor.get("/admin/audit?actor=user:editor@example.com").text))
    assert "honor_gpc : before: yes → after: no" in text
    assert "before: Analysing how the site is used → after: Measuring <b>visits</b>" in text
    assert "<b>visits</b>" not in editor.get("/admin/audit").text
    # A created object is said to be created, not listed field by field.
    created = next(
        r for r in audit_rows(editor.get("/admin/audit?actor=test").text) if "create vendor" in r
    )
    assert "created" in created and "before:" not in created


def test_the_audit_json_is_stable_whatever_order_was_stored(admin_client, db, published):
    audit_store.record(
        db,
        "token:audit-test",
        "update",
        "user",
        "a@example.com",
        None,
        {"role": "viewer", "active": True},
        {"active": True, "role": "editor"},
    )
    page = admin_client("viewer").get("/admin/audit?actor=token:audit-test").text
    pre = [html.unescape(p) for p in re.findall(r"<pre>(.*?)</pre>", page, re.S)]
    assert [json.loads(p) for p in pre] == [
        {"active": True, "role": "viewer"},
        {"active": True, "role": "editor"},
    ]
    assert all(p.index('"active"') < p.index('"role"') for p in pre)
    assert "role : before: viewer → after: editor" in words(page)


# Assigning a vendor


def with_unassigned_vendor(db):
    doc = registry_store.load(db)
    doc["sites"][0]["vendors"] = [
        a for a in doc["sites"][0]["vendors"] if a["vendor"] != "ad-network"
    ]
    registry_store.apply(db, doc, "test")


def test_the_category_of_a_new_assignment_starts_unchosen(admin_client, db, published):
    with_unassigned_vendor(db)
    page = admin_client("editor").get("/admin/sites/shop").text
    select = re.search(r'<select id="assign-category"[^>]*>(.*?)</select>', page, re.S)
    assert " required" in select[0].split(">", 1)[0]
    options = re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', select[1])
    assert options[0] == ("", " selected", "Choose a category…")
    assert not any(selected for _value, selected, _label in options[1:])


def test_an_empty_category_saves_nothing_and_says_so(admin_client, db, published):
    with_unassigned_vendor(db)
    editor = admin_client("editor")
    before = registry_store.load(db)
    audit_count = db.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]
    response = editor.post("/admin/sites/shop/vendors", {"vendor": "ad-network", "category": ""})
    assert response.status_code == 302
    assert registry_store.load(db) == before
    assert db.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0] == audit_count
    page = editor.get(response.headers["Location"]).text
    problem = re.search(r'<p class="problems" role="alert">(.*?)</p>', page, re.S)
    assert problem and problem[1] == "Choose a category for vendor ad-network."


def test_an_empty_category_is_refused_in_plain_words(admin_client, db, published):
    with_unassigned_vendor(db)
    editor = admin_client("editor")
    response = editor.post("/admin/sites/shop/vendors", {"vendor": "ad-network", "category": ""})
    page = editor.get(response.headers["Location"]).text
    assert "Choose a category for vendor ad-network." in page
    assert "sites[0]" not in page


# Fields that cannot be changed


def test_the_key_of_an_existing_object_is_disabled_and_says_it_cannot_change(
    admin_client, published
):
    viewer = admin_client("editor")
    for url in ("/admin/vendors/google-analytics", "/admin/sites/shop/categories/analytics"):
        page = viewer.get(url).text
        key = re.search(r'<input type="text" id="f-key"[^>]*>', page)[0]
        assert " disabled" in key
        help_id = re.search(r'aria-describedby="([^"]+)"', key)[1]
        assert "cannot be changed" in re.search(rf'id="{help_id}">([^<]*)<', page)[1]
    css = fetch_text(viewer.client, "/admin/static/admin.css")
    assert re.search(r"input:disabled[^{]*\{[^}]*background", css)
