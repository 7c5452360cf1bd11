"""The vendor catalog: its entries, host look-up, the `catalog` CLI and the admin's prefill."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys

import pytest
import yaml
from click.testing import CliRunner

from server import catalog
from server.cli import main
from server.registry import HOST, normalize
from server.storage import registry as registry_store

# Japanese and global vendors the catalog must name (issue 9, item 3).
REQUIRED = {
    "google-analytics",
    "google-tag-manager",
    "google-ads",
    "youtube",
    "meta-pixel",
    "x-pixel",
    "line-tag",
    "yahoo-japan-ads",
    "tiktok-pixel",
    "microsoft-clarity",
    "microsoft-advertising",
    "criteo",
    "karte",
    "hotjar",
    "adobe-analytics",
    "salesforce-account-engagement",
    "braze",
}


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


# The catalog itself


def test_the_catalog_has_at_least_40_vendors_with_unique_keys():
    entries = catalog.all()
    keys = [e["key"] for e in entries]
    assert len(entries) >= 40
    assert len(set(keys)) == len(keys)
    assert REQUIRED <= set(keys)


def test_every_entry_is_a_valid_registry_vendor_unchanged():
    for entry in catalog.all():
        vendor = catalog.as_vendor(entry)
        # Both languages required, as for a vendor used by a bilingual site.
        doc = normalize({"vendors": [vendor]}, known_vendor_languages={vendor["key"]: ["ja", "en"]})
        (normalized,) = doc["vendors"]
        assert normalized == {"opt_out_url": None, "country": None, **vendor}, entry["key"]


def test_every_entry_has_a_category_sources_and_texts_in_both_languages():
    for entry in catalog.all():
        assert entry["category"] in catalog.CATEGORIES, entry["key"]
        assert entry["sources"] and all(url.startswith("https://") for url in entry["sources"]), (
            entry["key"]
        )
        for field in ("data_sent", "purpose"):
            assert set(entry[field]) == {"ja", "en"}, (entry["key"], field)
        assert entry["hosts"], f"{entry['key']} names no host: the scanner could not match it"


def test_no_two_entries_claim_the_same_host():
    owner: dict[str, str] = {}
    for entry in catalog.all():
        for host in entry["hosts"]:
            assert HOST.match(host), (entry["key"], host)
            assert host not in owner, f"{host}: {owner.get(host)} and {entry['key']}"
            owner[host] = entry["key"]


def test_all_and_get_return_copies():
    catalog.all()[0]["name"] = "changed"
    catalog.get("google-analytics")["hosts"].append("evil.example")
    assert catalog.all()[0]["name"] != "changed"
    assert "evil.example" not in catalog.get("google-analytics")["hosts"]
    assert catalog.get("no-such-vendor") is None


# Finding the vendor behind a host


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("www.google-analytics.com", "google-analytics"),  # exact
        ("region1.google-analytics.com", "google-analytics"),  # *.google-analytics.com
        ("WWW.GoogleTagManager.com", "google-tag-manager"),  # case does not matter
        ("connect.facebook.net:443", "meta-pixel"),  # the port is ignored
        ("https://static.criteo.net/js/ld/ld.js", "criteo"),  # a URL's host
        ("a.b.c.hotjar.com", "hotjar"),  # a subdomain at any depth
        ("bat.bing.com.", "microsoft-advertising"),  # a trailing dot
        ("o123.ingest.us.sentry.io", "sentry"),
    ],
)
def test_find_by_host(host, key):
    found = catalog.find_by_host(host)
    assert found is not None and found["key"] == key


@pytest.mark.parametrize(
    "host",
    [
        "google-analytics.com",  # *.domain does not cover the bare domain
        "evilgoogle-analytics.com",  # nor a name that merely ends the same
        "example.com",
        "",
        "[::1]:8080",
    ],
)
def test_find_by_host_finds_nothing(host):
    assert catalog.find_by_host(host) is None


def test_the_most_specific_pattern_wins(monkeypatch):
    entries = (
        {"key": "broad", "hosts": ["*.example.com"]},
        {"key": "narrow", "hosts": ["*.cdn.example.com"]},
        {"key": "exact", "hosts": ["x.cdn.example.com"]},
    )
    monkeypatch.setattr(catalog, "_load", lambda: entries)
    catalog._index.cache_clear()
    try:
        assert catalog.find_by_host("x.cdn.example.com")["key"] == "exact"
        assert catalog.find_by_host("y.cdn.example.com")["key"] == "narrow"
        assert catalog.find_by_host("a.y.cdn.example.com")["key"] == "narrow"
        assert catalog.find_by_host("www.example.com")["key"] == "broad"
    finally:
        catalog._index.cache_clear()


# The command line


def test_cli_list_as_text_names_every_entry():
    result = run("catalog", "list")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert len(lines) == len(catalog.all())
    line = next(line for line in lines if line.startswith("line-tag "))
    assert "advertising" in line and "LINE Tag" in line and "JP" in line


def test_cli_list_as_json_is_the_catalog():
    result = run("catalog", "list", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.output) == catalog.all()


def test_cli_show_prints_an_entry_that_applies_as_a_registry_vendor(tmp_path):
    result = run("catalog", "show", "microsoft-clarity")
    assert result.exit_code == 0
    shown = yaml.safe_load(result.output)
    assert shown == catalog.get("microsoft-clarity")
    assert result.output.startswith("key: microsoft-clarity\n")
    # Pasted into a registry file (without the catalog-only fields), it applies as is.
    path = tmp_path / "registry.yaml"
    path.write_text(
        yaml.safe_dump({"vendors": [catalog.as_vendor(shown)]}, allow_unicode=True),
        encoding="utf-8",
    )
    db = str(tmp_path / "pc.db")
    applied = run("--database", db, "registry", "apply", str(path))
    assert applied.exit_code == 0, applied.output
    assert "create vendor microsoft-clarity" in applied.output


def test_cli_show_as_json():
    result = run("catalog", "show", "criteo", "--format", "json")
    assert json.loads(result.output)["recipient"] == "Criteo SA"


def test_cli_show_of_an_unknown_key_is_a_readable_error_with_exit_2():
    result = CliRunner().invoke(main, ["catalog", "show", "no-such-vendor"])
    assert result.exit_code == 2
    assert "no vendor 'no-such-vendor' in the catalog" in result.output
    assert "Traceback" not in result.output


# The admin's vendor form


def options(page):
    return re.findall(r'<option value="([^"]+)"', page)


def field(page, name):
    match = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', page)
    return match and html.unescape(match[1])


def textarea(page, name):
    match = re.search(rf'<textarea [^>]*name="{re.escape(name)}"[^>]*>(.*?)</textarea>', page, re.S)
    return match and html.unescape(match[1])


def test_the_new_vendor_form_offers_the_catalog(admin_client, published):
    page = admin_client("editor").get("/admin/vendors/new").text
    assert "From the catalog" in page
    assert set(options(page)) == {e["key"] for e in catalog.all()}
    listing = admin_client("editor").get("/admin/vendors").text
    assert "New vendor from the catalog" in listing


def test_picking_an_entry_prefills_the_form_and_saving_creates_the_vendor(
    admin_client, db, published
):
    editor = admin_client("editor")
    page = editor.get("/admin/vendors/new?catalog=microsoft-clarity")
    assert page.status_code == 200
    text = page.text
    # Nothing is stored by the prefill itself.
    assert registry_store.get_vendor(db, "microsoft-clarity") is None
    entry = catalog.get("microsoft-clarity")
    assert field(text, "key") == "microsoft-clarity"
    assert field(text, "recipient") == "Microsoft Corporation"
    assert field(text, "privacy_policy_url") == entry["privacy_policy_url"]
    assert textarea(text, "hosts").split("\n") == entry["hosts"]
    assert "_clck, 365" in textarea(text, "cookies")
    assert textarea(text, "data_sent.ja") == entry["data_sent"]["ja"]
    # The admin sees where the facts come from and the suggested category.
    assert entry["sources"][0] in text and "Analytics" in text
    # The admin edits the prefilled form and saves it (with the session's CSRF token).
    form = {
        name: field(text, name) if field(text, name) is not None else textarea(text, name)
        for name in (
            "key",
            "name",
            "recipient",
            "country",
            "privacy_policy_url",
            "opt_out_url",
            "hosts",
            "cookies",
            "data_sent.ja",
            "data_sent.en",
            "purpose.ja",
            "purpose.en",
        )
    }
    form["purpose.en"] = "Improving our checkout pages"
    saved = editor.post("/admin/vendors/new", data=form)
    assert saved.status_code == 302, saved.text
    vendor = registry_store.get_vendor(db, "microsoft-clarity")
    assert vendor["purpose"]["en"] == "Improving our checkout pages"
    assert vendor["hosts"] == entry["hosts"]
    assert vendor["cookies"] == entry["cookies"]
    assert vendor["data_sent"] == entry["data_sent"]


def test_saving_without_the_csrf_token_is_refused(admin_client, db, published):
    editor = admin_client("editor")
    vendor = catalog.as_vendor(catalog.get("hotjar"))
    response = editor.client.post(
        "/admin/vendors/new",
        data={"key": vendor["key"], "name": vendor["name"], "recipient": vendor["recipient"]},
    )
    assert response.status_code in (400, 403)
    assert registry_store.get_vendor(db, "hotjar") is None


def test_a_key_already_in_the_registry_is_pointed_out(admin_client, published):
    page = admin_client("editor").get("/admin/vendors/new?catalog=google-analytics").text
    assert "already has a vendor google-analytics" in page
    assert field(page, "recipient") == "Google LLC"  # still prefilled, to save under a new key


def test_an_unknown_catalog_key_is_a_404_with_the_empty_form(admin_client, published):
    response = admin_client("editor").get("/admin/vendors/new?catalog=nope")
    assert response.status_code == 404
    assert "No vendor nope in the catalog." in response.text
    assert field(response.text, "key") in (None, "")


def test_viewers_cannot_use_the_catalog_form(admin_client, published):
    assert admin_client("viewer").get("/admin/vendors/new?catalog=criteo").status_code == 403


def test_the_picker_speaks_japanese(admin_client, published):
    editor = admin_client("editor")
    editor.post("/admin/language", data={"lang": "ja", "next": "/admin/"})
    page = editor.get("/admin/vendors/new?catalog=criteo").text
    assert "カタログから" in page and "広告" in page


def test_the_public_server_does_not_load_the_catalog(tmp_path):
    # The catalog is for the CLI, the admin's vendor form and the scanner: serving the widget,
    # the public API and the admin sign-in page must not read it.
    script = f"""
import sys
from server import create_app
from server.storage import connect, migrate
db = connect({str(tmp_path / "pc.db")!r})
migrate(db)
db.close()
app = create_app({{"DATABASE": {str(tmp_path / "pc.db")!r}, "SECRET_KEY": "x", "TESTING": True}})
client = app.test_client()
for url in ("/healthz", "/api/v1/sites/shop/config", "/w/shop.js", "/admin/login", "/"):
    client.get(url).close()
assert "server.catalog" not in sys.modules, "the catalog was imported"
print("ok")
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
