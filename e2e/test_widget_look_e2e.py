"""The widget's look and events in real Chromium: change events, button order and weight,
switch cues, hover on touch screens, a site's layout and colours."""

from __future__ import annotations

import pytest
from test_widget_e2e import banner, expect_visible, held_page, settle, stored_choice, wait_for

BOX = {
    "layout": "box",
    "position": "bottom-left",
    "colors": {"accent": "#ad1457", "accent_text": "#ffffff"},
}
RECORD = """() => { window.changes = []; window.calls = [];
    window.addEventListener('privacycenter:change', e => changes.push(e.detail));
    PrivacyCenter.on('change', c => calls.push(c)); }"""


def test_change_fires_on_the_decision_and_again_with_the_consent_id(page, live, publisher, vendor):
    live.new_site("events")
    page.goto(held_page(publisher, vendor, "events", "events"), wait_until="networkidle")
    page.evaluate(RECORD)
    page.get_by_role("button", name="Accept all").click()
    # Held scripts do not wait for the server.
    wait_for(lambda: page.evaluate("(window.vendorRuns || []).length") == 3)
    first = page.evaluate("changes[0]")
    assert first["recorded"] is False and first["consentId"] is None
    assert first["categories"]["analytics"] is True
    wait_for(lambda: page.evaluate("changes.length") == 2)
    second = page.evaluate("changes[1]")
    row = live.decisions("events")[-1]
    assert second["recorded"] is True and second["consentId"] == row["consent_id"]
    assert second["vendors"] == row["vendors"]
    # The callback sees the same two, and getConsent() agrees with the second.
    assert [c["recorded"] for c in page.evaluate("calls")] == [False, True]
    assert page.evaluate("PrivacyCenter.getConsent().consentId") == row["consent_id"]
    settle(page)
    assert page.evaluate("changes.length") == 2


def test_an_unanswered_decision_fires_its_recorded_change_on_the_page_that_sends_it(
    page, live, publisher
):
    live.new_site("events-retry")
    url = publisher.embed("events-retry")
    live.fail_next("/sites/events-retry/decisions", 503)
    page.goto(url)
    page.evaluate(RECORD)
    page.get_by_role("button", name="Reject all").click()
    wait_for(lambda: page.evaluate("localStorage.getItem('pc_pending_events-retry')"))
    settle(page)
    assert [c["recorded"] for c in page.evaluate("changes")] == [False]
    page.add_init_script(
        "window.changes = []; addEventListener('privacycenter:change', e => changes.push(e.detail));"
    )
    page.goto(url)
    wait_for(lambda: page.evaluate("changes.length") == 1)
    change = page.evaluate("changes[0]")
    assert change["recorded"] is True
    assert change["consentId"] == live.decisions("events-retry")[0]["consent_id"]


@pytest.mark.parametrize(
    "lang,first,prefs,third",
    [
        ("en", ("Accept all", "Reject all", "Customize"), "Privacy preferences", "Save choices"),
        ("ja", ("すべて同意する", "すべて拒否する", "詳細設定"), "プライバシー設定", "選択を保存"),
    ],
)
def test_one_button_order_in_both_layers(page, live, publisher, lang, first, prefs, third):
    page.goto(publisher.embed("shop", lang=lang))
    layer = page.locator("privacy-center-widget .pc-banner .pc-actions button")
    expect_visible(layer.first)
    assert layer.all_inner_texts() == list(first)
    page.get_by_role("button", name=first[2]).click()
    dialog = page.get_by_role("dialog", name=prefs)
    expect_visible(dialog.get_by_role("switch").first)
    assert dialog.locator(".pc-actions button").all_inner_texts() == [first[0], first[1], third]


LOOK = """b => { const s = getComputedStyle(b), r = b.getBoundingClientRect();
    return {bg: s.backgroundColor, color: s.color, weight: s.fontWeight, size: s.fontSize,
            border: s.borderTopColor, w: Math.round(r.width), h: Math.round(r.height)}; }"""


def test_accept_and_reject_look_the_same_and_customize_is_secondary(page, live, publisher):
    page.goto(publisher.embed("shop"))
    accept = page.get_by_role("button", name="Accept all")
    expect_visible(accept)
    a = accept.evaluate(LOOK)
    r = page.get_by_role("button", name="Reject all").evaluate(LOOK)
    c = page.get_by_role("button", name="Customize").evaluate(LOOK)
    assert a == r
    assert a["bg"] == "rgb(11, 79, 176)" and a["color"] == "rgb(255, 255, 255)"
    # Customize: an outline button, same height, text in the accent colour on white.
    assert c["bg"] == "rgb(255, 255, 255)" and c["color"] == a["bg"] and c["h"] == a["h"]


SWITCH = """i => { const k = getComputedStyle(i, '::before');
    return {content: k.content, transform: k.transform, knob: k.color}; }"""


def test_switches_say_on_and_off_by_knob_and_glyph_not_colour_alone(page, live, publisher):
    page.goto(publisher.embed("shop"))
    page.get_by_role("button", name="Customize").click()
    prefs = page.get_by_role("dialog", name="Privacy preferences")
    analytics = prefs.get_by_role("switch", name="Analytics", exact=True)
    expect_visible(analytics)
    off = analytics.evaluate(SWITCH)
    analytics.check()
    on = analytics.evaluate(SWITCH)
    assert "✕" in off["content"] and "✓" in on["content"]
    assert off["transform"] == "none" and on["transform"] != "none"
    # The glyph has empty alternative text: the switch is announced by its label and state only.
    assert off["content"].endswith('/ ""') and on["content"].endswith('/ ""')
    assert analytics.aria_snapshot() == '- switch "Analytics" [checked]'


HOVER_RULES = """() => {
    const root = document.querySelector('privacy-center-widget').shadowRoot;
    const out = [];
    const walk = (rules, media) => { for (const r of rules) {
        if (r.cssRules && r.media) walk(r.cssRules, r.media.mediaText);
        else if (r.selectorText && r.selectorText.includes(':hover')) out.push([r.selectorText, media]);
    } };
    for (const sheet of root.adoptedStyleSheets) walk(sheet.cssRules, null);
    return out; }"""


def test_hover_styles_apply_only_where_there_is_hover(browser, live, publisher):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True, locale="en-US"
    )
    page = context.new_page()
    try:
        page.goto(publisher.embed("shop"))
        customize = page.get_by_role("button", name="Customize")
        expect_visible(customize)
        rules = page.evaluate(HOVER_RULES)
        assert rules and all(media == "(hover: hover)" for _selector, media in rules)
        assert page.evaluate("matchMedia('(hover: hover)').matches") is False
        # After a tap the button does not keep a hover look.
        customize.tap()
        prefs = page.get_by_role("dialog", name="Privacy preferences")
        expect_visible(prefs.get_by_role("switch").first)
        prefs.get_by_role("button", name="Close").tap()
        assert customize.evaluate("b => getComputedStyle(b).backgroundImage") == "none"
    finally:
        context.close()


def test_a_box_in_the_sites_colours_sits_in_its_corner_and_passes_axe(
    browser, live, publisher, axe
):
    live.new_site("boxed", appearance=BOX)
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="ja-JP")
    page = context.new_page()
    try:
        page.goto(publisher.embed("boxed", lang="ja"))
        card = banner(page, "テストショップ")
        expect_visible(card)
        box = card.bounding_box()
        assert box["x"] == 16 and box["width"] <= 340
        assert box["y"] + box["height"] == pytest.approx(800 - 16, abs=1)
        accept = page.get_by_role("button", name="すべて同意する")
        assert accept.evaluate(LOOK)["bg"] == "rgb(173, 20, 87)"
        assert page.get_by_role("button", name="すべて拒否する").evaluate(LOOK) == accept.evaluate(
            LOOK
        )
        assert axe(page) == []
        page.set_viewport_size({"width": 390, "height": 844})
        box = card.bounding_box()
        assert box["x"] == 8 and box["width"] == 390 - 16
        page.get_by_role("button", name="詳細設定").click()
        prefs = page.get_by_role("dialog", name="プライバシー設定")
        expect_visible(prefs.get_by_role("switch").first)
        assert axe(page) == []
    finally:
        context.close()


def test_a_bar_at_the_top(page, live, publisher):
    live.new_site("topbar", appearance={"layout": "bar", "position": "top"})
    page.goto(publisher.embed("topbar"))
    card = banner(page)
    expect_visible(card)
    box = card.bounding_box()
    assert box["y"] == 16 and box["width"] == 760
    page.get_by_role("button", name="Reject all").click()
    wait_for(lambda: (stored_choice(page.context) or {}).get("i"))
    assert not card.is_visible()
