"""Serving the widget: one cacheable, compressed script per revision, and the demo page."""

from __future__ import annotations

import gzip
import json
import re

import brotli

from server import widget
from server.storage import registry as registry_store
from server.storage import revisions as revision_store


def embedded_config(body: bytes) -> dict:
    text = body.decode()
    start = text.rindex('({"site"') + 1
    return json.JSONDecoder().raw_decode(text[start:])[0]


def test_script_is_compressed_cached_and_carries_the_revision(client, published):
    plain = client.get("/w/shop.js", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200
    assert plain.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert "stale-while-revalidate" in plain.headers["Cache-Control"]
    config = embedded_config(plain.data)
    assert config["revision"] == 1 and config["consent_revision"] == 1
    gz = client.get("/w/shop.js", headers={"Accept-Encoding": "gzip"})
    assert gz.headers["Content-Encoding"] == "gzip" and gzip.decompress(gz.data) == plain.data
    br = client.get("/w/shop.js", headers={"Accept-Encoding": "gzip, br"})
    assert br.headers["Content-Encoding"] == "br" and brotli.decompress(br.data) == plain.data
    assert len({plain.headers["ETag"], gz.headers["ETag"], br.headers["ETag"]}) == 3
    again = client.get(
        "/w/shop.js", headers={"Accept-Encoding": "gzip", "If-None-Match": gz.headers["ETag"]}
    )
    assert again.status_code == 304 and again.data == b""


def test_first_load_holds_no_vendor_details(client, published):
    body = client.get("/w/shop.js").data.decode()
    assert "shop" in body and "Google Analytics" not in body and "Google LLC" not in body
    assert "google-analytics" not in body


def test_a_new_revision_changes_the_etag_and_the_bundle_is_built_once(
    client, db, registry_doc, published, monkeypatch
):
    calls = []
    real_build = widget.build
    monkeypatch.setattr(widget, "build", lambda *a: calls.append(1) or real_build(*a))
    first = client.get("/w/shop.js").headers["ETag"]
    assert client.get("/w/shop.js").headers["ETag"] == first
    registry_doc["sites"][0]["categories"][1]["description"]["en"] = "Handy features"
    registry_store.apply(db, registry_doc, "test")
    revision_store.publish(db, "shop", "test")
    second = client.get("/w/shop.js")
    assert second.headers["ETag"] != first
    assert embedded_config(second.data)["revision"] == 2
    assert embedded_config(second.data)["consent_revision"] == 1
    assert client.get("/w/shop.js").headers["ETag"] == second.headers["ETag"]
    # One build per revision (the cache key holds this test's own database file).
    assert len(calls) == 2


def test_empty_settings_are_left_out_of_the_first_load(client, published):
    config = embedded_config(client.get("/w/shop.js").data)
    assert "notice" not in config  # null in the registry: the widget's own words are used
    required = [c for c in config["categories"] if c.get("required")]
    assert required and "google_consent_types" not in required[0]
    assert all("gpc_refuses" not in c or c["gpc_refuses"] is True for c in config["categories"])


def test_the_preferences_part_is_served_once_for_all_sites_and_cached_for_good(client, published):
    first = client.get("/w/shop.js", headers={"Accept-Encoding": "identity"}).data.decode()
    path = re.search(r'"(/w/p/[0-9a-f]{20}\.js)"', first).group(1)
    plain = client.get(path, headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200
    assert plain.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert plain.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert plain.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert "Privacy preferences" in plain.data.decode()
    gz = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert gz.headers["Content-Encoding"] == "gzip" and gzip.decompress(gz.data) == plain.data
    br = client.get(path, headers={"Accept-Encoding": "br"})
    assert br.headers["Content-Encoding"] == "br" and brotli.decompress(br.data) == plain.data
    again = client.get(path, headers={"Accept-Encoding": "br", "If-None-Match": br.headers["ETag"]})
    assert again.status_code == 304
    # The address of another build: a script that fails, so the widget says so; never a 5xx.
    stale = client.get("/w/p/0123456789abcdef0123.js")
    assert stale.status_code == 404 and stale.headers["Cache-Control"] == "no-store"
    assert stale.data.decode().startswith("throw new Error(")


def test_site_texts_cannot_end_the_script(client, db, registry_doc):
    registry_doc["sites"][0]["name"]["en"] = "</script><script>alert(1)</script>\u2028"
    registry_store.apply(db, registry_doc, "test")
    revision_store.publish(db, "shop", "test")
    body = client.get("/w/shop.js").data.decode()
    assert "</script>" not in body and "\u2028" not in body
    assert embedded_config(client.get("/w/shop.js").data)["name"]["en"].startswith("</script>")


def test_unknown_or_unpublished_site_gets_a_silent_script(client, db, registry_doc):
    for key in ("nope", "shop", "Bad%20Key"):  # shop exists below but is not published
        registry_store.apply(db, registry_doc, "test")
        response = client.get(f"/w/{key}.js")
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/javascript; charset=utf-8"
        assert response.data.decode().count("console.warn(") == 1
        assert "<" not in response.data.decode()


def test_demo_page(client, published):
    page = client.get("/demo/shop?lang=en")
    assert page.status_code == 200
    html = page.data.decode()
    assert '<script src="/w/shop.js"></script>' in html
    assert 'type="text/plain" data-category="analytics" data-vendor="google-analytics"' in html
    assert client.get("/demo/shop?lang=ja").data.decode().count('lang="ja"') >= 1
    assert client.get("/demo/nope").status_code == 404
