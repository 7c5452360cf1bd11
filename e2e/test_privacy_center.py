"""The privacy center in real Chromium: axe-core on every page in both languages, the visitor's
withdraw and erase, no JavaScript, print, and admin-typed markup that stays inert.

The server fixture here is this file's own (the demo registry on 127.0.0.1 in a thread); the
browser is the shared one from e2e/conftest.py.
"""

from __future__ import annotations

import copy
import json
import threading
import urllib.request
from pathlib import Path

import pytest
import yaml

pytest.importorskip("playwright")
from playwright.sync_api import expect  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from server import create_app  # noqa: E402
from server.storage import accounts, connect, migrate  # noqa: E402
from server.storage import registry as registry_store  # noqa: E402
from server.storage import revisions as revision_store  # noqa: E402
from support import DATABASES  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "server" / "demo" / "registry.yaml"
SHOTS = ROOT / "build" / "screenshots"
NEWS_ORIGIN = "https://news.sakura-media.example"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
LANGS = ("ja", "en")


def _axe_source() -> str:
    import axe_playwright_python

    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text(encoding="utf-8")


class Server:
    """The app on 127.0.0.1:<free port>, in a thread, with its own database."""

    def __init__(self, db_path: str):
        self.db_path = db_path
        self.app = create_app({"DATABASE": db_path, "SECRET_KEY": "e2e-secret"})
        self.httpd = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def request(self, method, path, body=None, headers=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(req) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def close(self):
        self.httpd.shutdown()
        self.thread.join(5)
        DATABASES.give_back(self.db_path)


def _published(tmp_path_factory, name, doc, edits=()):
    path = DATABASES.new(tmp_path_factory.mktemp(name))
    db = connect(path)
    migrate(db)
    registry_store.apply(db, doc, "e2e")
    for key in registry_store.site_keys(db):
        revision_store.publish(db, key, "e2e")
    for edit in edits:
        edit(doc)
        registry_store.apply(db, doc, "e2e")
        for key in registry_store.site_keys(db):
            revision_store.publish(db, key, "e2e")
    token = accounts.create_token(db, "e2e")
    db.close()
    return path, token


def _add_karte_to_news(doc):
    doc["sites"][0]["vendors"].insert(1, {"vendor": "karte", "category": "functional"})


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    doc = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    path, token = _published(tmp_path_factory, "demo", doc, [_add_karte_to_news])
    server = Server(path)
    server.token = token
    yield server
    server.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # Documents may be 404 on purpose; anything else a page loads must succeed.
    page.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and r.request.resource_type != "document"
            else None
        ),
    )
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.errors = errors
    yield page
    context.close()


def new_consent(server) -> dict:
    status, body = server.request(
        "POST",
        "/api/v1/sites/news/decisions",
        {
            "revision": 2,
            "action": "custom",
            "language": "ja",
            "categories": {"functional": True, "analytics": True, "advertising": False},
            "vendors": {"karte": False},
            "page_url": f"{NEWS_ORIGIN}/articles/1",
        },
        {"Origin": NEWS_ORIGIN},
    )
    assert status == 201, body
    return json.loads(body)


def check_axe(page, name):
    page.evaluate(_axe_source())
    result = page.evaluate(
        "(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS
    )
    problems = [
        (v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]
    ]
    assert problems == [], f"{name}: {problems}"
    assert result["passes"], "axe ran no check at all"


def shoot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("lang", LANGS)
def test_public_pages_pass_axe(page, demo_server, lang):
    for name, path in [
        ("index", "/"),
        ("disclosure", "/sites/news/disclosure"),
        ("disclosure-rev1", "/sites/news/disclosure?revision=1"),
        ("not-found", "/sites/nope/disclosure"),
    ]:
        sep = "&" if "?" in path else "?"
        response = page.goto(f"{demo_server.url}{path}{sep}lang={lang}")
        assert response.status == (404 if name == "not-found" else 200)
        assert page.locator("html").get_attribute("lang") == lang
        check_axe(page, f"{name}-{lang}")
        shoot(page, f"{name}-{lang}")
    assert page.errors == []


@pytest.mark.parametrize("lang", LANGS)
def test_visitor_reads_withdraws_and_erases(page, demo_server, lang):
    consent = new_consent(demo_server)
    cid = consent["consent_id"]
    page.goto(f"{demo_server.url}/consents/{cid}?lang={lang}#r={consent['receipt']}")
    words = {
        "ja": {
            "custom": "個別に選択",
            "analytics": "分析: 同意",
            "ads": "広告: 拒否",
            "withdraw": "同意を撤回する",
            "yes_withdraw": "撤回する",
            "withdrawn": "同意を撤回しました",
            "erase": "記録を消去する",
            "yes_erase": "消去する",
            "erased": "2件の記録を消去しました",
            "none": "この同意IDの記録はありません",
            "withdrawal": "同意の撤回",
        },
        "en": {
            "custom": "Custom choice",
            "analytics": "Analytics: accepted",
            "ads": "Advertising: refused",
            "withdraw": "Withdraw my consent",
            "yes_withdraw": "Yes, withdraw",
            "withdrawn": "Your consent was withdrawn",
            "erase": "Erase my records",
            "yes_erase": "Yes, erase",
            "erased": "2 records were erased",
            "none": "There are no records",
            "withdrawal": "Withdrawn",
        },
    }[lang]
    table = page.locator("table.decisions")
    expect(table).to_contain_text(words["custom"])
    expect(table).to_contain_text(words["analytics"])
    expect(table).to_contain_text(words["ads"])
    assert consent["receipt"] not in page.url
    check_axe(page, f"consent-records-{lang}")
    shoot(page, f"consent-records-{lang}")
    link = page.locator("table.decisions a").first
    assert link.get_attribute("href") == f"/sites/news/disclosure?revision=2&lang={lang}"

    page.get_by_role("button", name=words["withdraw"]).click()
    expect(page.locator("h1")).to_be_visible()
    check_axe(page, f"consent-confirm-{lang}")
    shoot(page, f"consent-confirm-withdraw-{lang}")
    page.get_by_role("button", name=words["yes_withdraw"], exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(words["withdrawn"])
    expect(page.locator("table.decisions tbody tr")).to_have_count(2)
    expect(page.locator("table.decisions tbody tr").last).to_contain_text(words["withdrawal"])
    db = connect(demo_server.db_path)
    actions = [
        a
        for (a,) in db.execute(
            "SELECT action FROM decisions WHERE consent_id = ? ORDER BY id", [cid]
        )
    ]
    assert actions == ["custom", "withdraw"]

    page.get_by_role("button", name=words["erase"]).click()
    page.get_by_role("button", name=words["yes_erase"], exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(words["erased"])
    expect(page.locator("main")).to_contain_text(words["none"])
    shoot(page, f"consent-erased-{lang}")
    assert (
        db.execute("SELECT COUNT(*) FROM decisions WHERE consent_id = ?", [cid]).fetchone()[0] == 0
    )
    db.close()
    status, export = demo_server.request(
        "GET",
        "/api/v1/admin/sites/news/decisions?format=jsonl",
        headers={"Authorization": f"Bearer {demo_server.token}"},
    )
    assert status == 200
    assert cid not in export
    assert page.errors == []


def test_wrong_receipt_and_no_javascript(browser, demo_server):
    consent = new_consent(demo_server)
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{demo_server.url}/consents/{consent['consent_id']}?lang=en#r={consent['receipt']}")
    # Without JavaScript the fragment stays in the browser: the visitor pastes the receipt.
    expect(page.locator("table.decisions")).to_have_count(0)
    check_axe_nojs = page.get_by_label("Receipt")
    check_axe_nojs.fill("not-a-receipt")
    page.get_by_role("button", name="Show my records").click()
    expect(page.get_by_role("alert")).to_contain_text("does not belong to this consent id")
    expect(page.locator("table.decisions")).to_have_count(0)
    page.get_by_label("Receipt").fill(consent["receipt"])
    page.get_by_role("button", name="Show my records").click()
    expect(page.locator("table.decisions")).to_contain_text("Custom choice")
    # The confirmation works without JavaScript too: it is a page, not a dialog.
    page.get_by_role("button", name="Erase my records").click()
    expect(page.locator("h1")).to_have_text("Erase your records?")
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("table.decisions")).to_contain_text("Custom choice")
    context.close()


@pytest.mark.parametrize("lang", LANGS)
def test_receipt_form_passes_axe(page, demo_server, lang):
    page.goto(f"{demo_server.url}/consents/AAAAAAAAAAAAAAAAAAAAAA?lang={lang}")
    check_axe(page, f"consent-ask-{lang}")
    shoot(page, f"consent-ask-{lang}")
    page.get_by_role("textbox").fill("wrong")
    page.locator("form#receipt-form button").click()
    expect(page.get_by_role("alert")).to_be_visible()
    check_axe(page, f"consent-bad-receipt-{lang}")


def test_print_hides_controls(page, demo_server):
    page.goto(f"{demo_server.url}/sites/news/disclosure?lang=ja")
    page.emulate_media(media="print")
    expect(page.locator("nav.langs")).to_be_hidden()
    after = page.evaluate("""() => getComputedStyle(
        document.querySelector('a.policy'), '::after').content""")
    assert "https://policies.google.com/privacy" in after
    shoot(page, "disclosure-print-ja")
    pdf = page.pdf(format="A4")
    assert pdf[:4] == b"%PDF"


XSS = '<script>alert(1)</script>"><img src=x onerror=alert(1)><svg onload=alert(1)>'


@pytest.fixture(scope="module")
def xss_server(tmp_path_factory):
    doc = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    doc = copy.deepcopy(doc)
    doc["organization"]["name"] = {"ja": XSS, "en": XSS}
    for section in doc["organization"]["sections"]:
        section["title"] = {"ja": XSS, "en": XSS}
        section["body"] = {"ja": XSS + "\n\n[x](javascript:alert(1))", "en": XSS}
    for site in doc["sites"]:
        site["name"] = {"ja": XSS, "en": XSS}
        for category in site["categories"]:
            category["name"] = {"ja": XSS, "en": XSS}
            category["description"] = {"ja": XSS, "en": XSS}
    for vendor in doc["vendors"]:
        vendor["name"] = XSS + vendor["key"]
        vendor["recipient"] = XSS
        vendor["data_sent"] = {"ja": XSS, "en": XSS}
        vendor["purpose"] = {"ja": XSS, "en": XSS}

    def change(d):
        d["vendors"][0]["purpose"] = {"ja": XSS + "!", "en": XSS + "!"}

    path, _ = _published(tmp_path_factory, "xss", doc, [change])
    server = Server(path)
    yield server
    server.close()


def test_admin_typed_markup_stays_inert(page, xss_server):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    for path in ("/", "/sites/news/disclosure", "/sites/news/disclosure?revision=1"):
        for lang in LANGS:
            sep = "&" if "?" in path else "?"
            page.goto(f"{xss_server.url}{path}{sep}lang={lang}")
            assert page.locator("main img, main svg, main script").count() == 0
            expect(page.locator("h1")).to_contain_text("<script>alert(1)</script>")
    status, body = xss_server.request(
        "POST",
        "/api/v1/sites/news/decisions",
        {
            "revision": 2,
            "action": "accept_all",
            "categories": {"functional": True, "analytics": True, "advertising": True},
        },
        {"Origin": NEWS_ORIGIN},
    )
    consent = json.loads(body)
    page.goto(f"{xss_server.url}/consents/{consent['consent_id']}#r={consent['receipt']}")
    expect(page.locator("table.decisions")).to_contain_text("<script>alert(1)</script>")
    assert page.locator("main img, main svg").count() == 0
    assert dialogs == []


PHONE = {"width": 390, "height": 844}

# Where each host's text wraps to a new line, as "before | after", read from the layout.
HOST_BREAKS = """() => {
  const breaks = [];
  for (const code of document.querySelectorAll('dd.hosts code')) {
    const text = code.textContent;
    const walker = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
    let last = null, at = 0, node;
    while ((node = walker.nextNode())) {
      for (let i = 0; i < node.length; i++, at++) {
        const range = document.createRange();
        range.setStart(node, i);
        range.setEnd(node, i + 1);
        const top = range.getBoundingClientRect().top;
        if (last !== null && top > last + 2) breaks.push(text.slice(0, at) + ' | ' + text.slice(at));
        last = top;
      }
    }
  }
  return breaks;
}"""


@pytest.mark.parametrize("lang", LANGS)
def test_disclosure_on_phones_keeps_hosts_whole_and_fits(browser, demo_server, lang):
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(f"{demo_server.url}/sites/news/disclosure?lang={lang}")
    for width in (390, 360, 320, 300):
        page.set_viewport_size({"width": width, "height": 844})
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        for line_break in page.evaluate(HOST_BREAKS):
            before, after = line_break.split(" | ")
            # Only ever before a dot (and only when the host is wider than the line).
            assert after.startswith("."), (width, line_break)
    # The row being read says so in one label.
    shown = page.locator("section.history tr[aria-current=true] th")
    expect(shown).to_have_text(
        "第2版（現在の版・表示中）" if lang == "ja" else "Revision 2 (current, shown here)"
    )
    check_axe(page, f"disclosure-phone-{lang}")
    shoot(page, f"disclosure-phone-{lang}")
    context.close()


@pytest.mark.parametrize("lang", LANGS)
def test_records_on_a_phone_label_every_cell(browser, demo_server, lang):
    consent = new_consent(demo_server)
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(
        f"{demo_server.url}/consents/{consent['consent_id']}?lang={lang}#r={consent['receipt']}"
    )
    table = page.locator("table.decisions")
    expect(table).to_be_visible()
    labels = (
        ["日時", "操作", "選択", "当時の開示"]
        if lang == "ja"
        else ["Time", "Action", "Choices", "Disclosure at the time"]
    )
    cells = table.locator("tbody tr").first.locator("td")
    shown = [
        cells.nth(i).evaluate("td => getComputedStyle(td, '::before').content")
        for i in range(cells.count())
    ]
    # Each cell shows its column's name before its value ...
    assert [json.loads(text.split(" / ")[0]) for text in shown] == labels
    assert page.locator("table.decisions thead").is_visible() is False or (
        page.locator("table.decisions thead").bounding_box()["height"] <= 1
    )
    # ... and it is still a table with its column headers for screen readers.
    expect(page.get_by_role("table")).to_have_count(1)
    for label in labels:
        expect(page.get_by_role("columnheader", name=label, exact=True)).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    check_axe(page, f"consent-records-phone-{lang}")
    shoot(page, f"consent-records-phone-{lang}")
    context.close()


def _regional_rules(doc):
    doc["sites"][0]["regimes"] = {
        "default": "opt_in",
        "regions": {"JP": "notice", "US-CA": "opt_out", "US": "opt_out", "EU": "opt_in"},
    }


@pytest.fixture(scope="module")
def regional_server(tmp_path_factory):
    """The demo with regional rules on the news site: a notice in Japan, opt-out in the US."""
    doc = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    path, _ = _published(tmp_path_factory, "regional", doc, [_regional_rules])
    server = Server(path)
    yield server
    server.close()


@pytest.mark.parametrize("lang", LANGS)
def test_the_rules_by_region_and_opt_out_routes_pass_axe_and_fit_a_phone(
    browser, regional_server, lang
):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.goto(f"{regional_server.url}/sites/news/disclosure?lang={lang}")
    japan = "日本" if lang == "ja" else "Japan"
    rules = page.get_by_role("table").filter(has=page.get_by_role("rowheader", name=japan))
    expect(rules.get_by_role("row")).to_have_count(6)  # the header, four regions, the default
    expect(rules.get_by_role("row", name=japan)).to_contain_text(
        "通知・公表（外部送信規律）" if lang == "ja" else "Notice (Japan's rules on external"
    )
    analytics = page.locator("article[data-vendor=google-analytics]")
    expect(analytics.locator(".opt-out-route a.opt-out")).to_have_attribute(
        "href", "https://tools.google.com/dlpage/gaoptout"
    )
    check_axe(page, f"disclosure-regions-{lang}")
    shoot(page, f"disclosure-regions-{lang}")
    for width in (390, 320):
        page.set_viewport_size({"width": width, "height": 844})
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    check_axe(page, f"disclosure-regions-phone-{lang}")
    shoot(page, f"disclosure-regions-phone-{lang}")
    context.close()
