"""How the widget loads and posts, in real Chromium: one file until "Customize", async and defer
script tags, and retries that carry the same request id."""

from __future__ import annotations

import json
import re

import pytest
from test_widget_e2e import DATALAYER, banner, expect_visible, settle, stored_choice, wait_for


def widget_requests(page, live):
    """The paths (and POST bodies) of every request the page makes to the privacy center."""
    seen = []

    def on_request(request):
        if request.url.startswith(live.url):
            path = request.url[len(live.url) :]
            body = json.loads(request.post_data) if request.method == "POST" else None
            seen.append((path, body))

    page.on("request", on_request)
    return seen


def test_the_first_load_is_one_file_and_the_preferences_come_on_customize(page, live, publisher):
    live.new_site("lazy")
    seen = widget_requests(page, live)
    page.goto(publisher.embed("lazy"), wait_until="networkidle")
    expect_visible(banner(page).get_by_role("button", name="Accept all"))
    assert [path for path, _ in seen] == ["/w/lazy.js"]

    page.get_by_role("button", name="Customize").click()
    prefs = page.get_by_role("dialog", name="Privacy preferences")
    expect_visible(prefs.get_by_role("switch", name="Analytics", exact=True))
    paths = [path for path, _ in seen]
    assert paths[0] == "/w/lazy.js" and "/api/v1/sites/lazy/config" in paths
    (part,) = [p for p in paths if p.startswith("/w/p/")]
    assert re.fullmatch(r"/w/p/[0-9a-f]{20}\.js", part)
    # Its styles came with it: the switches are drawn by the widget, not the browser.
    switch = prefs.get_by_role("switch", name="Analytics", exact=True)
    assert switch.evaluate("s => getComputedStyle(s).width") == "44px"

    # Closed and opened again: nothing is fetched twice, and the dialog keeps working.
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Customize").click()
    expect_visible(prefs.get_by_role("switch", name="Analytics", exact=True))
    assert len([p for p, _ in seen if p.startswith("/w/p/")]) == 1
    prefs.get_by_role("switch", name="Analytics", exact=True).check()
    prefs.get_by_role("button", name="Save choices").click()
    rows = wait_for(lambda: live.decisions("lazy"))
    assert rows[0]["action"] == "custom" and rows[0]["categories"]["analytics"] is True


def test_preferences_that_cannot_load_say_so_in_japanese_and_work_on_the_next_click(
    page, live, publisher
):
    live.new_site("lazyfail")
    page.goto(publisher.embed("lazyfail", lang="ja"))
    live.fail_next("/w/p/", 503)
    page.get_by_role("button", name="詳細設定").click()
    alert = banner(page, "テストショップ").get_by_role("alert")
    expect_visible(alert)
    assert alert.inner_text() == "詳細を読み込めませんでした。後でもう一度お試しください。"
    page.get_by_role("button", name="詳細設定").click()
    prefs = page.get_by_role("dialog", name="プライバシー設定")
    expect_visible(prefs.get_by_role("button", name="選択を保存"))


@pytest.mark.parametrize("mode", ["async", "defer"])
def test_an_async_or_defer_script_tag_still_holds_releases_and_sets_consent_mode(
    page, live, publisher, vendor, mode
):
    tag = f"load-{mode}"
    live.new_site(tag)
    body = (
        f'<script type="text/plain" data-category="analytics" data-vendor="analytics-co" '
        f'src="{vendor.url(f"/{tag}/analytics.js")}"></script>'
        '<script type="text/plain" data-category="analytics">'
        'dataLayer.push({event: "held-tag"});</script>'
        "<p>More text after the held tags.</p>"
    )
    # The page's own code runs before the widget: it waits for the ready event.
    ready = (
        "<script>window.readyDetails = [];"
        "addEventListener('privacycenter:ready', function (e) {"
        " readyDetails.push([!!window.PrivacyCenter, e.detail]); });</script>"
    )
    url = publisher.embed(tag, body, head=ready, script_attrs=f" {mode}")
    page.goto(url, wait_until="networkidle")
    expect_visible(banner(page).get_by_role("button", name="Accept all"))
    assert page.evaluate("readyDetails") == [[True, None]]  # ready, and no choice yet
    assert not [p for p in vendor.requests if p.startswith(f"/{tag}/")]
    layer = page.evaluate(DATALAYER)
    assert layer[0][0:2] == ["consent", "default"] and {"event": "held-tag"} not in layer

    page.get_by_role("button", name="Accept all").click()
    wait_for(lambda: page.evaluate("window.vendorRuns") == [f"/{tag}/analytics.js"])
    layer = page.evaluate(DATALAYER)
    assert layer.index({"event": "held-tag"}) > 1 and layer[1][1] == "update"

    # The next page: the choice applies without a banner, `update` right after `default`.
    vendor.clear()
    page.goto(url, wait_until="networkidle")
    wait_for(lambda: page.evaluate("window.vendorRuns") == [f"/{tag}/analytics.js"])
    assert not banner(page).is_visible()
    ((api, consent),) = page.evaluate("readyDetails")
    assert api and consent["categories"]["analytics"] is True
    layer = page.evaluate(DATALAYER)
    assert [e[1] for e in layer[:2]] == ["default", "update"]
    assert layer[1][2]["analytics_storage"] == "granted"
    assert layer.index({"event": "held-tag"}) > 1


@pytest.mark.parametrize("status", [503, 429])
def test_a_retry_carries_the_same_request_id_and_is_recorded_once(page, live, publisher, status):
    key = f"rid{status}"
    live.new_site(key)
    url = publisher.embed(key)
    seen = widget_requests(page, live)
    live.fail_next(f"/sites/{key}/decisions", status)
    page.goto(url)
    page.get_by_role("button", name="Reject all").click()
    pending = wait_for(lambda: page.evaluate(f"localStorage.getItem('pc_pending_{key}')"))
    settle(page)
    assert live.decisions(key) == []  # refused for now (server fault, or rate limited)
    (kept,) = json.loads(pending)
    assert re.fullmatch(r"[0-9a-f]{32}", kept["request_id"])

    page.goto(url)
    rows = wait_for(lambda: live.decisions(key))
    wait_for(lambda: page.evaluate(f"localStorage.getItem('pc_pending_{key}')") is None)
    posts = [body for path, body in seen if path.endswith("/decisions")]
    assert len(posts) == 2 and len(rows) == 1
    assert posts[0]["request_id"] == posts[1]["request_id"] == kept["request_id"]
    wait_for(lambda: stored_choice(page.context)["i"] == rows[0]["consent_id"])

    # A new decision gets a new request id.
    page.evaluate("PrivacyCenter.acceptAll()")
    wait_for(lambda: len(live.decisions(key)) == 2)
    posts = [body for path, body in seen if path.endswith("/decisions")]
    assert posts[-1]["request_id"] != kept["request_id"]
