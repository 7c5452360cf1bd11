"""The scanner from the command line, on real pages: a publisher's pages on one origin, a
registered vendor's scripts on a second, and scripts from a third origin that no vendor names.

Each scan is a real `privacy-center scan` process driving Chromium, as a site's CI runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from server.services import registry as registry_service
from server.storage import accounts
from support import ADMIN_PASSWORD

VENDOR = {
    "key": "scan-analytics",
    "name": "Scan Analytics",
    "recipient": "Scan Analytics LLC",
    "country": "US",
    "privacy_policy_url": "https://scan-analytics.example/privacy",
    "hosts": ["127.0.0.3"],
    "cookies": [{"name": "_sa", "duration_days": 30}, {"name": "_sa_*", "duration_days": 30}],
    "data_sent": {"ja": "閲覧したページのURL", "en": "Page URLs visited"},
    "purpose": {"ja": "利用状況の分析", "en": "Analysing how the site is used"},
}


class Unnamed:
    """Scripts on 127.0.0.4, an origin that no vendor of any site names."""

    def __init__(self):
        self.requests: list[str] = []
        self.server = make_server("127.0.0.4", 0, self.wsgi, threaded=True)
        self.origin = f"http://127.0.0.4:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @Request.application
    def wsgi(self, request):
        self.requests.append(request.path)
        return Response("window.unnamedRan = true;", mimetype="text/javascript")


@pytest.fixture(scope="module")
def unnamed():
    server = Unnamed()
    yield server
    server.server.shutdown()


@pytest.fixture(scope="module")
def site(live):
    """A published site whose one optional vendor is scan-analytics, on the vendor's origin."""
    key = "scanned"
    doc = live.site_doc(key)
    doc["vendors"] = [*doc["vendors"], VENDOR]
    doc["sites"][0]["vendors"] = [{"vendor": "scan-analytics", "category": "analytics"}]
    live.apply(doc, publish=[key])
    return key


def scan(live, site_key, *args):
    """Run the CLI; (exit status, stdout, stderr)."""
    done = subprocess.run(
        [sys.executable, "-m", "server", "--database", live.db_path, "scan", site_key, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    return done.returncode, done.stdout, done.stderr


def scan_json(live, site_key, *urls, extra=()):
    args = [arg for url in urls for arg in ("--url", url)]
    status, out, err = scan(live, site_key, *args, "--format", "json", *extra)
    assert status in (0, 1), err
    return status, json.loads(out)


def kinds(result):
    return sorted({(f["kind"], f.get("host") or f.get("cookie")) for f in result["findings"]})


def held(vendor_url, category="analytics", vendor="scan-analytics"):
    return (
        f'<script type="text/plain" data-category="{category}" data-vendor="{vendor}"'
        f' data-src="{vendor_url}"></script>'
    )


def test_a_page_with_every_tag_held_is_clean(live, publisher, vendor, site):
    url = publisher.embed(site, held(vendor.url("/clean.js")))
    status, result = scan_json(live, site, url)
    assert status == 0
    assert result["findings"] == []
    assert result["site"] == site and result["revision"] >= 1
    passes = result["pages"][0]["passes"]
    # Held until accepted: the vendor's host is contacted in the accept-all pass only.
    assert "127.0.0.3" not in passes["no_decision"]["hosts"]
    assert "127.0.0.3" not in passes["reject_all"]["hosts"]
    assert "127.0.0.3" in passes["accept_all"]["hosts"]
    assert passes["accept_all"]["released"] == [
        {"category": "analytics", "vendor": "scan-analytics", "src": vendor.url("/clean.js")}
    ]
    assert passes["reject_all"]["released"] == []
    assert passes["reject_all"]["banner"] is True


def test_the_banner_is_found_by_its_japanese_names_and_a_page_without_it_is_noted(
    live, publisher, vendor, site
):
    japanese = publisher.embed(site, held(vendor.url("/ja.js")), lang="ja")
    bare = publisher.page("<!doctype html><html lang=en><title>no widget</title><p>nothing</p>")
    status, result = scan_json(live, site, japanese, bare)
    ja_page, bare_page = result["pages"]
    assert ja_page["passes"]["reject_all"]["banner"] is True
    assert ja_page["passes"]["accept_all"]["banner"] is True
    assert [r["src"] for r in ja_page["passes"]["accept_all"]["released"]] == [vendor.url("/ja.js")]
    assert bare_page["passes"]["reject_all"]["banner"] is False
    _, out, _ = scan(live, site, "--url", bare)
    assert "no banner button in reject_all; no banner button in accept_all" in out
    assert status == 0


def test_an_unheld_registered_tag_runs_before_the_decision_and_after_refusal(
    live, publisher, vendor, site
):
    url = publisher.embed(site, f'<script src="{vendor.url("/unheld.js")}"></script>')
    status, out, _ = scan(live, site, "--url", url)
    assert status == 1
    assert "before_decision (1)" in out and "after_refusal (1)" in out
    status, result = scan_json(live, site, url)
    leaks = [f for f in result["findings"] if f["kind"] in ("before_decision", "after_refusal")]
    assert sorted((f["kind"], f["pass"]) for f in leaks) == [
        ("after_refusal", "reject_all"),
        ("before_decision", "no_decision"),
    ]
    for finding in leaks:
        assert finding["host"] == "127.0.0.3"
        assert finding["vendor"] == "scan-analytics"
        assert finding["category"] == "analytics"
        assert finding["page"] == url


def test_a_tag_from_an_origin_no_vendor_names_is_an_undisclosed_host(
    live, publisher, unnamed, site
):
    url = publisher.embed(
        site, held(unnamed.origin + "/tag.js") + held(unnamed.origin + "/x.js", vendor="")
    )
    status, out, _ = scan(live, site, "--url", url)
    assert status == 1
    assert "undisclosed_host (1):" in out and "127.0.0.4" in out
    _, result = scan_json(live, site, url)
    assert kinds(result) == [("not_seen", None), ("undisclosed_host", "127.0.0.4")]
    [finding] = [f for f in result["findings"] if f["kind"] == "undisclosed_host"]
    assert finding["pass"] == "accept_all" and finding["page"] == url


def test_a_tag_that_sets_an_undeclared_cookie(live, publisher, vendor, site):
    tag = (
        '<script type="text/plain" data-category="analytics" data-vendor="scan-analytics">'
        'document.cookie = "_sa_id=1; path=/"; document.cookie = "_mystery=1; path=/";'
        "localStorage.setItem('mystery', '1');</script>"
    )
    url = publisher.embed(site, tag + held(vendor.url("/ok.js")))
    status, result = scan_json(live, site, url)
    assert kinds(result) == [("undisclosed_cookie", "_mystery")]
    assert status == 0, "an undeclared cookie alone is no leak"
    accepted = result["pages"][0]["passes"]["accept_all"]
    assert {c["name"] for c in accepted["cookies"]} >= {"_sa_id", "_mystery", "pc_consent"}
    assert "mystery" in accepted["local_storage"]
    status, _ = scan_json(live, site, url, extra=("--fail-on", "any"))
    assert status == 1


def test_links_are_followed_on_the_same_origin_only(live, publisher, vendor, site):
    second = publisher.embed(site, "<p>second</p>")
    first = publisher.embed(
        site, f'<a href="{second}">next</a><a href="{vendor.url("/away.html")}">away</a>'
    )
    _, result = scan_json(live, site, first, extra=("--max-pages", "5"))
    assert [p["url"] for p in result["pages"]] == [first, second]
    _, result = scan_json(live, site, first, extra=("--max-pages", "1"))
    assert [p["url"] for p in result["pages"]] == [first]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--url", "http://127.0.0.5/page"], "is not on one of the site's origins"),
        (["--url", "ftp://127.0.0.2/"], "is not an http or https URL"),
    ],
)
def test_a_url_outside_the_sites_origins_is_refused(live, site, args, message):
    status, out, err = scan(live, site, *args)
    assert status == 2
    assert message in err and "Traceback" not in err
    assert out == ""


def test_unknown_site_unpublished_site_and_missing_page_are_exit_2(live, publisher, site):
    status, _, err = scan(live, "no-such-site")
    assert status == 2 and "no site 'no-such-site'" in err
    doc = live.site_doc("scan-draft")
    live.apply(doc)
    status, _, err = scan(live, "scan-draft")
    assert status == 2 and "no published revision" in err
    status, _, err = scan(live, site, "--url", publisher.origin + "/missing.html")
    assert status == 2 and "HTTP 404" in err


# The admin's side: a scan started from the API and from the Scan tab, run in the background
# by a real CLI process that the live server starts.


def api(live, method, path, token, body=None):
    request = urllib.request.Request(
        live.url + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null"), response.headers
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read()), error.headers


def test_the_admin_api_starts_one_scan_at_a_time_and_reports_it(
    live, publisher, vendor, unnamed, site
):
    db = live.db()
    try:
        token = accounts.create_token(db, "scan-ci", "editor")
    finally:
        db.close()
    url = publisher.embed(site, held(unnamed.origin + "/api.js"))
    path = f"/api/v1/admin/sites/{site}/scans"
    status, started, headers = api(live, "POST", path, token, {"urls": [url], "max_pages": 1})
    assert status == 202 and started["state"] in ("queued", "running")
    assert headers["Location"].endswith(f"{path}/{started['id']}")
    status, busy, _ = api(live, "POST", path, token, {"urls": [url]})
    assert status == 409 and busy["error"]["code"] == "scan_running"
    deadline = time.monotonic() + 180
    while True:
        status, scan_now, _ = api(live, "GET", f"{path}/{started['id']}", token)
        if scan_now["state"] not in ("queued", "running") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert scan_now["state"] == "done", scan_now["error"]
    assert scan_now["progress"] == {"pages_done": 1, "pages_total": 1}
    assert [(f["kind"], f.get("host")) for f in scan_now["findings"]] == [
        ("undisclosed_host", "127.0.0.4"),
        ("not_seen", None),
    ]
    assert scan_now["leaks"] == 1 and scan_now["revision"] >= 1
    status, history, _ = api(live, "GET", path, token)
    assert history[0]["id"] == started["id"]


def sign_in(page, live, email):
    db = live.db()
    try:
        if not any(u["email"] == email for u in accounts.list_users(db)):
            accounts.create_user(db, email, ADMIN_PASSWORD, "editor")
    finally:
        db.close()
    page.goto(f"{live.url}/admin/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live.url}/admin/")


def scan_from_the_tab(page, live, site_key, url):
    page.goto(f"{live.url}/admin/sites/{site_key}/scans")
    page.get_by_label("Pages to start from").fill(url)
    page.get_by_label("At most this many pages").fill("1")
    page.get_by_role("button", name="Start a scan").click()
    # The scan's page refreshes itself while the scan runs.
    result = page.locator("#scan-result")
    result.wait_for(timeout=180_000)
    return result.inner_text()


def test_scan_add_the_host_as_vendor_publish_and_rescan_clean(
    live, publisher, vendor, unnamed, page, axe, screenshots_dir
):
    key = "scan-flow"
    doc = live.site_doc(key)
    doc["vendors"] = [*doc["vendors"], VENDOR]
    doc["sites"][0]["vendors"] = [{"vendor": "scan-analytics", "category": "analytics"}]
    live.apply(doc, publish=[key])
    url = publisher.embed(
        key, held(vendor.url("/flow.js")) + held(unnamed.origin + "/chat.js", vendor="")
    )
    sign_in(page, live, "scan-editor@example.com")

    assert "1 leak(s)" in scan_from_the_tab(page, live, key, url)
    assert page.get_by_role(
        "heading", name="Hosts that no vendor of this site names (1)"
    ).is_visible()
    page.screenshot(path=str(screenshots_dir / "scan-findings.png"), full_page=True)
    assert axe(page) == []

    page.get_by_role("link", name="Add 127.0.0.4 as vendor").click()
    assert page.get_by_label("Hosts").input_value() == "127.0.0.4"
    page.get_by_label("Category").select_option("functional")
    page.get_by_label("Key").fill("chat-co")
    page.locator("#f-name").fill("Chat Co")
    page.get_by_label("Recipient (who receives the data)").fill("Chat Co K.K.")
    page.get_by_label("Privacy policy URL").fill("https://chat.example/privacy")
    page.locator("#f-data_sent-ja").fill("会話の内容")
    page.locator("#f-data_sent-en").fill("Messages")
    page.locator("#f-purpose-ja").fill("問い合わせ対応")
    page.locator("#f-purpose-en").fill("Answering questions")
    assert axe(page) == []
    page.get_by_role("button", name="Add to the draft").click()
    assert (
        page.get_by_role("status").filter(has_text="Vendor chat-co added to the draft").is_visible()
    )
    page.get_by_role("button", name="Publish now").click()

    # Published: the held tag's host is now disclosed, and it still waits for Accept all.
    assert scan_from_the_tab(page, live, key, url) == "clean"

    # Scanned after each publish, with the last scan's pages: a leak shows without asking.
    page.goto(f"{live.url}/admin/sites/{key}/scans")
    page.get_by_label("Scan after each publish").check()
    page.get_by_role("button", name="Save", exact=True).click()
    db = live.db()
    try:
        registry_service.delete_assignment(db, key, "chat-co", "e2e")
    finally:
        db.close()
    page.goto(f"{live.url}/admin/sites/{key}/publish")
    page.get_by_role("button", name="Publish now").click()
    page.goto(f"{live.url}/admin/sites/{key}/scans")
    page.locator("tbody tr").first.get_by_role("link").click()  # the newest scan
    result = page.locator("#scan-result")
    result.wait_for(timeout=180_000)
    assert result.inner_text() == "1 leak(s)"
    page.get_by_role("link", name="Settings and content").click()
    assert "Last scan: 1 leak(s)" in page.locator(".scan-status").inner_text()
