"""The scanner's decisions, from recorded observations to findings, without a browser."""

from __future__ import annotations

import pytest

from server.scanner import rules

ORIGIN = "https://shop.example.co.jp"
PAGE = ORIGIN + "/"


def content(regime=None, regions=None):
    """A revision's content; `regime` its default regime, `regions` its per-region rules."""
    site = {"key": "shop", "origins": [ORIGIN], "languages": ["ja", "en"], "default_language": "ja"}
    if regime or regions:
        site["regimes"] = {"default": regime or "opt_in", "regions": regions or {}}
    return {
        "site": site,
        "categories": [
            {"key": "necessary", "required": True},
            {"key": "analytics", "required": False},
        ],
        "vendors": [
            {
                "key": "cdn",
                "category": "necessary",
                "hosts": ["cdn.example.net"],
                "cookies": [],
            },
            {
                "key": "ga",
                "category": "analytics",
                "hosts": ["*.google-analytics.com", "www.googletagmanager.com"],
                "cookies": [{"name": "_ga"}, {"name": "_ga_*"}],
            },
            {"key": "quiet", "category": "analytics", "hosts": [], "cookies": []},
        ],
    }


def obs(pass_, hosts=(), cookies=(), server=("privacy.example.co.jp",)):
    return {
        "page": PAGE,
        "pass": pass_,
        "hosts": {h: f"https://{h}/x.js" for h in hosts},
        "cookies": [{"name": c, "domain": ".shop.example.co.jp"} for c in cookies],
        "server_hosts": list(server),
    }


def kinds(found, informational=False):
    return [
        (f["kind"], f["pass"], f.get("host") or f.get("cookie") or f.get("vendor"))
        for f in found
        if informational or f["kind"] != "not_seen"
    ]


@pytest.mark.parametrize(
    "host, pattern, expected",
    [
        ("www.google-analytics.com", "*.google-analytics.com", True),
        ("a.b.google-analytics.com", "*.google-analytics.com", True),
        ("google-analytics.com", "*.google-analytics.com", False),
        ("evilgoogle-analytics.com", "*.google-analytics.com", False),
        ("www.googletagmanager.com", "www.googletagmanager.com", True),
        ("WWW.GoogleTagManager.com", "www.googletagmanager.com", True),
        ("x.www.googletagmanager.com", "www.googletagmanager.com", False),
    ],
)
def test_vendor_hosts_match_exactly_or_by_wildcard_domain(host, pattern, expected):
    assert rules.host_matches(host, pattern) is expected


def test_the_port_is_ignored_when_matching_hosts():
    assert rules.host_of("http://127.0.0.3:8123/tag.js") == "127.0.0.3"
    assert rules.vendor_for_host("cdn.example.net", content()["vendors"])["key"] == "cdn"


@pytest.mark.parametrize(
    "name, pattern, expected",
    [
        ("_ga", "_ga", True),
        ("_ga_ABC", "_ga_*", True),
        ("_gat", "_ga", False),
        ("_g", "_ga_*", False),
    ],
)
def test_declared_cookie_names_may_end_in_a_star(name, pattern, expected):
    assert rules.cookie_matches(name, pattern) is expected


def test_a_clean_scan_has_no_findings():
    found = rules.findings(
        content(),
        [
            obs("no_decision", ["cdn.example.net", "privacy.example.co.jp", "shop.example.co.jp"]),
            obs("reject_all", ["cdn.example.net"], ["pc_consent"]),
            obs("accept_all", ["www.google-analytics.com"], ["_ga", "_ga_XYZ", "pc_consent"]),
        ],
    )
    assert found == []


def test_an_unheld_tag_is_a_leak_before_the_decision_and_after_refusal():
    found = rules.findings(
        content(),
        [
            obs("no_decision", ["www.google-analytics.com"], ["_ga"]),
            obs("reject_all", ["www.google-analytics.com"]),
            obs("accept_all", ["www.google-analytics.com"]),
        ],
    )
    assert kinds(found) == [
        ("before_decision", "no_decision", "www.google-analytics.com"),
        ("before_decision", "no_decision", "_ga"),
        ("after_refusal", "reject_all", "www.google-analytics.com"),
    ]
    assert found[0]["vendor"] == "ga" and found[0]["category"] == "analytics"
    assert found[0]["page"] == PAGE
    assert rules.exit_status(found, "leaks") == 1


def test_a_required_vendor_may_run_before_any_decision():
    found = rules.findings(content(), [obs("no_decision", ["cdn.example.net"])])
    assert [f["kind"] for f in found] == ["not_seen"]  # only ga, never contacted


def test_an_opt_out_or_notice_regime_expects_tags_before_a_decision():
    seen = [obs("no_decision", ["www.google-analytics.com"]), obs("reject_all")]
    assert kinds(rules.findings(content("opt_out"), seen)) == []
    assert kinds(rules.findings(content("notice"), seen)) == []
    assert [k for k, _, _ in kinds(rules.findings(content("opt_in"), seen))] == ["before_decision"]


def test_a_scan_with_a_region_uses_that_regions_regime_and_without_one_the_default():
    """A site that is opt-in by default and a notice in Japan: a tag before the decision is a
    leak for a visitor from nowhere in particular, and expected for one from Japan."""
    site = content(regions={"JP": "notice", "US-CA": "opt_out", "EU": "opt_in"})
    seen = [
        obs("no_decision", ["www.google-analytics.com"]),
        obs("reject_all", ["www.google-analytics.com"]),
    ]
    assert rules.scan_regime(site, None) == "opt_in"
    assert rules.scan_regime(site, "JP") == "notice"
    assert rules.scan_regime(site, "US-CA") == "opt_out"
    assert rules.scan_regime(site, "US-TX") == "opt_in"
    assert rules.scan_regime(site, "DE") == "opt_in"
    everywhere = [k for k, _, _ in kinds(rules.findings(site, seen))]
    assert everywhere == ["before_decision", "after_refusal"]
    japan = rules.findings(site, seen, regime=rules.scan_regime(site, "JP"))
    # A refusal binds in every regime: what still runs after Reject all stays a leak.
    assert kinds(japan) == [("after_refusal", "reject_all", "www.google-analytics.com")]
    assert rules.exit_status(japan, "leaks") == 1
    # A site whose default is a notice: no region needed for tags to be expected.
    assert [k for k, _, _ in kinds(rules.findings(content("notice"), seen))] == ["after_refusal"]


@pytest.mark.parametrize(
    "given, region",
    [("JP", "JP"), ("jp", "JP"), (" us-ca ", "US-CA"), ("JP-13", "JP-13"), ("GB", "GB")],
)
def test_a_scan_region_is_a_country_or_a_subdivision(given, region):
    assert rules.scan_region(given) == region


@pytest.mark.parametrize(
    "given, message",
    [
        ("EU", "EU is a group, not a visitor's region: name one of its countries (AT, BE, …)"),
        ("EEA", "EEA is a group"),
        ("XX", "'XX' is not an ISO 3166-1 alpha-2 country code"),
        ("UK", "the United Kingdom is GB"),
        ("US-ZZ", "'US-ZZ' is not an ISO 3166-2 subdivision code"),
        ("Japan", "must be a country (JP), a subdivision (US-CA, ISO 3166-2)"),
        ("", "must be a country"),
    ],
)
def test_anything_else_is_refused_with_a_reason(given, message):
    with pytest.raises(ValueError) as refused:
        rules.scan_region(given)
    assert message in str(refused.value)


def test_the_region_goes_in_the_headers_the_deployment_names():
    names = ("CF-IPCountry", "CF-Region-Code")
    assert rules.region_headers("JP", names) == {"CF-IPCountry": "JP"}
    assert rules.region_headers("US-CA", names) == {"CF-IPCountry": "US", "CF-Region-Code": "CA"}
    assert rules.region_headers("JP", ("CloudFront-Viewer-Country", None)) == {
        "CloudFront-Viewer-Country": "JP"
    }
    with pytest.raises(ValueError, match="needs PRIVACY_CENTER_REGION_HEADER"):
        rules.region_headers("JP", (None, None))
    with pytest.raises(ValueError, match="subdivision and needs PRIVACY_CENTER_SUBDIVISION_HEADER"):
        rules.region_headers("US-CA", ("CF-IPCountry", None))


def test_the_headers_read_back_as_the_same_region_on_the_server():
    """What the scan sends is what server/regions.py makes of it: the same region."""
    from server import regions

    for region in ("JP", "US-CA", "JP-13", "DE"):
        headers = rules.region_headers(region, ("C", "S"))
        assert regions.parse_region(headers["C"], headers.get("S")) == region


def test_an_unnamed_host_is_undisclosed_once_with_the_catalog_vendor_behind_it():
    catalog = {"static.hotjar.com": {"key": "hotjar", "name": "Hotjar"}}
    found = rules.findings(
        content(),
        [
            obs("no_decision"),
            obs("reject_all"),
            obs("accept_all", ["static.hotjar.com", "www.google-analytics.com", "x.example"]),
            {**obs("accept_all", ["static.hotjar.com"]), "page": ORIGIN + "/2"},
        ],
        catalog=catalog.get,
    )
    assert kinds(found) == [
        ("undisclosed_host", "accept_all", "static.hotjar.com"),
        ("undisclosed_host", "accept_all", "x.example"),
    ]
    assert found[0]["catalog_vendor"] == {"key": "hotjar", "name": "Hotjar"}
    assert "catalog_vendor" not in found[1]
    assert rules.exit_status(found, "leaks") == 1


def test_the_privacy_center_and_the_sites_own_origins_are_not_third_parties():
    urls = ["https://privacy.example.co.jp/w/shop.js", "https://cdn.example.net/w/x.css"]
    assert rules.server_hosts(urls) == {"privacy.example.co.jp"}
    found = rules.findings(
        content(),
        [obs("no_decision", ["privacy.example.co.jp", "shop.example.co.jp"])],
    )
    assert kinds(found) == []


def test_an_undeclared_cookie_is_reported_but_is_no_leak():
    found = rules.findings(
        content(),
        [obs("accept_all", ["www.google-analytics.com"], ["_ga", "_mystery", "pc_consent"])],
    )
    assert kinds(found) == [("undisclosed_cookie", "accept_all", "_mystery")]
    assert rules.exit_status(found, "leaks") == 0
    assert rules.exit_status(found, "any") == 1
    assert rules.exit_status(found, "none") == 0


def test_a_disclosed_vendor_never_contacted_is_not_seen_and_only_informational():
    found = rules.findings(content(), [obs("accept_all", ["cdn.example.net"])])
    assert kinds(found, informational=True) == [("not_seen", "accept_all", "ga")]
    assert found[0]["page"] is None
    # `quiet` declares neither hosts nor cookies: nothing on the wire can show it.
    assert rules.exit_status(found, "any") == 0


def test_start_urls_must_be_on_the_sites_origins():
    origins = [ORIGIN, "http://127.0.0.2:8080"]
    assert rules.check_urls([], origins) == [ORIGIN + "/", "http://127.0.0.2:8080/"]
    assert rules.check_urls(["https://SHOP.example.co.jp:443/a?b=1"], origins) == [
        "https://SHOP.example.co.jp:443/a?b=1"
    ]
    for url in ("http://shop.example.co.jp/", "https://evil.example/", "http://127.0.0.2/"):
        with pytest.raises(rules.OutsideSite, match="not on one of the site's origins"):
            rules.check_urls([url], origins)
    with pytest.raises(rules.OutsideSite, match="not an http or https URL"):
        rules.check_urls(["javascript:alert(1)"], origins)


def test_links_followed_are_same_origin_pages_without_fragments():
    links = rules.same_origin_links(
        PAGE,
        [
            ORIGIN + "/a#top",
            ORIGIN + "/a",
            ORIGIN + "/file.pdf",
            "https://other.example/",
            "mailto:x@example.com",
            ORIGIN + "/b?x=1",
        ],
    )
    assert links == [ORIGIN + "/a", ORIGIN + "/b?x=1"]
