"""The admin UI's Scan tab: history, findings grouped by kind, and "add as vendor".

The scans here are stored as a finished scan would store them; a real one, started from the
tab, is in e2e/test_scanner_admin.py.
"""

from __future__ import annotations

from server.storage import registry as registry_store
from server.storage import revisions as revision_store
from server.storage import scans as scan_store

PAGE = "https://shop.example.co.jp/"


def stored_scan(db, findings, revision=1):
    scan_id = scan_store.create(db, "shop", revision, {"urls": [], "max_pages": 20}, "test")
    scan_store.claim(db, scan_id, 1)
    result = {
        "site": "shop",
        "revision": revision,
        "scanned_at": "2026-12-04T00:00:00.000Z",
        "pages": [{"url": PAGE, "passes": {}}],
        "findings": findings,
    }
    leaks = sum(
        f["kind"] in ("undisclosed_host", "before_decision", "after_refusal") for f in findings
    )
    scan_store.finish(db, scan_id, result, leaks)
    return scan_id


HOTJAR = {
    "kind": "undisclosed_host",
    "page": PAGE,
    "pass": "accept_all",
    "host": "static.hotjar.com",
}
EARLY = {
    "kind": "before_decision",
    "page": PAGE,
    "pass": "no_decision",
    "host": "www.google-analytics.com",
    "vendor": "google-analytics",
    "category": "analytics",
}


def test_the_site_page_shows_the_last_scans_state(admin_client, db, published):
    editor = admin_client("editor")
    assert "Last scan: none yet" in editor.get("/admin/sites/shop").text
    stored_scan(db, [HOTJAR, EARLY])
    page = editor.get("/admin/sites/shop").text
    assert "Last scan:" in page and "2 leak(s)" in page
    stored_scan(db, [])
    assert "clean" in editor.get("/admin/sites/shop").text


def test_findings_are_grouped_by_kind_with_add_as_vendor_for_an_undisclosed_host(
    admin_client, db, published
):
    scan_id = stored_scan(db, [HOTJAR, EARLY])
    editor = admin_client("editor")
    tab = editor.get("/admin/sites/shop/scans").text
    assert f"Scan {scan_id}" in tab and "2 leak(s)" in tab
    page = editor.get(f"/admin/sites/shop/scans/{scan_id}").text
    assert "Hosts that no vendor of this site names (1)" in page
    assert "Sent before the visitor decided (1)" in page
    assert page.index("static.hotjar.com") < page.index("www.google-analytics.com")
    assert "Add static.hotjar.com as vendor" in page
    viewer = admin_client("viewer")
    assert "as vendor" not in viewer.get(f"/admin/sites/shop/scans/{scan_id}").text
    assert "Start a scan" not in viewer.get("/admin/sites/shop/scans").text


def test_add_as_vendor_puts_the_host_in_the_draft_under_a_category(admin_client, db, published):
    scan_id = stored_scan(db, [HOTJAR])
    editor = admin_client("editor")
    url = f"/admin/sites/shop/scans/{scan_id}/add-vendor"
    # A host the catalog does not know: the key is made from it and the host is the pattern.
    unknown = editor.get(url + "?host=cdn.tracker.example").text
    assert 'value="cdn-tracker-example"' in unknown and "cdn.tracker.example</textarea>" in unknown
    refused = editor.post(
        url, {"host": "static.hotjar.com", "key": "hotjar", "category": "analytics"}
    )
    assert refused.status_code == 400 and "Nothing was saved" in refused.text
    done = editor.post(
        url,
        {
            "host": "static.hotjar.com",
            "category": "analytics",
            "key": "hotjar",
            "name": "Hotjar",
            "recipient": "Hotjar Ltd.",
            "country": "MT",
            "privacy_policy_url": "https://www.hotjar.com/legal/policies/privacy/",
            "hosts": "static.hotjar.com\n*.hotjar.com",
            "cookies": "_hjSessionUser_*, 365",
            "data_sent.ja": "クリックとスクロール",
            "data_sent.en": "Clicks and scrolling",
            "purpose.ja": "使いやすさの分析",
            "purpose.en": "Analysing usability",
        },
    )
    assert done.status_code == 302 and done.headers["Location"].endswith(
        "/admin/sites/shop/publish"
    )
    site = registry_store.get_site(db, "shop")
    assert {"vendor": "hotjar", "category": "analytics"} in site["vendors"]
    assert registry_store.get_vendor(db, "hotjar")["hosts"] == ["static.hotjar.com", "*.hotjar.com"]
    assert revision_store.latest_number(db, "shop") == 1, "the admin still publishes"


def test_add_as_vendor_for_a_vendor_the_organization_has_adds_the_host(admin_client, db, published):
    scan_id = stored_scan(db, [{**HOTJAR, "host": "ssl.google-analytics.com"}])
    editor = admin_client("editor")
    vendor = registry_store.get_vendor(db, "google-analytics")
    response = editor.post(
        f"/admin/sites/shop/scans/{scan_id}/add-vendor",
        {
            "host": "ssl.google-analytics.com",
            "category": "analytics",
            "key": "google-analytics",
            "name": vendor["name"],
            "recipient": vendor["recipient"],
            "privacy_policy_url": vendor["privacy_policy_url"],
            "hosts": "ssl.google-analytics.com",
            "data_sent.ja": "x",
            "data_sent.en": "x",
            "purpose.ja": "x",
            "purpose.en": "x",
        },
    )
    assert response.status_code == 302
    updated = registry_store.get_vendor(db, "google-analytics")
    assert updated["hosts"] == ["www.google-analytics.com", "ssl.google-analytics.com"]
    assert updated["recipient"] == vendor["recipient"]


def test_a_viewer_cannot_start_a_scan_and_an_unpublished_site_is_refused(
    admin_client, db, registry_doc
):
    registry_store.apply(db, registry_doc, "test")
    viewer = admin_client("viewer")
    assert viewer.post("/admin/sites/shop/scans", {}).status_code == 403
    editor = admin_client("editor")
    response = editor.post("/admin/sites/shop/scans", {}, follow_redirects=True)
    assert "Publish the site first" in response.text
    assert scan_store.history(db, "shop") == []


def test_a_running_scan_refreshes_its_page_and_blocks_a_second(admin_client, db, published):
    running = scan_store.create(db, "shop", 1, {"urls": [], "max_pages": 20}, "test")
    editor = admin_client("editor")
    tab = editor.get("/admin/sites/shop/scans")
    assert tab.headers["Refresh"] == "3"
    assert f"Scan {running} is running" in tab.text and "Start a scan" not in tab.text
    response = editor.post(
        "/admin/sites/shop/scans", {"urls": PAGE, "max_pages": "5"}, follow_redirects=True
    )
    assert "still running" in response.text
    assert editor.get("/admin/sites/shop/scans/999").status_code == 404


def test_the_scan_tab_speaks_japanese(admin_client, db, published):
    scan_id = stored_scan(db, [HOTJAR, EARLY])
    editor = admin_client("editor")
    headers = {"Accept-Language": "ja"}
    page = editor.get(f"/admin/sites/shop/scans/{scan_id}", headers=headers).text
    assert "どの送信先にも記載のないホスト (1)" in page and "漏えい 2 件" in page
    assert "static.hotjar.com を送信先として追加" in page
    assert "スキャンを開始" in editor.get("/admin/sites/shop/scans", headers=headers).text


def test_scan_after_each_publish_is_a_per_site_setting_for_editors(admin_client, db, published):
    editor = admin_client("editor")
    assert scan_store.after_publish(db, "shop") is False
    response = editor.post("/admin/sites/shop/scans/settings", {"after_publish": "1"})
    assert response.status_code == 302
    assert scan_store.after_publish(db, "shop") is True
    assert 'name="after_publish" value="1" checked' in editor.get("/admin/sites/shop/scans").text
    editor.post("/admin/sites/shop/scans/settings", {})
    assert scan_store.after_publish(db, "shop") is False
    viewer = admin_client("viewer")
    assert (
        viewer.post("/admin/sites/shop/scans/settings", {"after_publish": "1"}).status_code == 403
    )
    assert scan_store.after_publish(db, "shop") is False


def test_add_as_vendor_is_prefilled_from_the_catalog_where_it_knows_the_host(
    admin_client, db, published
):
    """The catalog shipped in server/catalog knows Hotjar by its `*.hotjar.com` pattern."""
    scan_id = stored_scan(db, [HOTJAR])
    form = admin_client("editor").get(
        f"/admin/sites/shop/scans/{scan_id}/add-vendor?host=static.hotjar.com"
    )
    assert "Filled in from the vendor catalog" in form.text
    assert 'value="hotjar"' in form.text and 'value="Hotjar Ltd"' in form.text
    assert "*.hotjar.com\n*.hotjar.io</textarea>" in form.text, "the catalog's patterns"
    assert "_hjSessionUser_*, 365" in form.text and "clicks and scrolling" in form.text
