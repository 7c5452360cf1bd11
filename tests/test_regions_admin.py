"""Regional rules in the admin UI and the admin API: set, shown, refused with their paths."""

import html

from test_admin_registry import field_error

from server.storage import registry as registry_store
from server.storage import revisions as revision_store

SITE_FORM = {
    "name.ja": "サンプルショップ",
    "name.en": "Sample Shop",
    "origins": "https://shop.example.co.jp",
    "languages.ja": "1",
    "languages.en": "1",
    "default_language": "ja",
    "consent_max_age_days": "180",
    "honor_gpc": "1",
    "google_consent_mode": "1",
}


def stored_regimes(db):
    return registry_store.get_site(db, "shop").get("regimes")


def test_an_editor_sets_regimes_in_the_site_form(admin_client, db, published):
    editor = admin_client("editor")
    saved = editor.post(
        "/admin/sites/shop",
        data={
            **SITE_FORM,
            "regimes.default": "opt_in",
            "regimes.regions": "jp: notice\nUS-CA = opt_out\n\nEU opt_in",
        },
    )
    assert saved.status_code == 302, saved.text
    assert stored_regimes(db) == {
        "default": "opt_in",
        "regions": {"EU": "opt_in", "JP": "notice", "US-CA": "opt_out"},
    }
    page = editor.get("/admin/sites/shop").text
    assert '<option value="opt_in" selected>' in page
    assert "EU: opt_in\nJP: notice\nUS-CA: opt_out</textarea>" in page
    # publishing it does not ask visitors again
    revision, created = revision_store.publish(db, "shop", "test")
    assert created and revision["consent_revision"] == 1


def test_regime_problems_are_shown_next_to_their_field(admin_client, db, published):
    editor = admin_client("editor")
    refused = editor.post(
        "/admin/sites/shop",
        data={**SITE_FORM, "regimes.default": "maybe", "regimes.regions": "UK: opt_in\nJP"},
    )
    assert refused.status_code == 400
    assert "must be one of opt_in, opt_out, notice" in field_error(refused.text, "regimes-default")
    regions = html.unescape(field_error(refused.text, "regimes-regions"))
    assert "UK: is not an ISO 3166-1 code: the United Kingdom is GB" in regions
    assert "JP: must be one of opt_in, opt_out, notice" in regions
    assert stored_regimes(db) is None  # nothing saved


def test_emptying_the_fields_removes_the_rules(admin_client, db, published):
    editor = admin_client("editor")
    editor.post("/admin/sites/shop", data={**SITE_FORM, "regimes.default": "notice"})
    assert stored_regimes(db) == {"default": "notice", "regions": {}}
    editor.post("/admin/sites/shop", data={**SITE_FORM, "regimes.default": ""})
    assert stored_regimes(db) is None
    assert "regimes" not in registry_store.get_site(db, "shop")


def test_the_site_form_speaks_japanese(admin_client, published):
    page = admin_client("editor").get("/admin/sites/shop", headers={"Accept-Language": "ja"}).text
    assert "地域別のルール" in page and "地域ごとのルール" in page


def test_admin_api_sets_and_refuses_regimes(client, auth, db, published):
    site = client.get("/api/v1/admin/sites/shop", headers=auth).json
    assert "regimes" not in site
    changed = client.patch(
        "/api/v1/admin/sites/shop",
        json={"regimes": {"default": "opt_out", "regions": {"JP": "notice", "EEA": "opt_in"}}},
        headers=auth,
    )
    assert changed.status_code == 200, changed.json
    assert changed.json["regimes"]["regions"] == {"EEA": "opt_in", "JP": "notice"}
    refused = client.patch(
        "/api/v1/admin/sites/shop",
        json={"regimes": {"regions": {"XX": "opt_in"}}},
        headers=auth,
    )
    assert refused.status_code == 400
    assert refused.json["error"]["code"] == "invalid"
    assert "regimes.regions.XX: is not an ISO 3166-1 alpha-2" in refused.json["error"]["message"]
    assert stored_regimes(db)["default"] == "opt_out"
    published = client.post("/api/v1/admin/sites/shop/publish", headers=auth).json
    assert published["changes"] == [{"change": "site_changed", "fields": ["regimes"]}]
    assert published["needs_decision"] is False
