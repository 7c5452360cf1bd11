"""The admin UI in real Chromium: a new admin registers a vendor, assigns it, publishes, rolls back.

Every page visited is screenshotted to build/screenshots/admin/ and checked with axe-core
(WCAG 2.1 A and AA). The browser is the shared one from e2e/conftest.py.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from server import create_app
from server.storage import accounts, connect, migrate
from server.storage import decisions as decision_log
from server.storage import registry as registry_store
from server.storage import revisions as revision_store
from support import ADMIN_PASSWORD, DATABASES, REGISTRY

sync_api = pytest.importorskip("playwright.sync_api")
axe_module = pytest.importorskip("axe_playwright_python.sync_playwright")

SHOTS = Path(__file__).resolve().parent.parent / "build" / "screenshots" / "admin"
EMAIL, PASSWORD = "new-admin@example.com", ADMIN_PASSWORD
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@pytest.fixture(scope="module")
def admin_server(tmp_path_factory):
    path = DATABASES.new(tmp_path_factory.mktemp("admin-e2e"))
    db = connect(path)
    migrate(db)
    registry_store.apply(db, REGISTRY, "test")
    revision_store.publish(db, "shop", "test")
    accounts.create_user(db, EMAIL, PASSWORD, "admin")
    revision = revision_store.get(db, "shop")
    for i, action in enumerate(["accept_all", "accept_all", "reject_all", "custom"]):
        on = action != "reject_all"
        decision_log.record(
            db,
            "shop",
            f"e2e-consent-{i:08d}",
            {
                "revision": revision["number"],
                "action": action,
                "categories": {
                    "necessary": True,
                    "functional": on,
                    "analytics": on,
                    "advertising": action == "accept_all",
                },
                "vendors": {
                    "video": on,
                    "google-analytics": on,
                    "ad-network": action == "accept_all",
                },
                "language": "ja",
                "page_url": "https://shop.example.co.jp/",
                "gpc": False,
            },
            "Mozilla/5.0",
            None,
        )
    db.close()
    app = create_app({"DATABASE": path, "SECRET_KEY": "e2e-secret"})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    DATABASES.give_back(path)


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(8000)
    yield page
    context.close()


_axe = axe_module.Axe()


def check(page, name):
    """Screenshot the page and assert axe-core finds no WCAG 2.1 A/AA violation."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    result = _axe.run(page, options={"runOnly": {"type": "tag", "values": AXE_TAGS}})
    violations = [
        (v["id"], [n["target"] for n in v["nodes"]][:3]) for v in result.response["violations"]
    ]
    assert violations == [], f"{name}: {violations}"


def config(base):
    with urllib.request.urlopen(f"{base}/api/v1/sites/shop/config") as response:
        return json.load(response)


def test_register_assign_publish_and_roll_back(admin_server, page):
    base = admin_server
    page.goto(f"{base}/admin/")
    assert page.url.endswith("/admin/login?next=/admin/")
    check(page, "01-login")
    # Signing in with the keyboard alone.
    page.get_by_label("Email").focus()
    page.keyboard.type(EMAIL)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/admin/")
    check(page, "02-sites")

    page.get_by_role("link", name="Vendors", exact=True).click()
    check(page, "03-vendors")
    page.get_by_role("link", name="New vendor", exact=True).click()
    page.get_by_label("Key").fill("chat-widget")
    page.locator("#f-name").fill("Chat Widget")
    page.get_by_label("Recipient (who receives the data)").fill("Chat Co.")
    page.get_by_label("Privacy policy URL").fill("not a url")
    page.get_by_role("button", name="Save vendor").click()
    # Errors next to their fields; nothing saved.
    expect(page.locator("#err-privacy_policy_url")).to_be_visible()
    assert page.get_by_label("Privacy policy URL").get_attribute("aria-invalid") == "true"
    check(page, "04-vendor-errors")
    page.get_by_label("Privacy policy URL").fill("https://chat.example/privacy")
    page.get_by_label("Cookies").fill("_chat, 30")
    page.locator("#f-data_sent-ja").fill("会話の内容")
    page.locator("#f-data_sent-en").fill("Messages")
    page.locator("#f-purpose-ja").fill("問い合わせ対応")
    page.locator("#f-purpose-en").fill("Answering questions")
    page.get_by_role("button", name="Save vendor").click()
    expect(page.get_by_role("status").filter(has_text="Vendor chat-widget saved.")).to_be_visible()
    page.get_by_role("link", name="Sites", exact=True).click()
    page.get_by_role("link", name="Sample Shop").click()
    check(page, "05-site")
    page.locator("#assign-vendor").select_option("chat-widget")
    # No category is chosen for you: the browser refuses to send the form without one.
    category = page.locator("#assign-category")
    assert category.input_value() == ""
    page.get_by_role("button", name="Assign vendor").click()
    assert category.evaluate("el => el.validity.valueMissing")
    assert page.get_by_role("link", name="chat-widget").count() == 0
    category.select_option("analytics")
    page.get_by_role("button", name="Assign vendor").click()
    expect(page.get_by_text("Vendor chat-widget assigned to analytics.")).to_be_visible()
    page.get_by_role("link", name="Publish", exact=True).click()
    expect(page.get_by_text("Vendor added:")).to_be_visible()
    expect(page.get_by_text("Visitors will be asked to decide again.")).to_be_visible()
    check(page, "06-publish-diff")
    assert "chat-widget" not in [v["key"] for v in config(base)["vendors"]]
    page.get_by_role("button", name="Publish now").click()
    expect(page.get_by_text("Published revision 2.")).to_be_visible()
    check(page, "07-revisions")
    # The widget reads this configuration; the banner itself belongs to the widget's tests.
    live = config(base)
    assert live["revision"] == 2
    assert {"key": "chat-widget", "category": "analytics"}.items() <= next(
        v for v in live["vendors"] if v["key"] == "chat-widget"
    ).items()

    page.get_by_role("link", name="Roll back to 1").click()
    expect(page.get_by_text("Vendor removed:")).to_be_visible()
    check(page, "08-rollback")
    page.get_by_role("button", name="Publish revision 1 again").click()
    expect(page.get_by_text("Published revision 3 with the content of revision 1.")).to_be_visible()
    assert "chat-widget" not in [v["key"] for v in config(base)["vendors"]]


def test_every_other_page_looks_right_and_passes_axe(admin_server, page):
    base = admin_server
    page.goto(f"{base}/admin/login")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/admin/")
    for name, path in [
        ("09-embed", "/admin/sites/shop/embed"),
        ("10-figures", "/admin/sites/shop/figures"),
        ("11-category", "/admin/sites/shop/categories/analytics"),
        ("12-new-site", "/admin/sites/new"),
        ("13-audit", "/admin/audit"),
        ("14-consents", "/admin/consents?consent_id=e2e-consent-00000000"),
        ("15-users", "/admin/users"),
        ("16-tokens", "/admin/tokens"),
        ("17-account", "/admin/account"),
        ("20-section-new", "/admin/organization/sections/new"),
        ("21-site-delete-refused", "/admin/sites/shop/delete"),
    ]:
        page.goto(base + path)
        check(page, name)
    # A section written in the organization page shows on the privacy center's front page.
    page.goto(f"{base}/admin/organization/sections/new")
    page.get_by_label("Key").fill("contact")
    page.locator("#f-title-ja").fill("お問い合わせ")
    page.locator("#f-title-en").fill("Contact")
    page.locator("#f-body-ja").fill("**窓口**までご連絡ください。")
    page.locator("#f-body-en").fill("Write to **our desk**.")
    page.get_by_role("button", name="Save section").click()
    expect(page.get_by_role("status").filter(has_text="Section contact saved.")).to_be_visible()
    check(page, "22-organization")
    page.goto(f"{base}/?lang=en")
    expect(page.get_by_role("heading", name="Contact")).to_be_visible()
    expect(page.locator("strong", has_text="our desk")).to_be_visible()
    assert (
        page.locator("svg.chart").count() == 0
    )  # the front page: no chart outside the figures page
    page.goto(f"{base}/admin/sites/shop/figures")
    assert page.locator("svg.chart").count() == 4
    expect(page.get_by_text("4 decisions from")).to_be_visible()
    page.get_by_role("button", name="日本語").click()
    assert page.locator("html").get_attribute("lang") == "ja"
    expect(page.get_by_role("heading", name="同意の集計")).to_be_visible()
    check(page, "18-figures-ja")
    page.get_by_role("link", name="ベンダー", exact=True).first.click()
    check(page, "19-vendors-ja")


def sign_in(page, base):
    page.goto(f"{base}/admin/login")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/admin/")


def test_publish_and_audit_show_old_and_new_values(admin_server, page):
    base = admin_server
    sign_in(page, base)
    page.goto(f"{base}/admin/vendors/google-analytics")
    page.locator("#f-purpose-en").fill("Measuring <b>visits</b>")
    page.get_by_label("Hosts").fill("www.google-analytics.com\nregion1.google-analytics.com")
    page.get_by_role("button", name="Save vendor").click()
    page.goto(f"{base}/admin/sites/shop/publish")
    purpose = page.locator("ul.values li", has_text="purpose")
    assert purpose.count() == 1  # only the English text changed
    assert purpose.locator("del").inner_text().endswith("Analysing how the site is used")
    assert purpose.locator("ins").inner_text().endswith("Measuring <b>visits</b>")
    hosts = page.locator("ul.values li", has_text="hosts")
    assert hosts.locator("ins").inner_text() == "region1.google-analytics.com"
    check(page, "23-publish-values")
    page.goto(f"{base}/admin/audit")
    first = page.locator("table.audit tbody tr").first
    expect(first.locator("ul.values ins", has_text="Measuring <b>visits</b>")).to_be_visible()
    assert not first.locator("pre").first.is_visible()  # the full JSON waits behind <details>
    first.get_by_text("Full before and after (JSON)").click()
    expect(first.locator("pre").first).to_be_visible()
    check(page, "24-audit-values")


def test_a_disabled_key_does_not_look_editable(admin_server, page):
    sign_in(page, admin_server)
    page.goto(f"{admin_server}/admin/vendors/google-analytics")
    key, name = page.locator("#f-key"), page.locator("#f-name")
    assert key.is_disabled() and name.is_editable()

    def look(field):
        return field.evaluate(
            "el => { const s = getComputedStyle(el);"
            " return [s.backgroundColor, s.borderTopStyle, s.color]; }"
        )

    (key_bg, key_border, key_ink), (name_bg, name_border, name_ink) = look(key), look(name)
    assert key_bg != name_bg and key_border == "dashed" and name_border == "solid"
    assert key_ink != name_ink
    assert "cannot be changed" in page.locator("#help-key").inner_text()


@pytest.mark.parametrize("language", ["en", "ja"])
def test_the_header_wraps_by_item_on_a_phone(admin_server, browser, language):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(8000)
    try:
        sign_in(page, admin_server)
        if language == "ja":
            page.get_by_role("button", name="日本語").click()
        for path in ("/admin/sites/shop/publish", "/admin/audit"):
            page.goto(admin_server + path)
            # One line each: no link or control of the header is broken inside its words.
            items = page.locator("header.top nav li, header.top .tools > *")
            assert items.count() >= 8
            for i in range(items.count()):
                box = items.nth(i).bounding_box()
                line = items.nth(i).evaluate("el => parseFloat(getComputedStyle(el).lineHeight)")
                assert box["height"] < 1.6 * line, items.nth(i).inner_text()
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
        check(page, f"25-phone-audit-{language}")
    finally:
        context.close()
