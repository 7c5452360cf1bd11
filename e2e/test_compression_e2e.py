"""Compressed answers in real Chromium: the vendor details and the pages arrive encoded and work."""

from __future__ import annotations


def test_customize_reads_the_compressed_vendor_details(page, live, publisher):
    configs = []
    page.on(
        "response",
        lambda response: configs.append(response) if "/config" in response.url else None,
    )
    page.goto(publisher.embed("shop", "<p>page</p>"), wait_until="networkidle")
    page.get_by_role("button", name="Customize").click()
    prefs = page.get_by_role("dialog", name="Privacy preferences")
    prefs.wait_for(state="visible", timeout=5000)
    prefs.get_by_text("Companies (2)").click()  # the analytics vendors, from the config JSON
    assert prefs.get_by_role("switch", name="Heatmap Co", exact=True).is_visible()
    assert configs, "the config was not fetched"
    response = configs[-1]
    sent = response.request.all_headers().get("accept-encoding", "")
    headers = response.all_headers()
    # Chromium asks for gzip (and br over https or on localhost); the server answers in kind.
    assert headers.get("content-encoding") == ("br" if "br" in sent else "gzip")
    assert "accept-encoding" in headers["vary"].lower()
    assert response.json()["site"] == "shop"  # the browser decoded it


def test_disclosure_page_arrives_compressed(page, live):
    response = page.goto(f"{live.url}/sites/shop/disclosure?lang=en")
    assert response.status == 200
    assert response.all_headers().get("content-encoding") in ("br", "gzip")
    assert page.get_by_role("heading", level=1).is_visible()
