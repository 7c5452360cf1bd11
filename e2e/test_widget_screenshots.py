"""Screenshots of both layers and of the `notice` regime's first layer, ja and en, desktop and a
375-px phone, under build/screenshots/."""

from __future__ import annotations

import pytest

NAMES = {"en": ("Customize", "Privacy preferences"), "ja": ("詳細設定", "プライバシー設定")}


@pytest.mark.parametrize("width,height,device", [(1280, 800, "desktop"), (375, 740, "phone")])
@pytest.mark.parametrize("lang", ["ja", "en"])
def test_screenshots(browser, live, publisher, screenshots_dir, lang, width, height, device):
    context = browser.new_context(
        viewport={"width": width, "height": height},
        device_scale_factor=1,
        locale=f"{lang}-JP" if lang == "ja" else "en-US",
    )
    page = context.new_page()
    try:
        page.goto(
            publisher.embed(
                "shop", lang=lang, body="<p>" + "Lorem ipsum dolor sit amet. " * 40 + "</p>"
            )
        )
        customize = page.get_by_role("button", name=NAMES[lang][0])
        customize.wait_for()
        # Each button fits its box: no text cut off on any screen.
        for button in page.locator("privacy-center-widget").locator(".pc-btn").all():
            assert button.evaluate("b => b.scrollWidth <= b.clientWidth")
        page.screenshot(path=str(screenshots_dir / f"banner-{lang}-{device}.png"))
        customize.click()
        prefs = page.get_by_role("dialog", name=NAMES[lang][1])
        prefs.get_by_role("switch").first.wait_for()
        prefs.locator("summary").first.click()
        page.screenshot(path=str(screenshots_dir / f"preferences-{lang}-{device}.png"))
    finally:
        context.close()


@pytest.fixture(scope="module")
def notice_site(live):
    """A site whose regime is `notice` everywhere (the server reads no region header)."""
    live.new_site("shots-notice", regimes={"default": "notice"})
    return "shots-notice"


@pytest.mark.parametrize("width,height,device", [(1280, 800, "desktop"), (375, 740, "phone")])
@pytest.mark.parametrize("lang", ["ja", "en"])
def test_notice_screenshots(
    browser, notice_site, publisher, screenshots_dir, lang, width, height, device
):
    """The first layer of the `notice` regime (外部送信; docs/widget.md, "Regimes")."""
    context = browser.new_context(
        viewport={"width": width, "height": height},
        device_scale_factor=1,
        locale=f"{lang}-JP" if lang == "ja" else "en-US",
    )
    page = context.new_page()
    try:
        page.goto(publisher.embed(notice_site, lang=lang))
        page.get_by_role("button", name=NAMES[lang][0]).wait_for()
        for button in page.locator("privacy-center-widget").locator(".pc-btn").all():
            assert button.evaluate("b => b.scrollWidth <= b.clientWidth")
        page.screenshot(path=str(screenshots_dir / f"notice-{lang}-{device}.png"))
    finally:
        context.close()
