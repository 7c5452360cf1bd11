"""The embeddable widget in real Chromium: held scripts, decisions, re-consent, CSP, Consent Mode, GPC."""

from __future__ import annotations

import json
from urllib.parse import unquote

import pytest

from support import wait_for


def banner(page, name="Test Shop"):
    return page.get_by_role("dialog", name=name)


def held_page(publisher, vendor, site, tag, **kwargs):
    """A page holding one script per vendor (on the vendor host), an inline script and an iframe."""
    body = (
        f'<script type="text/plain" data-category="analytics" data-vendor="analytics-co" '
        f'data-src="{vendor.url(f"/{tag}/analytics.js")}"></script>'
        f'<script type="text/plain" data-category="analytics" data-vendor="heatmap-co" '
        f'src="{vendor.url(f"/{tag}/heatmap.js")}"></script>'
        f'<script type="text/plain" data-category="advertising" data-vendor="ads-co" '
        f'src="{vendor.url(f"/{tag}/ads.js")}"></script>'
        f'<script type="text/plain" data-category="analytics">'
        f"window.inlineRuns = (window.inlineRuns || 0) + 1;</script>"
        f'<iframe title="video" data-category="functional" data-vendor="video-co" '
        f'data-src="{vendor.url(f"/{tag}/frame.html")}"></iframe>'
    )
    return publisher.embed(site, body, **kwargs)


def settle(page):
    """Give the page time to make any request a click would start.

    Playwright's networkidle after a click proved flaky here (it sometimes never fired); what
    a decision releases starts within milliseconds, so a fixed pause is the honest wait.
    """
    page.wait_for_timeout(750)


def vendor_hits(vendor, tag):
    return [p for p in list(vendor.requests) if p.startswith(f"/{tag}/")]


def stored_choice(context):
    for cookie in context.cookies():
        if cookie["name"] == "pc_consent":
            return json.loads(unquote(cookie["value"]))
    return None


def test_nothing_reaches_the_vendor_before_a_decision_and_accept_all_runs_each_once(
    page, live, publisher, vendor, console
):
    url = held_page(publisher, vendor, "shop", "accept")
    page.goto(url, wait_until="networkidle")
    assert banner(page).is_visible()
    assert vendor_hits(vendor, "accept") == []
    assert page.evaluate("PrivacyCenter.getConsent()") is None
    before = len(live.decisions("shop"))

    page.get_by_role("button", name="Accept all").click()
    wait_for(lambda: page.evaluate("(window.vendorRuns || []).length") == 3)
    wait_for(lambda: "/accept/frame.html" in vendor.requests)
    settle(page)
    assert sorted(page.evaluate("window.vendorRuns")) == [
        "/accept/ads.js",
        "/accept/analytics.js",
        "/accept/heatmap.js",
    ]
    # Document order: analytics before heatmap before ads.
    assert page.evaluate("window.vendorRuns") == [
        "/accept/analytics.js",
        "/accept/heatmap.js",
        "/accept/ads.js",
    ]
    assert page.evaluate("window.inlineRuns") == 1
    assert sorted(vendor_hits(vendor, "accept")) == sorted(
        ["/accept/analytics.js", "/accept/heatmap.js", "/accept/ads.js", "/accept/frame.html"]
    )
    assert not banner(page).is_visible()

    rows = wait_for(lambda: live.decisions("shop")[before:])
    assert len(rows) == 1
    assert rows[0]["action"] == "accept_all" and rows[0]["revision"] == 1
    assert rows[0]["categories"] == {
        "necessary": True,
        "functional": True,
        "analytics": True,
        "advertising": True,
    }
    assert all(rows[0]["vendors"].values())
    wait_for(lambda: (stored_choice(page.context) or {}).get("i") == rows[0]["consent_id"])

    page.reload(wait_until="networkidle")
    assert not banner(page).is_visible()
    assert page.evaluate("window.vendorRuns.length") == 3
    consent = page.evaluate("PrivacyCenter.getConsent()")
    assert consent["consentId"] == rows[0]["consent_id"] and consent["revision"] == 1
    assert not [m for m in console if m.startswith("pageerror")]


def test_reject_all_sends_nothing_now_or_after_reload(page, live, publisher, vendor):
    page.goto(held_page(publisher, vendor, "shop", "reject"), wait_until="networkidle")
    before = len(live.decisions("shop"))
    page.get_by_role("button", name="Reject all").click()
    rows = wait_for(lambda: live.decisions("shop")[before:])
    assert rows[0]["action"] == "reject_all"
    assert rows[0]["categories"] == {
        "necessary": True,
        "functional": False,
        "analytics": False,
        "advertising": False,
    }
    settle(page)
    page.reload(wait_until="networkidle")
    assert not banner(page).is_visible()
    assert vendor_hits(vendor, "reject") == []
    assert page.evaluate("window.vendorRuns") is None


def test_a_vendor_switched_off_in_customize_never_loads(page, live, publisher, vendor):
    page.goto(held_page(publisher, vendor, "shop", "custom"), wait_until="networkidle")
    before = len(live.decisions("shop"))
    page.get_by_role("button", name="Customize").click()
    prefs = page.get_by_role("dialog", name="Privacy preferences")
    expect_visible(prefs)
    # Nothing pre-ticked.
    assert not prefs.get_by_role("switch", name="Analytics", exact=True).is_checked()
    assert prefs.get_by_role("switch", name="Strictly necessary", exact=True).count() == 0
    prefs.get_by_role("switch", name="Analytics", exact=True).check()
    prefs.get_by_text("Companies (2)").click()
    assert prefs.get_by_role("switch", name="Heatmap Co", exact=True).is_checked()
    prefs.get_by_role("switch", name="Heatmap Co", exact=True).uncheck()
    assert prefs.get_by_role("switch", name="Analytics", exact=True).is_checked()
    prefs.get_by_role("button", name="Save choices").click()
    wait_for(lambda: page.evaluate("(window.vendorRuns || []).length") == 1)
    settle(page)
    assert vendor_hits(vendor, "custom") == ["/custom/analytics.js"]
    rows = wait_for(lambda: live.decisions("shop")[before:])
    assert rows[0]["action"] == "custom"
    assert rows[0]["categories"]["analytics"] is True
    assert rows[0]["categories"]["advertising"] is False
    assert rows[0]["vendors"] == {
        "video-co": False,
        "analytics-co": True,
        "heatmap-co": False,
        "ads-co": False,
    }
    page.reload(wait_until="networkidle")
    assert vendor_hits(vendor, "custom") == ["/custom/analytics.js"] * 2
    assert page.evaluate("PrivacyCenter.acceptedVendor('heatmap-co')") is False
    assert page.evaluate("PrivacyCenter.acceptedVendor('analytics-co')") is True


def expect_visible(locator):
    locator.wait_for(state="visible", timeout=5000)


def test_banner_comes_back_only_for_a_revision_that_needs_a_new_decision(page, live, publisher):
    live.new_site("recon")
    url = publisher.embed("recon")
    # As if each reload came after the script's max-age: every page gets the latest revision.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    page.goto(url)
    page.get_by_role("button", name="Accept all").click()
    wait_for(lambda: live.decisions("recon"))
    # Reload only once the answer is in: a post whose answer is lost to a reload is sent again
    # on the next page (a known duplicate, see docs/widget.md), which is not under test here.
    wait_for(lambda: (stored_choice(page.context) or {}).get("i"))
    page.reload()
    assert not banner(page).is_visible()

    # A wording change only: no new decision.
    doc = live.site_doc("recon")
    doc["sites"][0]["categories"][2]["description"] = {"ja": "分析のため。", "en": "Analytics."}
    revision = live.apply(doc, publish=["recon"])[0]
    assert revision["number"] == 2 and not revision["needs_decision"]
    page.reload()
    page.wait_for_timeout(200)
    assert not banner(page).is_visible()

    # A vendor added: everyone decides again.
    doc["sites"][0]["vendors"].append({"vendor": "ads-co", "category": "analytics"})
    doc["sites"][0]["vendors"] = [
        v
        for v in doc["sites"][0]["vendors"]
        if not (v["vendor"] == "ads-co" and v["category"] == "advertising")
    ]
    revision = live.apply(doc, publish=["recon"])[0]
    assert revision["number"] == 3 and revision["needs_decision"]
    page.reload()
    expect_visible(banner(page))
    assert page.evaluate("PrivacyCenter.getConsent()") is None
    page.get_by_role("button", name="Reject all").click()
    rows = wait_for(lambda: live.decisions("recon")[1:])
    assert rows[0]["revision"] == 3
    # The second decision carried the receipt, so it belongs to the same consent id.
    assert rows[0]["consent_id"] == live.decisions("recon")[0]["consent_id"]


DATALAYER = """() => (window.dataLayer || []).map(e =>
    (e && typeof e === 'object' && 'length' in e && !e.event) ? Array.from(e) : e)"""


def test_consent_mode_default_comes_first_and_updates_follow_decisions(page, live, publisher):
    body = (
        '<script type="text/plain" data-category="analytics">'
        'dataLayer.push({event: "held-tag"});</script>'
        '<script>dataLayer.push({event: "page-tag"});</script>'
    )
    page.goto(publisher.embed("shop", body))
    layer = page.evaluate(DATALAYER)
    assert layer[0][0:2] == ["consent", "default"]
    default = layer[0][2]
    assert default["wait_for_update"] > 0 and default["security_storage"] == "granted"
    assert {k for k, v in default.items() if v == "denied"} == {
        "ad_storage",
        "ad_user_data",
        "ad_personalization",
        "analytics_storage",
        "functionality_storage",
        "personalization_storage",
    }
    assert {"event": "held-tag"} not in layer

    page.get_by_role("button", name="Customize").click()
    prefs = page.get_by_role("dialog", name="Privacy preferences")
    prefs.get_by_role("switch", name="Analytics", exact=True).check()
    prefs.get_by_role("button", name="Save choices").click()
    layer = page.evaluate(DATALAYER)
    update = [e for e in layer if isinstance(e, list) and e[1] == "update"][-1][2]
    assert update["analytics_storage"] == "granted"
    assert update["ad_storage"] == "denied" and update["functionality_storage"] == "denied"
    assert layer.index({"event": "held-tag"}) > 0

    # On a later page, `update` follows `default` before any held tag runs.
    page.reload()
    layer = page.evaluate(DATALAYER)
    assert layer[0][1] == "default" and layer[1][1] == "update"
    assert layer[1][2]["analytics_storage"] == "granted"
    assert layer.index({"event": "held-tag"}) > 1


def test_global_privacy_control_keeps_advertising_refused(browser, live, publisher, vendor):
    context = browser.new_context(locale="en-US")
    context.add_init_script(
        "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true});"
    )
    page = context.new_page()
    try:
        page.goto(held_page(publisher, vendor, "shop", "gpc"), wait_until="networkidle")
        before = len(live.decisions("shop"))
        page.get_by_role("button", name="Customize").click()
        prefs = page.get_by_role("dialog", name="Privacy preferences")
        ads = prefs.get_by_role("switch", name="Advertising", exact=True)
        expect_visible(ads)
        assert ads.is_disabled() and not ads.is_checked()
        assert prefs.get_by_text("Global Privacy Control").is_visible()
        prefs.get_by_role("button", name="Accept all").click()
        rows = wait_for(lambda: live.decisions("shop")[before:])
        assert rows[0]["gpc"] is True
        assert rows[0]["categories"]["advertising"] is False
        assert rows[0]["categories"]["analytics"] is True
        wait_for(lambda: len(vendor_hits(vendor, "gpc")) >= 3)
        settle(page)
        assert "/gpc/ads.js" not in vendor_hits(vendor, "gpc")
        assert page.evaluate("PrivacyCenter.acceptedCategory('advertising')") is False
    finally:
        context.close()


DEEP_FOCUS = """() => { let el = document.activeElement;
    while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
    return el ? {tag: el.tagName, text: (el.textContent || '').trim(), role: el.getAttribute('role'),
        label: el.labels && el.labels[0] ? el.labels[0].textContent.trim() : null,
        checked: el.checked, inPrefs: !!el.closest('.pc-prefs'), inBanner: !!el.closest('.pc-banner')} : null; }"""


def test_keyboard_only(page, live, publisher):
    page.goto(publisher.embed("shop", '<p><a href="#x">page link</a></p>'))
    seen = []
    for _ in range(6):
        page.keyboard.press("Tab")
        seen.append(page.evaluate(DEEP_FOCUS))
    texts = [s["text"] for s in seen]
    for name in ("What is sent to whom", "Accept all", "Reject all", "Customize"):
        assert name in texts
    while page.evaluate(DEEP_FOCUS)["text"] != "Customize":
        page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    prefs = page.get_by_role("dialog", name="Privacy preferences")
    expect_visible(prefs.get_by_role("switch", name="Analytics", exact=True))
    assert page.evaluate(DEEP_FOCUS)["inPrefs"]

    # Tab stays inside, and reaches every switch.
    labels = set()
    for _ in range(30):
        page.keyboard.press("Tab")
        focus = page.evaluate(DEEP_FOCUS)
        assert focus["inPrefs"], focus
        if focus["role"] == "switch":
            labels.add(focus["label"])
    assert {"Functional", "Analytics", "Advertising"} <= labels
    # Space operates a switch.
    while page.evaluate(DEEP_FOCUS)["label"] != "Analytics":
        page.keyboard.press("Tab")
    page.keyboard.press("Space")
    assert page.evaluate(DEEP_FOCUS)["checked"] is True
    page.keyboard.press("Escape")
    assert not prefs.is_visible()
    assert page.evaluate(DEEP_FOCUS)["text"] == "Customize"
    assert page.evaluate("PrivacyCenter.getConsent()") is None


@pytest.mark.parametrize(
    "lang,names",
    [
        ("en", ("Test Shop", "Customize", "Privacy preferences", "Companies")),
        ("ja", ("テストショップ", "詳細設定", "プライバシー設定", "送信先の事業者")),
    ],
)
def test_no_accessibility_violations(page, live, publisher, axe, lang, names):
    page.goto(publisher.embed("shop", lang=lang))
    expect_visible(banner(page, names[0]))
    assert page.get_by_role("button", name=names[1]).is_visible()
    assert axe(page) == []
    page.get_by_role("button", name=names[1]).click()
    prefs = page.get_by_role("dialog", name=names[2])
    expect_visible(prefs.get_by_role("switch").first)
    for summary in prefs.locator("summary").all():
        summary.click()
    assert axe(page) == []


def test_strict_csp_page_works_without_violations(page, live, publisher, vendor, console):
    nonce = "n0nce-e2e"
    csp = (
        f"default-src 'none'; script-src 'nonce-{nonce}' {live.url}; connect-src {live.url}; "
        f"style-src 'self'; frame-src {vendor.origin}; img-src 'self'; base-uri 'none'"
    )
    body = (
        f'<script type="text/plain" data-category="analytics">window.inlineRuns = 1;</script>'
        f'<script type="text/plain" data-category="analytics" data-vendor="analytics-co" '
        f'data-src="{vendor.url("/csp/analytics.js")}"></script>'
    )
    url = publisher.embed(
        "shop", body, headers={"Content-Security-Policy": csp}, script_attrs=f' nonce="{nonce}"'
    )
    page.goto(url, wait_until="networkidle")
    accept = page.get_by_role("button", name="Accept all")
    expect_visible(accept)
    # The constructed stylesheet applies: the button is styled, not the browser default.
    assert accept.evaluate("b => getComputedStyle(b).minHeight") == "44px"
    page.get_by_role("button", name="Customize").click()
    prefs = page.get_by_role("dialog", name="Privacy preferences")
    expect_visible(prefs.get_by_role("switch", name="Analytics", exact=True))
    prefs.get_by_role("button", name="Accept all").click()
    wait_for(lambda: page.evaluate("window.vendorRuns") == ["/csp/analytics.js"])
    assert page.evaluate("window.inlineRuns") == 1
    settle(page)
    assert not [m for m in console if "Content Security Policy" in m or m.startswith("pageerror")]


def test_a_failed_post_is_kept_and_arrives_on_the_next_page(page, live, publisher):
    live.new_site("retry")
    url = publisher.embed("retry")
    live.fail_next("/sites/retry/decisions", 503)
    page.goto(url)
    page.get_by_role("button", name="Reject all").click()
    wait_for(lambda: page.evaluate("localStorage.getItem('pc_pending_retry')"))
    page.wait_for_timeout(300)
    assert live.decisions("retry") == []
    assert stored_choice(page.context)["i"] is None
    page.goto(url)
    assert not banner(page, "Test Shop").is_visible()
    rows = wait_for(lambda: live.decisions("retry"))
    assert rows[0]["action"] == "reject_all"
    wait_for(lambda: page.evaluate("localStorage.getItem('pc_pending_retry')") is None)
    wait_for(lambda: stored_choice(page.context)["i"] == rows[0]["consent_id"])


def test_api_event_reopening_receipt_link_and_cookie_cleanup(page, live, publisher):
    body = '<button type="button" data-pc-open>Cookie settings</button>'
    page.goto(publisher.embed("shop", body))
    page.evaluate("""() => { window.changes = [];
        window.addEventListener('privacycenter:change', e => changes.push(e.detail)); }""")
    page.evaluate("PrivacyCenter.acceptAll()")
    # The first change fires at once, before the answer (which may already be in by now).
    assert page.evaluate("changes.length") >= 1
    assert page.evaluate("changes[0].recorded") is False
    assert page.evaluate("PrivacyCenter.acceptedCategory('analytics')") is True
    wait_for(lambda: (stored_choice(page.context) or {}).get("k"))
    # Once the answer is stored, a second change carries the consent id (docs/widget.md).
    wait_for(lambda: page.evaluate("changes.length") == 2)
    assert page.evaluate("changes[1].consentId") == stored_choice(page.context)["i"]
    page.evaluate(
        "document.cookie = '_an=1; path=/'; document.cookie = '_an_x=2; path=/'; "
        "document.cookie = 'keep=3; path=/'"
    )

    page.get_by_role("button", name="Cookie settings").click()
    prefs = page.get_by_role("dialog", name="Privacy preferences")
    link = prefs.get_by_role("link", name="See or withdraw your recorded choices")
    expect_visible(link)
    choice = stored_choice(page.context)
    assert link.get_attribute("href") == f"{live.url}/consents/{choice['i']}#r={choice['k']}"
    assert prefs.get_by_role("switch", name="Analytics", exact=True).is_checked()
    prefs.get_by_role("switch", name="Analytics", exact=True).uncheck()
    prefs.get_by_role("button", name="Save choices").click()
    wait_for(lambda: "_an=" not in page.evaluate("document.cookie"))
    cookies = page.evaluate("document.cookie")
    assert "_an_x=" not in cookies and "keep=3" in cookies
    assert page.evaluate("changes[2].recorded") is False
    assert page.evaluate("changes[2].categories.analytics") is False


def test_held_elements_added_later_are_released(page, live, publisher, vendor):
    page.goto(publisher.embed("shop"))
    page.evaluate("PrivacyCenter.acceptAll()")
    page.evaluate(f"""() => {{ const s = document.createElement('script'); s.type = 'text/plain';
        s.dataset.category = 'analytics'; s.dataset.src = {json.dumps(vendor.url("/late/a.js"))};
        document.body.append(s); }}""")
    wait_for(lambda: page.evaluate("window.vendorRuns") == ["/late/a.js"])


def test_unknown_site_is_a_silent_script(page, live, publisher, console):
    page.goto(publisher.embed("no-such-site"))
    settle(page)
    assert [m for m in console if "no-such-site" in m] == [
        "warning: Privacy Center: no published widget for site 'no-such-site'"
    ]
    assert page.evaluate("typeof window.PrivacyCenter") == "undefined"


def test_demo_page_runs_on_the_server_origin(page, live):
    page.goto(f"{live.url}/demo/shop?lang=en")
    page.get_by_role("button", name="Accept all").click()
    expect_visible(page.get_by_text("Analytics Co (Analytics): its tag would load here"))
    wait_for(
        lambda: live.decisions("shop") and live.decisions("shop")[-1]["action"] == "accept_all"
    )


def test_refusing_everything_after_accepting_is_recorded_as_a_withdrawal(page, live, publisher):
    live.new_site("withdrawal")
    page.goto(publisher.embed("withdrawal"))
    page.get_by_role("button", name="Accept all").click()
    wait_for(lambda: len(live.decisions("withdrawal")) == 1)
    wait_for(lambda: (page.evaluate("PrivacyCenter.getConsent()") or {}).get("consentId"))
    page.evaluate("PrivacyCenter.showPreferences()")
    page.get_by_role("dialog", name="Privacy preferences").get_by_role(
        "button", name="Reject all"
    ).click()
    rows = wait_for(lambda: live.decisions("withdrawal")[1:])
    assert rows[0]["action"] == "withdraw"
    assert rows[0]["consent_id"] == live.decisions("withdrawal")[0]["consent_id"]
    assert not any(on for key, on in rows[0]["categories"].items() if key != "necessary")
    assert page.evaluate("PrivacyCenter.acceptedCategory('analytics')") is False
