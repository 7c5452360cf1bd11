"""Validation of registry documents: every problem reported with its path."""

import pytest

from server.registry import RegistryError, normalize


def problems(doc):
    with pytest.raises(RegistryError) as info:
        normalize(doc)
    return info.value.problems


def test_valid_registry_is_normalised(registry_doc):
    doc = normalize(registry_doc)
    site = doc["sites"][0]
    assert site["origins"] == ["https://shop.example.co.jp"]
    analytics = next(c for c in site["categories"] if c["key"] == "analytics")
    assert analytics["google_consent_types"] == ["analytics_storage"]
    advertising = next(c for c in site["categories"] if c["key"] == "advertising")
    assert advertising["gpc_refuses"] is True
    assert normalize(doc) == doc  # normalising twice changes nothing


def test_missing_language_is_reported_with_its_path(registry_doc):
    del registry_doc["sites"][0]["categories"][2]["name"]["en"]
    del registry_doc["vendors"][0]["purpose"]["ja"]
    assert problems(registry_doc) == [
        "vendors[0].purpose.ja: missing",
        "sites[0].categories[2].name.en: missing",
    ]


def test_every_problem_is_listed(registry_doc):
    registry_doc["vendors"][1]["key"] = "Bad Key"
    registry_doc["vendors"][1]["privacy_policy_url"] = "ftp://ads.example"
    registry_doc["sites"][0]["origins"] = ["https://shop.example.co.jp/path", "shop.example"]
    registry_doc["sites"][0]["categories"][0]["required"] = "yes"
    found = problems(registry_doc)
    assert "vendors[1].key: must match ^[a-z0-9-]{2,64}$" in found
    assert "vendors[1].privacy_policy_url: must be an http(s) URL" in found
    assert any(p.startswith("sites[0].origins[0]: must be an origin") for p in found)
    assert any(p.startswith("sites[0].origins[1]: must be an origin") for p in found)
    assert "sites[0].categories[0].required: must be true or false" in found
    # the assignment now names a vendor key that no longer exists
    assert "sites[0].vendors[2].vendor: no vendor 'ad-network' in the catalog" in found


def test_vendor_assigned_twice_and_unknown_category(registry_doc):
    site = registry_doc["sites"][0]
    site["vendors"].append({"vendor": "video", "category": "analytics"})
    site["vendors"].append({"vendor": "google-analytics", "category": "marketing"})
    found = problems(registry_doc)
    assert "sites[0].vendors[3].vendor: vendor 'video' is assigned twice to this site" in found
    assert "sites[0].vendors[4].category: no category 'marketing' in this site" in found


def test_origins_are_canonical(registry_doc):
    registry_doc["sites"][0]["origins"] = [
        "HTTPS://Shop.Example.co.jp:443",
        "http://127.0.0.1:8000",
    ]
    site = normalize(registry_doc)["sites"][0]
    assert site["origins"] == ["https://shop.example.co.jp", "http://127.0.0.1:8000"]


def test_texts_must_be_per_language(registry_doc):
    registry_doc["sites"][0]["name"] = "Sample Shop"
    registry_doc["sites"][0]["languages"] = ["ja", "fr"]
    found = problems(registry_doc)
    assert "sites[0].name: must be given per language, e.g. {ja: ..., en: ...}" in found
    assert "sites[0].languages[1]: unknown language (one of ja, en)" in found


def test_only_the_sites_languages_are_required(registry_doc):
    registry_doc["sites"][0]["languages"] = ["ja"]
    for vendor in registry_doc["vendors"]:
        vendor["purpose"].pop("en")
    normalize(registry_doc)


def test_required_category_cannot_be_refused_by_gpc(registry_doc):
    registry_doc["sites"][0]["categories"][0]["gpc_refuses"] = True
    assert (
        "sites[0].categories[0].gpc_refuses: a required category cannot be refused by GPC"
        in problems(registry_doc)
    )


def test_unknown_fields_are_refused(registry_doc):
    registry_doc["vendors"][0]["purpose_text"] = "x"
    assert problems(registry_doc) == ["vendors[0].purpose_text: unknown field"]


def test_not_a_mapping():
    assert problems(["a"]) == ["(file): must be a mapping"]


def test_urls_with_impossible_ports_and_broken_text_are_problems(registry_doc):
    registry_doc["vendors"][0]["privacy_policy_url"] = "https://[::1"
    registry_doc["vendors"][1]["opt_out_url"] = "https://ads.example:99999/"
    registry_doc["vendors"][2]["name"] = "Video \ud800"
    found = problems(registry_doc)
    assert "vendors[0].privacy_policy_url: must be an http(s) URL" in found
    assert "vendors[1].opt_out_url: must be an http(s) URL" in found
    assert "vendors[2].name: contains characters that are not valid text" in found


def test_international_domains_are_stored_as_browsers_send_them(registry_doc):
    registry_doc["sites"][0]["origins"] = ["https://ショップ.example.jp", "http://[::1]:8000"]
    site = normalize(registry_doc)["sites"][0]
    assert site["origins"] == ["https://xn--xckya1d0c.example.jp", "http://[::1]:8000"]


@pytest.mark.parametrize("value", [True, 7, "google-analytics", {"vendor": "video"}])
def test_site_vendors_that_are_not_a_list_are_a_problem_not_a_crash(registry_doc, value):
    # Found by the schemathesis run: `"vendors": true` raised TypeError (a 500 in the admin API).
    registry_doc["sites"][0]["vendors"] = value
    assert problems(registry_doc) == ["sites[0].vendors: must be a list"]
