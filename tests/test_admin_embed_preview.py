"""The admin's embed page previews the live widget in frames that can never record a decision."""

from __future__ import annotations

import re

from server.storage import registry as registry_store
from server.storage import revisions as revision_store


def test_the_embed_page_frames_the_live_widget_per_language(admin_client, published):
    page = admin_client("viewer").get("/admin/sites/shop/embed")
    assert page.status_code == 200
    frames = re.findall(r'<iframe src="([^"]+)" title="([^"]+)"', page.text)
    assert frames == [
        ("/admin/sites/shop/embed?preview=ja", "Preview in 日本語"),
        ("/admin/sites/shop/embed?preview=en", "Preview in English"),
    ]
    assert "revision 1" in page.text
    assert "preview-buttons" not in page.text  # the old static drawing is gone


def test_the_preview_page_embeds_the_widget_in_preview_mode_behind_a_strict_csp(
    admin_client, published
):
    response = admin_client("viewer").get("/admin/sites/shop/embed?preview=en")
    assert response.status_code == 200
    assert '<html lang="en">' in response.text
    assert '<script src="/w/shop.js" data-preview data-lang="en"></script>' in response.text
    csp = dict(
        part.strip().split(" ", 1)
        for part in response.headers["Content-Security-Policy"].split(";")
    )
    # The widget may read the site's config; nothing else, so a decision post cannot leave.
    assert csp["connect-src"] == "http://localhost/api/v1/sites/shop/config"
    # The widget and its preferences' part (loaded on "Customize"), nothing else.
    assert csp["script-src"] == "http://localhost/w/shop.js http://localhost/w/p/"
    assert csp["default-src"] == "'none'" and csp["frame-ancestors"] == "'self'"
    nonce = re.search(r"'nonce-([^']+)'", csp["style-src"])[1]
    assert f'<style nonce="{nonce}">' in response.text
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "no-store" in response.headers["Cache-Control"]


def test_the_preview_escapes_the_site_name(admin_client, published, db, registry_doc):
    registry_doc["sites"][0]["name"]["en"] = "<img src=x onerror=alert(1)>"
    registry_store.apply(db, registry_doc, "test")
    revision_store.publish(db, "shop", "test")
    text = admin_client("viewer").get("/admin/sites/shop/embed?preview=en").text
    assert "<img src=x" not in text and "&lt;img src=x" in text


def test_no_preview_for_an_unknown_language_or_an_unpublished_site(
    admin_client, published, db, registry_doc
):
    viewer = admin_client("viewer")
    assert viewer.get("/admin/sites/shop/embed?preview=fr").status_code == 404
    assert viewer.get("/admin/sites/nope/embed?preview=en").status_code == 404
    draft = {**registry_doc["sites"][0], "key": "draft"}
    registry_store.apply(db, {"sites": [draft]}, "test")
    assert viewer.get("/admin/sites/draft/embed?preview=en").status_code == 404
    page = viewer.get("/admin/sites/draft/embed")
    assert page.status_code == 200 and "Not published yet." in page.text
    assert "<iframe" not in page.text


def test_the_preview_needs_a_signed_in_user(client, published):
    response = client.get("/admin/sites/shop/embed?preview=en")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
