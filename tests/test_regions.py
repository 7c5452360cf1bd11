"""Regional rules: region headers parsed, the regime chosen, and `regimes` in the registry."""

import json

import pytest
import yaml
from test_cli import run, write

from server import create_app, regions
from server.cli import main
from server.registry import RegistryError, normalize
from server.revisions import compile_site, content_hash, diff, needs_decision
from server.storage import registry as registry_store
from server.storage import revisions as revision_store
from support import CDN_HEADERS

REGIMES = {
    "default": "opt_in",
    "regions": {"JP": "notice", "US-CA": "opt_out", "US": "opt_out", "EU": "opt_in"},
}
# The content hash of the test registry's 'shop' revision as published before regimes
# existed: a site without regimes must publish exactly that (no pending change on upgrade).
SHOP_HASH_BEFORE_REGIMES = "301aa2ac547523b425a9a0128080540bdce2983506e1b5c904b1b79fd6156bfc"


def problems(doc):
    with pytest.raises(RegistryError) as info:
        normalize(doc)
    return info.value.problems


@pytest.mark.parametrize(
    ("country", "subdivision", "region"),
    [
        ("JP", None, "JP"),
        ("jp", "", "JP"),
        (" de ", None, "DE"),
        ("US", "CA", "US-CA"),
        ("US", "us-ca", "US-CA"),
        ("US", "GB-ENG", "US"),  # another country's subdivision: the country alone
        ("US", "toolong", "US"),
        ("US", "ZZ", "US"),  # the shape of a subdivision, but none of the US's
        ("JP", "13", "JP-13"),
        ("XX", None, None),  # Cloudflare: unknown
        ("T1", None, None),  # Cloudflare: Tor
        ("ZZ", "CA", None),
        ("EU", None, None),  # a group, not a country
        ("JPN", None, None),
        ("", "CA", None),
        (None, None, None),
    ],
)
def test_parse_region(country, subdivision, region):
    assert regions.parse_region(country, subdivision) == region


@pytest.mark.parametrize(
    ("region", "regime"),
    [
        ("US-CA", "opt_out"),  # the subdivision itself
        ("US-NY", "notice"),  # no rule for New York: the country's
        ("US", "notice"),
        ("JP", "opt_in"),
        ("DE", "opt_in"),  # an EU member: EU before EEA
        ("NO", "notice"),  # EEA, not EU
        ("BR", "opt_out"),  # nothing matches: the default
        (None, "opt_out"),  # region unknown: the default
    ],
)
def test_most_specific_rule_wins(region, regime):
    rules = {
        "default": "opt_out",
        "regions": {"US-CA": "opt_out", "US": "notice", "JP": "opt_in", "EU": "opt_in"}
        | {"EEA": "notice"},
    }
    assert regions.regime_for(rules, region) == regime


def test_a_site_without_regimes_is_opt_in_everywhere():
    assert regions.regime_for(None, "JP") == "opt_in"
    assert regions.regime_for(None, None) == "opt_in"


def test_groups_are_the_eu_and_the_eea():
    assert len(regions.GROUPS["EU"]) == 27 and "GB" not in regions.GROUPS["EU"]
    assert regions.GROUPS["EEA"] - regions.GROUPS["EU"] == {"IS", "LI", "NO"}
    assert all(regions.is_country(code) for code in regions.GROUPS["EEA"])


def test_request_region_reads_only_the_configured_headers(db_path, db):
    plain = create_app({"DATABASE": db_path, "SECRET_KEY": "k", "REGION_HEADER": None})
    with plain.test_request_context(headers={"CF-IPCountry": "JP"}):
        assert regions.request_region() is None  # nothing configured: nothing read
        assert regions.vary_headers() == []
    app = create_app({"DATABASE": db_path, "SECRET_KEY": "k", **CDN_HEADERS})
    with app.test_request_context(headers={"CF-IPCountry": "US", "CF-Region-Code": "CA"}):
        assert regions.request_region() == "US-CA"
        assert regions.vary_headers() == ["CF-IPCountry", "CF-Region-Code"]
    with app.test_request_context(headers={"CF-IPCountry": "XX"}):
        assert regions.request_region() is None
    with app.test_request_context(headers={"Accept-Language": "ja"}):
        assert regions.request_region() is None  # no guess from the language


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"REGION_HEADER": "CF_IPCountry"}, "letters, digits and '-' only"),
        ({"SUBDIVISION_HEADER": "CF-Region-Code"}, "needs PRIVACY_CENTER_REGION_HEADER"),
    ],
)
def test_a_wrong_header_setting_stops_the_app(db_path, db, config, message):
    with pytest.raises(ValueError, match=message):
        create_app({"DATABASE": db_path, "SECRET_KEY": "k", "REGION_HEADER": None, **config})


def test_serve_refuses_a_wrong_header_setting_in_one_line(db_path, monkeypatch):
    from click.testing import CliRunner

    monkeypatch.setenv("PRIVACY_CENTER_REGION_HEADER", "CF_IPCountry")
    result = CliRunner().invoke(main, ["--database", db_path, "serve"])
    assert result.exit_code != 0
    assert "PRIVACY_CENTER_REGION_HEADER='CF_IPCountry' is not a header name" in result.output


def test_regimes_are_normalised(registry_doc):
    registry_doc["sites"][0]["regimes"] = {
        "default": "opt_out",
        "regions": {"jp": "notice", "US-CA": "opt_out", "EU": "opt_in"},
    }
    site = normalize(registry_doc)["sites"][0]
    assert site["regimes"] == {
        "default": "opt_out",
        "regions": {"EU": "opt_in", "JP": "notice", "US-CA": "opt_out"},
    }
    registry_doc["sites"][0]["regimes"] = {"regions": {"JP": "notice"}}
    assert normalize(registry_doc)["sites"][0]["regimes"]["default"] == "opt_in"


def test_bad_regimes_are_reported_with_their_paths(registry_doc):
    registry_doc["sites"][0]["regimes"] = {
        "default": "consent",
        "regions": {
            "UK": "opt_in",
            "QQ": "opt_in",
            "US-C_A": "opt_out",
            "ZZ-CA": "opt_out",
            "US-ZZ": "opt_out",
            "JP": "notify",
            "EEA": "opt_in",
            "eea": "opt_out",
            False: "opt_in",
        },
        "regime": "x",
    }
    found = problems(registry_doc)
    assert found == [
        "sites[0].regimes.regime: unknown field",
        "sites[0].regimes.default: must be one of opt_in, opt_out, notice",
        "sites[0].regimes.regions.UK: is not an ISO 3166-1 code: the United Kingdom is GB",
        "sites[0].regimes.regions.QQ: is not an ISO 3166-1 alpha-2 country code",
        "sites[0].regimes.regions.US-C_A: must be a country (JP), a subdivision (US-CA, "
        "ISO 3166-2) or a group (EU, EEA)",
        "sites[0].regimes.regions.ZZ-CA: ZZ is not an ISO 3166-1 alpha-2 country code",
        "sites[0].regimes.regions.US-ZZ: is not an ISO 3166-2 subdivision code",
        "sites[0].regimes.regions.JP: must be one of opt_in, opt_out, notice",
        "sites[0].regimes.regions.eea: region EEA listed twice",
        'sites[0].regimes.regions.False: Norway must be quoted in YAML ("NO"): unquoted, NO '
        "reads as false",
    ]
    registry_doc["sites"][0]["regimes"] = ["opt_in"]
    assert problems(registry_doc) == ["sites[0].regimes: must be a mapping"]


def test_a_site_without_regimes_keeps_its_document_and_revision(db, registry_doc):
    site = normalize(registry_doc)["sites"][0]
    assert "regimes" not in site
    registry_store.apply(db, registry_doc, "test")
    stored = db.execute("SELECT doc FROM sites WHERE key = 'shop'").fetchone()[0]
    assert "regimes" not in json.loads(stored)
    revision, _ = revision_store.publish(db, "shop", "test")
    assert "regimes" not in revision["content"]["site"]
    assert revision["content_hash"] == SHOP_HASH_BEFORE_REGIMES


def test_a_regime_change_is_published_without_asking_again(db, registry_doc):
    registry_store.apply(db, registry_doc, "test")
    first, _ = revision_store.publish(db, "shop", "test")
    registry_doc["sites"][0]["regimes"] = REGIMES
    registry_store.apply(db, registry_doc, "test")
    second, created = revision_store.publish(db, "shop", "test")
    assert created and second["number"] == 2
    assert second["content"]["site"]["regimes"]["regions"]["JP"] == "notice"
    assert second["changes"] == [{"change": "site_changed", "fields": ["regimes"]}]
    assert second["consent_revision"] == first["consent_revision"] == 1
    changes = diff(first["content"], second["content"], values=True)
    assert changes[0]["old"]["regimes"] is None
    assert changes[0]["new"]["regimes"]["default"] == "opt_in"
    assert not needs_decision(changes)


def test_regimes_are_part_of_the_revision_content(registry_doc):
    doc = normalize(registry_doc)
    vendors = {v["key"]: v for v in doc["vendors"]}
    before = compile_site(doc["sites"][0], doc.get("organization"), vendors)
    registry_doc["sites"][0]["regimes"] = REGIMES
    doc = normalize(registry_doc)
    after = compile_site(doc["sites"][0], doc.get("organization"), vendors)
    assert content_hash(before) != content_hash(after)


def test_export_and_apply_round_trip_regimes(tmp_path, db_path, registry_doc):
    registry_doc["sites"][0]["regimes"] = {
        "default": "opt_in",
        "regions": {"JP": "notice", "NO": "opt_out", "US-CA": "opt_out"},
    }
    assert run(db_path, "registry", "apply", write(tmp_path, "r.yaml", registry_doc)).exit_code == 0
    exported = run(db_path, "registry", "export").output
    assert "'NO': opt_out" in exported  # quoted: unquoted, YAML reads Norway as false
    site = yaml.safe_load(exported)["sites"][0]
    assert site["regimes"] == registry_doc["sites"][0]["regimes"]
    again = write(tmp_path, "exported.yaml", yaml.safe_load(exported))
    assert "no changes" in run(db_path, "registry", "apply", again).output
    as_json = run(db_path, "registry", "export", "--format", "json").output
    assert json.loads(as_json)["sites"][0]["regimes"] == site["regimes"]


def test_apply_reports_a_bad_region_in_one_line(tmp_path, db_path, registry_doc):
    from click.testing import CliRunner

    registry_doc["sites"][0]["regimes"] = {"regions": {"UK": "opt_in"}}
    path = write(tmp_path, "r.yaml", registry_doc)
    result = CliRunner().invoke(main, ["--database", db_path, "registry", "apply", path])
    assert result.exit_code != 0
    assert "sites[0].regimes.regions.UK: is not an ISO 3166-1 code" in result.output
