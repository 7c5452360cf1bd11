"""The admin's embed page shows the live widget of the published revision, which records nothing."""

from __future__ import annotations

from test_widget_e2e import expect_visible

from server.storage import accounts

EMAIL, PASSWORD = "preview-viewer@example.com", "a long enough password"


def test_the_embed_page_previews_the_live_banner_and_records_nothing(page, live, console, axe):
    live.new_site("previewed", appearance={"layout": "box"})
    db = live.db()
    try:
        accounts.create_user(db, EMAIL, PASSWORD, "viewer")
    finally:
        db.close()
    page.goto(f"{live.url}/admin/login")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live.url}/admin/")
    page.goto(f"{live.url}/admin/sites/previewed/embed")

    ja = page.frame_locator('iframe[title="Preview in 日本語"]')
    en = page.frame_locator('iframe[title="Preview in English"]')
    expect_visible(ja.get_by_role("dialog", name="テストショップ"))
    expect_visible(en.get_by_role("button", name="Accept all"))
    assert axe(page) == []
    box = en.get_by_role("dialog", name="Test Shop").bounding_box()
    assert box["width"] <= 340  # the site's layout: a corner box

    # The preferences open with the site's categories (the config may be read)...
    page.locator('iframe[title="Preview in English"]').scroll_into_view_if_needed()
    en.get_by_role("button", name="Customize").click()
    prefs = en.get_by_role("dialog", name="Privacy preferences")
    expect_visible(prefs.get_by_role("switch", name="Analytics", exact=True))
    prefs.get_by_role("button", name="Accept all").click()
    page.locator('iframe[title="Preview in 日本語"]').scroll_into_view_if_needed()
    ja.get_by_role("button", name="すべて拒否する").click()
    page.wait_for_timeout(750)
    # ...but no decision reaches the consent log, and none is kept for later.
    assert live.decisions("previewed") == []
    frame = page.frame(url=lambda url: "preview=en" in url)
    assert frame.evaluate("PrivacyCenter.getConsent()") is None
    assert frame.evaluate("localStorage.getItem('pc_pending_previewed')") is None
    assert "pc_consent" not in [c["name"] for c in page.context.cookies()]
    assert not [m for m in console if "Content Security Policy" in m or "pageerror" in m]

    # "Show the banner again" reloads the frame with the banner.
    en.get_by_role("link", name="Show the banner again").click()
    expect_visible(en.get_by_role("button", name="Accept all"))
