"""Regional rules in real Chromium: the region header set per browser context, as a CDN would.

`cdn_live` (e2e/conftest.py) reads `CF-IPCountry` and `CF-Region-Code`; each test publishes its
own copy of `shop` with regimes, so that its decisions are its own: JP a notice (外部送信),
US-CA and US opt-out, the EU opt-in, and opt-in elsewhere.
"""

from __future__ import annotations

import json
from urllib.parse import unquote

import pytest

from server.storage import decisions as decision_log
from support import wait_for as support_wait_for

REGIMES = {
    "default": "opt_in",
    "regions": {"JP": "notice", "US-CA": "opt_out", "US": "opt_out", "EU": "opt_in"},
}
JP = {"CF-IPCountry": "JP"}
DE = {"CF-IPCountry": "DE"}
US_CA = {"CF-IPCountry": "US", "CF-Region-Code": "CA"}
GPC = "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true});"
DATALAYER = """() => (window.dataLayer || []).map(e =>
    (e && typeof e === 'object' && 'length' in e && !e.event) ? Array.from(e) : e)"""


# What has the focus, inside the widget's shadow root: its text.
FOCUSED = "() => document.activeElement.shadowRoot.activeElement.textContent"
BUTTONS = {"ja": ["すべて拒否する", "詳細設定"], "en": ["Reject all", "Customize"]}


def wait_for(predicate):
    return support_wait_for(predicate, timeout=15.0)


def settle(page):
    """Time for any request that a load or a click would start (see test_widget_e2e.settle)."""
    page.wait_for_timeout(750)


@pytest.fixture
def visitor(browser):
    """visitor(server, headers, gpc=False, locale='en-US', cookies=()) -> a new page in its own
    context, whose requests to `server` carry `headers`, as a CDN in front of it adds them; with
    `cookies` carried over from another context: the same visitor, from another region.

    The headers are added to the requests on their way out (a route), not by the page: headers
    set by the browser itself (`extra_http_headers`) make the widget's posts non-simple, and
    the CORS preflight refuses them; a CDN adds them beyond the browser's CORS checks.
    """
    contexts = []

    def open_page(server, headers, gpc=False, locale="en-US", cookies=()):
        context = browser.new_context(viewport={"width": 1280, "height": 800}, locale=locale)
        contexts.append(context)
        context.route(
            f"{server.url}/**",
            lambda route: route.continue_(headers={**route.request.headers, **headers}),
        )
        if gpc:
            context.add_init_script(GPC)
        if cookies:
            context.add_cookies(list(cookies))
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def regional_site(server, key, regimes=REGIMES):
    server.new_site(key, regimes=regimes)
    return key


def held_page(publisher, vendor, server, site, tag, lang="en", body=""):
    """A page holding one script per vendor (on the vendor host) and an iframe."""
    held = (
        f'<script type="text/plain" data-category="analytics" data-vendor="analytics-co" '
        f'src="{vendor.url(f"/{tag}/analytics.js")}"></script>'
        f'<script type="text/plain" data-category="analytics" data-vendor="heatmap-co" '
        f'src="{vendor.url(f"/{tag}/heatmap.js")}"></script>'
        f'<script type="text/plain" data-category="advertising" data-vendor="ads-co" '
        f'src="{vendor.url(f"/{tag}/ads.js")}"></script>'
        f'<iframe title="video" data-category="functional" data-vendor="video-co" '
        f'data-src="{vendor.url(f"/{tag}/frame.html")}"></iframe>'
    )
    return publisher.embed(site, held + body, lang=lang, server=server.url)


def hits(vendor, tag):
    return sorted(p for p in list(vendor.requests) if p.startswith(f"/{tag}/"))


def records(server, site):
    """The site's decisions as stored: what an export or the admin consent log shows."""
    db = server.db()
    try:
        return [
            {k: row.get(k) for k in ("action", "categories", "gpc", "regime", "region")}
            for row in decision_log.export(db, site)
        ]
    finally:
        db.close()


def stored_choice(page):
    for cookie in page.context.cookies():
        if cookie["name"] == "pc_consent":
            return json.loads(unquote(cookie["value"]))
    return None


def layer_defaults(page):
    return [e[2] for e in page.evaluate(DATALAYER) if isinstance(e, list) and e[1] == "default"]


def first_layer(page, name="Test Shop"):
    return page.get_by_role("dialog", name=name)


def test_a_visitor_in_germany_gets_the_opt_in_banner_and_nothing_runs_before_a_choice(
    visitor, cdn_live, publisher, vendor
):
    site = regional_site(cdn_live, "rg-de")
    page = visitor(cdn_live, DE)
    page.goto(held_page(publisher, vendor, cdn_live, site, "rg-de"), wait_until="networkidle")
    banner = first_layer(page)
    assert banner.is_visible()
    for name in ("Accept all", "Reject all", "Customize"):
        assert banner.get_by_role("button", name=name, exact=True).is_visible()
    assert banner.get_by_role("button", name="Close").count() == 0
    settle(page)
    assert hits(vendor, "rg-de") == []
    assert page.evaluate("PrivacyCenter.acceptedCategory('analytics')") is False
    # Consent Mode: one default, all denied, for anywhere.
    [default] = layer_defaults(page)
    assert "region" not in default and default["analytics_storage"] == "denied"

    banner.get_by_role("button", name="Accept all").click()
    wait_for(lambda: len(hits(vendor, "rg-de")) == 4)
    [row] = wait_for(lambda: records(cdn_live, site))
    assert (row["action"], row["regime"], row["region"]) == ("accept_all", "opt_in", "DE")


def test_a_visitor_in_japan_gets_the_notice_tags_run_and_reject_all_stops_them(
    visitor, cdn_live, publisher, vendor
):
    site = regional_site(cdn_live, "rg-jp")
    page = visitor(cdn_live, JP)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(held_page(publisher, vendor, cdn_live, site, "rg-jp"), wait_until="networkidle")
    notice = first_layer(page)
    assert notice.is_visible()
    assert "sends information about your visit to other companies" in notice.inner_text()
    link = notice.get_by_role("link", name="About external transmission")
    assert link.get_attribute("href") == f"{cdn_live.url}/sites/{site}/disclosure?lang=en"
    assert notice.get_by_role("button", name="Accept all").count() == 0
    for name in ("Reject all", "Customize", "Close"):
        assert notice.get_by_role("button", name=name, exact=True).is_visible()
    # Optional tags run at once, before any decision, in document order.
    wait_for(lambda: page.evaluate("(window.vendorRuns || []).length") == 3)
    assert page.evaluate("window.vendorRuns") == [
        "/rg-jp/analytics.js",
        "/rg-jp/heatmap.js",
        "/rg-jp/ads.js",
    ]
    wait_for(lambda: "/rg-jp/frame.html" in vendor.requests)
    assert page.evaluate("PrivacyCenter.getConsent()") is None
    # Consent Mode: denied anywhere, granted for JP, the region the server saw.
    denied, granted = layer_defaults(page)
    assert "region" not in denied and denied["analytics_storage"] == "denied"
    assert granted["region"] == ["JP"]
    assert granted["analytics_storage"] == granted["ad_storage"] == "granted"

    # The analytics vendor's cookies, as its script would set them; and one of the page's own.
    page.evaluate("document.cookie = '_an=1; path=/'; document.cookie = '_an_x=2; path=/';")
    page.evaluate("document.cookie = 'keep=3; path=/'")
    notice.get_by_role("button", name="Reject all").click()
    assert not notice.is_visible()
    wait_for(lambda: "_an=" not in page.evaluate("document.cookie"))
    cookies = page.evaluate("document.cookie")
    assert "_an_x=" not in cookies and "keep=3" in cookies
    # A held tag that arrives later stays held.
    page.evaluate(f"""() => {{ const s = document.createElement('script'); s.type = 'text/plain';
        s.dataset.category = 'analytics'; s.src = {json.dumps(vendor.url("/rg-jp/late.js"))};
        document.body.append(s); }}""")
    settle(page)
    assert "/rg-jp/late.js" not in vendor.requests
    assert page.evaluate("PrivacyCenter.acceptedCategory('analytics')") is False

    [row] = wait_for(lambda: records(cdn_live, site))
    assert (row["action"], row["regime"], row["region"]) == ("reject_all", "notice", "JP")
    assert not any(row["categories"][k] for k in ("functional", "analytics", "advertising"))

    # The next page runs nothing optional and shows no notice.
    vendor.clear()
    page.reload(wait_until="networkidle")
    settle(page)
    assert hits(vendor, "rg-jp") == [] and not first_layer(page).is_visible()
    assert errors == []


def test_a_dismissal_keeps_the_notice_closed_but_is_no_consent_in_an_opt_in_region(
    visitor, cdn_live, publisher, vendor
):
    site = regional_site(cdn_live, "rg-move")
    page = visitor(cdn_live, JP)
    page.goto(held_page(publisher, vendor, cdn_live, site, "rg-move"), wait_until="networkidle")
    # The preferences: each vendor's own opt-out link, beside the widget's switch.
    first_layer(page).get_by_role("button", name="Customize").click()
    prefs = page.get_by_role("dialog", name="Privacy preferences")
    prefs.get_by_text("Companies (2)").click()
    opt_out = prefs.get_by_role("link", name="Opt out: Analytics Co")
    assert opt_out.get_attribute("href") == "https://analytics.example/opt-out"
    assert prefs.get_by_role("switch", name="Analytics Co").is_checked()
    prefs.get_by_role("button", name="Close").click()
    prefs.wait_for(state="hidden")
    first_layer(page).get_by_role("button", name="Close").click()
    assert not first_layer(page).is_visible()
    [row] = wait_for(lambda: records(cdn_live, site))
    assert (row["action"], row["regime"], row["region"]) == ("dismiss", "notice", "JP")
    wait_for(lambda: (stored_choice(page) or {}).get("i"))
    # Still in Japan: no notice again, and the tags keep running.
    vendor.clear()
    page.reload(wait_until="networkidle")
    assert not first_layer(page).is_visible()
    wait_for(lambda: len(hits(vendor, "rg-move")) == 4)

    # The same visitor in Germany: the dismissal is no consent, so the opt-in banner shows.
    vendor.clear()
    moved = visitor(cdn_live, DE, cookies=page.context.cookies())
    moved.goto(held_page(publisher, vendor, cdn_live, site, "rg-move"), wait_until="networkidle")
    assert first_layer(moved).get_by_role("button", name="Accept all").is_visible()
    settle(moved)
    assert hits(vendor, "rg-move") == []
    assert moved.evaluate("PrivacyCenter.getConsent()") is None


def test_a_choice_travels_with_the_visitor_between_regions(visitor, cdn_live, publisher, vendor):
    site = regional_site(cdn_live, "rg-keep")
    # Refused in Japan: still refused in California, where tags would otherwise run.
    page = visitor(cdn_live, JP)
    page.goto(held_page(publisher, vendor, cdn_live, site, "rg-keep"), wait_until="networkidle")
    first_layer(page).get_by_role("button", name="Reject all").click()
    wait_for(lambda: (stored_choice(page) or {}).get("i"))
    vendor.clear()
    moved = visitor(cdn_live, US_CA, cookies=page.context.cookies())
    moved.goto(held_page(publisher, vendor, cdn_live, site, "rg-keep"), wait_until="networkidle")
    settle(moved)
    assert hits(vendor, "rg-keep") == [] and not first_layer(moved).is_visible()

    # Accepted in Germany: not asked again in Japan, and everything runs.
    page = visitor(cdn_live, DE)
    page.goto(held_page(publisher, vendor, cdn_live, site, "rg-keep2"), wait_until="networkidle")
    first_layer(page).get_by_role("button", name="Accept all").click()
    wait_for(lambda: (stored_choice(page) or {}).get("i"))
    moved = visitor(cdn_live, JP, cookies=page.context.cookies())
    moved.goto(held_page(publisher, vendor, cdn_live, site, "rg-keep3"), wait_until="networkidle")
    wait_for(lambda: len(hits(vendor, "rg-keep3")) == 4)
    assert not first_layer(moved).is_visible()
    assert moved.evaluate("PrivacyCenter.getConsent().categories.advertising") is True


def test_a_californian_with_gpc_never_runs_advertising_and_the_record_says_so(
    visitor, cdn_live, publisher, vendor
):
    site = regional_site(cdn_live, "rg-ca")
    page = visitor(cdn_live, US_CA, gpc=True)
    page.goto(held_page(publisher, vendor, cdn_live, site, "rg-ca"), wait_until="networkidle")
    notice = first_layer(page)
    assert notice.get_by_role("link", name="What is sent to whom").is_visible()
    assert notice.get_by_role("button", name="Accept all").count() == 0
    wait_for(lambda: len(hits(vendor, "rg-ca")) == 3)
    settle(page)
    assert hits(vendor, "rg-ca") == [
        "/rg-ca/analytics.js",
        "/rg-ca/frame.html",
        "/rg-ca/heatmap.js",
    ]
    denied, granted = layer_defaults(page)
    assert granted["region"] == ["US-CA"] and granted["analytics_storage"] == "granted"
    assert granted["ad_storage"] == granted["ad_user_data"] == "denied"

    # The preferences show what runs, and advertising locked off for GPC.
    notice.get_by_role("button", name="Customize").click()
    prefs = page.get_by_role("dialog", name="Privacy preferences")
    ads = prefs.get_by_role("switch", name="Advertising", exact=True)
    ads.wait_for()
    assert ads.is_disabled() and not ads.is_checked()
    assert prefs.get_by_role("switch", name="Analytics", exact=True).is_checked()
    prefs.get_by_role("button", name="Close").click()
    prefs.wait_for(state="hidden")

    notice.get_by_role("button", name="Close").click()
    [row] = wait_for(lambda: records(cdn_live, site))
    assert (row["action"], row["regime"], row["region"]) == ("dismiss", "opt_out", "US-CA")
    assert row["gpc"] is True and row["categories"]["advertising"] is False
    assert row["categories"]["analytics"] is True
    vendor.clear()
    page.reload(wait_until="networkidle")
    wait_for(lambda: len(hits(vendor, "rg-ca")) == 3)
    settle(page)
    assert "/rg-ca/ads.js" not in hits(vendor, "rg-ca")


def test_without_a_region_header_configured_every_visitor_gets_the_default_regime(
    visitor, live, publisher, vendor
):
    # `live` reads no region header: a JP or DE header changes nothing.
    regimes = {"default": "opt_out", "regions": {"JP": "notice", "DE": "opt_in"}}
    live.new_site("rg-none", regimes=regimes)
    for headers, tag in ((DE, "rg-none-de"), (JP, "rg-none-jp")):
        page = visitor(live, headers)
        page.goto(held_page(publisher, vendor, live, "rg-none", tag), wait_until="networkidle")
        notice = first_layer(page)
        assert notice.get_by_role("link", name="What is sent to whom").is_visible()
        assert notice.get_by_role("button", name="Accept all").count() == 0
        wait_for(lambda: len(hits(vendor, tag)) == 4)  # noqa: B023 (used at once)
        [default] = layer_defaults(page)  # no region known: one default, for anywhere
        assert "region" not in default and default["analytics_storage"] == "granted"
        assert page.evaluate("PrivacyCenter.acceptedCategory('advertising')") is True


@pytest.fixture(scope="module")
def axe_site(cdn_live):
    return regional_site(cdn_live, "rg-axe")


@pytest.mark.parametrize(
    "lang,about,close",
    [("ja", "外部送信について", "閉じる"), ("en", "About external transmission", "Close")],
)
def test_the_notice_has_no_accessibility_violations(
    visitor, cdn_live, axe_site, publisher, axe, lang, about, close
):
    page = visitor(cdn_live, JP, locale="ja-JP" if lang == "ja" else "en-US")
    page.goto(publisher.embed(axe_site, lang=lang, server=cdn_live.url), wait_until="networkidle")
    notice = first_layer(page, "テストショップ" if lang == "ja" else "Test Shop")
    assert notice.get_by_role("link", name=about).is_visible()
    assert notice.get_by_role("button", name=close).is_visible()
    assert axe(page) == []
    # Keyboard: the notice comes first, and Close is reached and works from the keyboard.
    seen = []
    for _ in range(4):
        page.keyboard.press("Tab")
        seen.append(page.evaluate(FOCUSED))
    assert seen == [about, *BUTTONS[lang], "×"]
    page.keyboard.press("Enter")
    assert not notice.is_visible()


@pytest.mark.parametrize("mode", ["async", "defer"])
def test_an_async_or_defer_widget_runs_the_notice_in_order(
    visitor, cdn_live, publisher, vendor, mode
):
    site = regional_site(cdn_live, f"rg-{mode}")
    page = visitor(cdn_live, JP)
    body = (
        f'<script type="text/plain" data-category="analytics" '
        f'src="{vendor.url(f"/rg-{mode}/analytics.js")}"></script>'
        '<script type="text/plain" data-category="analytics">'
        'dataLayer.push({event: "held-tag"});</script>'
        f'<script type="text/plain" data-category="advertising" '
        f'src="{vendor.url(f"/rg-{mode}/ads.js")}"></script>'
    )
    url = publisher.embed(site, body, server=cdn_live.url, script_attrs=f" {mode}")
    page.goto(url, wait_until="networkidle")
    assert first_layer(page).get_by_role("button", name="Close").is_visible()
    wait_for(lambda: page.evaluate("(window.vendorRuns || []).length") == 2)
    assert page.evaluate("window.vendorRuns") == [f"/rg-{mode}/analytics.js", f"/rg-{mode}/ads.js"]
    layer = page.evaluate(DATALAYER)
    # Both defaults before the held tag that pushes to the data layer.
    assert [e[1] for e in layer[:2]] == ["default", "default"]
    assert layer.index({"event": "held-tag"}) == 2
