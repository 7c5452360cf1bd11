"""The disclosure says which rule applies where, and, where a rule lets transmissions happen
until refused (opt-out, Japan's notice), how to stop each vendor's: the widget's switch and the
vendor's own opt-out. The page and the JSON, in Japanese and English, from the revision."""

from __future__ import annotations

import copy
import html
import re

import pytest

from server.privacy_center.disclosure import region_name
from server.revisions import public_config
from server.storage import registry as registry_store
from server.storage import revisions as revision_store

REGIMES = {
    "default": "opt_in",
    "regions": {"EU": "opt_in", "JP": "notice", "US": "opt_out", "US-CA": "opt_out"},
}


def _text(fragment: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", fragment))).strip()


def publish(db, doc, regimes=None, edit=None) -> int:
    doc = copy.deepcopy(doc)
    if regimes is not None:
        doc["sites"][0]["regimes"] = copy.deepcopy(regimes)
    if edit:
        edit(doc)
    registry_store.apply(db, doc, "test")
    revision, _ = revision_store.publish(db, "shop", "test")
    return revision["number"]


def page(client, lang, revision=None) -> str:
    query = f"lang={lang}" + (f"&revision={revision}" if revision else "")
    response = client.get(f"/sites/shop/disclosure?{query}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def region_rows(body: str) -> list[tuple[str, str, str]]:
    """(region key, regime, what the row says) of the rules-by-region table."""
    return [
        (region, regime, _text(row))
        for region, regime, row in re.findall(
            r'<tr data-region="([^"]*)" data-regime="([^"]+)">(.*?)</tr>', body, re.S
        )
    ]


def vendor_block(body: str, key: str) -> str:
    return re.search(rf'<article[^>]*data-vendor="{key}">(.*?)</article>', body, re.S).group(1)


def route(body: str, key: str) -> str | None:
    found = re.search(r'<dd class="opt-out-route">(.*?)</dd>', vendor_block(body, key), re.S)
    return _text(found.group(1)) if found else None


def test_a_site_without_regimes_reads_as_before(client, db, registry_doc):
    publish(db, registry_doc)
    doc = client.get("/api/v1/sites/shop/disclosure").get_json()
    assert doc["regimes"] == {"default": "opt_in", "regions": []}
    assert doc["opt_out"] is None
    body = page(client, "en")
    assert "Rules by region" not in body and "How to stop" not in body
    assert region_rows(body) == []
    analytics = vendor_block(body, "google-analytics")
    # The vendor's own opt-out stays where it was, and consent is asked first.
    assert "Opt out of Google Analytics</a>" in analytics
    assert "Consent needed (you can refuse, and withdraw it later)" in _text(analytics)
    assert "Sent only with your consent." in _text(body)


def test_the_page_says_which_rule_applies_where_in_english(client, db, registry_doc):
    publish(db, registry_doc, REGIMES)
    body = page(client, "en")
    assert region_rows(body) == [
        (
            "US-CA",
            "opt_out",
            "California, United States Opt-out Optional transmissions take place unless you "
            "refuse them; you can refuse at any time.",
        ),
        (
            "JP",
            "notice",
            "Japan Notice (Japan's rules on external transmission) The transmissions published "
            "on this page take place unless you refuse them; you can refuse at any time.",
        ),
        (
            "US",
            "opt_out",
            "United States Opt-out Optional transmissions take place unless you refuse them; "
            "you can refuse at any time.",
        ),
        (
            "EU",
            "opt_in",
            "EU (the 27 member states of the European Union) Opt-in (consent first) Nothing "
            "optional is sent until you agree.",
        ),
        (
            "",
            "opt_in",
            "Everywhere else Opt-in (consent first) Nothing optional is sent until you agree.",
        ),
    ]
    text = _text(body)
    assert "Where several rows match, the first one applies." in text
    assert "How to stop the transmissions (opt-out)" in text
    assert '"Reject all" stops every optional one' in text


def test_the_page_says_which_rule_applies_where_in_japanese(client, db, registry_doc):
    publish(db, registry_doc, REGIMES)
    body = page(client, "ja")
    rows = {region: text for region, _, text in region_rows(body)}
    assert rows["JP"] == (
        "日本 通知・公表（外部送信規律） このページで公表している送信を、拒否されない限り行います。"
        "いつでも拒否できます。"
    )
    assert rows["US-CA"].startswith("カリフォルニア（米国） 拒否の機会の提供（オプトアウト）")
    assert rows["EU"].startswith("EU（欧州連合の27か国） 事前の同意（オプトイン）")
    assert rows[""].startswith("その他の地域 事前の同意（オプトイン）")
    text = _text(body)
    assert "送信を停止する方法（オプトアウト）" in text
    assert route(body, "google-analytics") == (
        "サンプルショップの「Cookie設定」で「Google Analytics」をオフにする Google Analytics のオプトアウト"
    )


def test_each_vendor_has_its_opt_out_route(client, db, registry_doc):
    def necessary_video(doc):
        doc["sites"][0]["vendors"][0]["category"] = "necessary"

    publish(db, registry_doc, {"default": "notice"}, necessary_video)
    body = page(client, "en")
    assert region_rows(body) == [
        (
            "",
            "notice",
            "Everywhere Notice (Japan's rules on external transmission) The transmissions "
            "published on this page take place unless you refuse them; you can refuse at any "
            "time.",
        )
    ]
    assert route(body, "google-analytics") == (
        'Switch off "Google Analytics" in "Cookie settings" on Sample Shop Opt out of Google Analytics'
    )
    assert 'href="https://tools.google.com/dlpage/gaoptout"' in vendor_block(
        body, "google-analytics"
    )
    assert (
        route(body, "ad-network") == 'Switch off "Ad Network" in "Cookie settings" on Sample Shop'
    )
    assert route(body, "video") == (
        'Needed for the site to work: it cannot be switched off in "Cookie settings"'
    )
    # No region asks consent first: the optional categories say so.
    analytics = _text(vendor_block(body, "google-analytics"))
    assert "Consent not needed (you can refuse at any time)" in analytics
    assert "Sent unless you refuse. You can refuse at any time." in _text(body)
    assert "Sent only with your consent" not in _text(body)

    doc = client.get("/api/v1/sites/shop/disclosure").get_json()
    assert doc["regimes"] == {"default": "notice", "regions": []}
    assert doc["opt_out"] == {
        "regimes": ["notice"],
        "gpc_refuses": ["advertising"],
        "vendors": [
            {"vendor": "video", "category": "necessary", "switch": False, "opt_out_url": None},
            {
                "vendor": "google-analytics",
                "category": "analytics",
                "switch": True,
                "opt_out_url": "https://tools.google.com/dlpage/gaoptout",
            },
            {
                "vendor": "ad-network",
                "category": "advertising",
                "switch": True,
                "opt_out_url": None,
            },
        ],
    }


def test_the_json_carries_the_rules_and_still_equals_the_widgets_vendors(client, db, registry_doc):
    number = publish(db, registry_doc, REGIMES)
    doc = client.get("/api/v1/sites/shop/disclosure").get_json()
    assert doc["regimes"]["default"] == "opt_in"
    assert [(r["region"], r["regime"]) for r in doc["regimes"]["regions"]] == [
        ("US-CA", "opt_out"),
        ("JP", "notice"),
        ("US", "opt_out"),
        ("EU", "opt_in"),
    ]
    assert doc["regimes"]["regions"][1]["name"] == {"ja": "日本", "en": "Japan"}
    assert doc["opt_out"]["regimes"] == ["notice", "opt_out"]
    assert [v["vendor"] for v in doc["opt_out"]["vendors"]] == [v["key"] for v in doc["vendors"]]
    assert doc["vendors"] == public_config(revision_store.get(db, "shop", number))["vendors"]
    # Mixed rules: consent is needed where opt-in applies, and said so.
    body = _text(page(client, "en"))
    assert "Where the opt-in rule applies, sent only if you agree; elsewhere, sent unless you " in (
        body
    )


def test_an_earlier_revision_shows_the_rules_it_was_published_with(client, db, registry_doc):
    first = publish(db, registry_doc)
    second = publish(db, registry_doc, REGIMES)
    assert second == first + 1
    assert region_rows(page(client, "en", first)) == []
    assert len(region_rows(page(client, "en", second))) == 5
    old = client.get(f"/api/v1/sites/shop/disclosure?revision={first}").get_json()
    assert old["regimes"]["regions"] == [] and old["opt_out"] is None


def test_admin_typed_names_stay_text_in_the_opt_out_route(client, db, registry_doc):
    def hostile(doc):
        doc["vendors"][0]["name"] = '<img src=x onerror="alert(1)">GA'
        doc["sites"][0]["name"] = {"ja": "<b>店</b>", "en": "<b>Shop</b>"}

    publish(db, registry_doc, {"default": "notice"}, hostile)
    for lang in ("ja", "en"):
        body = page(client, lang)
        assert "<img src=x" not in body and "<b>" not in body
        assert "&lt;img src=x onerror=" in vendor_block(body, "google-analytics")


@pytest.mark.parametrize(
    "key, ja, en",
    [
        ("JP", "日本", "Japan"),
        ("DE", "ドイツ", "Germany"),
        ("US-CA", "カリフォルニア（米国）", "California, United States"),
        ("JP-13", "東京（日本）", "Tokyo, Japan"),
        ("EEA", "EEA（欧州経済領域：EUとアイスランド、リヒテンシュタイン、ノルウェー）", None),
    ],
)
def test_region_names_in_both_languages(key, ja, en):
    assert region_name(key, "ja") == ja
    if en:
        assert region_name(key, "en") == en


def test_the_opt_out_section_names_what_gpc_refuses_where_the_site_honours_it(
    client, db, registry_doc
):
    publish(db, registry_doc, {"default": "opt_out"})
    text = _text(page(client, "en"))
    assert (
        "If your browser sends a Global Privacy Control (GPC) signal, Sample Shop takes it as a "
        "refusal of: Advertising." in text
    )
    assert "次のカテゴリの拒否として扱います：広告。" in _text(page(client, "ja"))

    def no_gpc(doc):
        doc["sites"][0]["honor_gpc"] = False

    publish(db, registry_doc, {"default": "opt_out"}, no_gpc)
    assert "Global Privacy Control" not in page(client, "en")
    assert client.get("/api/v1/sites/shop/disclosure").get_json()["opt_out"]["gpc_refuses"] == []
