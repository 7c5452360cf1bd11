"""The scanner's decisions, from recorded observations to findings, without a browser."""

from __future__ import annotations

import pytest

from server.scanner import rules

ORIGIN = "https://shop.example.co.jp"
PAGE = ORIGIN + "/"


def content(regime=None):
    site = {"key": "shop", "origins": [ORIGIN], "languages": ["ja", "en"], "default_language": "ja"}
    if regime:
        site["regime"] = regime
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
