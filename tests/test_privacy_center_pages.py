"""The privacy center's pages: content in both languages, language choice, headers, 404s, XSS."""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser

import pytest

from server.i18n import pick
from server.storage import registry as registry_store
from server.storage import revisions as revision_store
from support import fetch_text

SECTIONS = [
    {
        "key": "about",
        "title": {"ja": "このページについて", "en": "About this page"},
        "body": {"ja": "**外部送信**の公表です。", "en": "We publish **external transmissions**."},
    },
]


@pytest.fixture
def full_doc(registry_doc):
    """The test registry with a vendor in every category, the necessary one included."""
    registry_doc["organization"]["sections"] = SECTIONS
    registry_doc["vendors"].append(
        {
            "key": "cdn",
            "name": "Edge CDN",
            "recipient": "CDN K.K.",
            "country": "JP",
            "privacy_policy_url": "https://cdn.example/privacy",
            "hosts": ["static.cdn.example"],
            "cookies": [{"name": "__cf_bm", "duration_days": 0}],
            "data_sent": {"ja": "IPアドレス", "en": "IP address"},
            "purpose": {"ja": "不正アクセスの防止", "en": "Blocking abuse"},
        }
    )
    registry_doc["sites"][0]["vendors"].insert(0, {"vendor": "cdn", "category": "necessary"})
    return registry_doc


@pytest.fixture
def site(db, full_doc):
    registry_store.apply(db, full_doc, "test")
    revision, _ = revision_store.publish(db, "shop", "test")
    return revision


def text_of(response) -> str:
    """The page's text as a reader sees it: tags dropped, entities decoded, spaces collapsed."""
    body = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return re.sub(r"\s+", " ", html.unescape(body))


def test_language_choice():
    assert pick("en", [("ja", 1)]) == "en"
    assert pick("xx", [("en-US", 1), ("ja", 0.5)]) == "en"
    assert pick(None, [("fr", 1), ("ja-JP", 0.8)]) == "ja"
    assert pick(None, []) == "ja"


def test_front_page_lists_sections_and_sites(client, site):
    page = client.get("/?lang=en")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert '<html lang="en">' in body
    assert "Sample Inc. Privacy Center" in text_of(page)
    assert "<strong>external transmissions</strong>" in body
    assert 'href="/sites/shop/disclosure?lang=en"' in body
    assert "What Sample Shop sends to other companies" in text_of(page)
    ja = client.get("/", headers={"Accept-Language": "ja,en;q=0.5"})
    assert '<html lang="ja">' in ja.get_data(as_text=True)
    assert "<strong>外部送信</strong>" in ja.get_data(as_text=True)
    assert "サンプルショップの外部送信について" in text_of(ja)


def test_accept_language_then_query(client, site):
    assert '<html lang="en">' in client.get(
        "/sites/shop/disclosure", headers={"Accept-Language": "en-GB,en;q=0.9"}
    ).get_data(as_text=True)
    assert '<html lang="ja">' in client.get(
        "/sites/shop/disclosure?lang=ja", headers={"Accept-Language": "en-GB"}
    ).get_data(as_text=True)


def test_language_switch_keeps_the_revision(client, site, db, full_doc):
    full_doc["vendors"][0]["purpose"]["en"] = "Measuring visits"
    full_doc["vendors"][0]["purpose"]["ja"] = "訪問の計測"
    registry_store.apply(db, full_doc, "test")
    revision_store.publish(db, "shop", "test")
    body = client.get("/sites/shop/disclosure?revision=1&lang=en").get_data(as_text=True)
    assert 'href="/sites/shop/disclosure?revision=1&amp;lang=ja"' in body


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_disclosure_has_every_required_item(client, site, full_doc, lang):
    page = client.get(f"/sites/shop/disclosure?lang={lang}")
    assert page.status_code == 200
    text = text_of(page)
    labels = {
        "ja": [
            "送信先の名称",
            "送信される情報の内容",
            "利用目的",
            "オプトアウト",
            "プライバシーポリシー",
            "読み込み元のホスト",
            "Cookie",
            "第1版",
            "Cookie設定",
            "改定履歴",
        ],
        "en": [
            "Recipient",
            "Information sent",
            "Purpose",
            "Opt-out",
            "Privacy policy",
            "Loaded from",
            "Cookies",
            "Revision 1",
            "Cookie settings",
            "Revision history",
        ],
    }[lang]
    for label in labels:
        assert label in text, label
    vendors = {v["key"]: v for v in full_doc["vendors"]}
    body = page.get_data(as_text=True)
    for assignment in full_doc["sites"][0]["vendors"]:
        vendor = vendors[assignment["vendor"]]
        block = re.search(
            rf'<article[^>]*data-vendor="{vendor["key"]}">(.*?)</article>', body, re.S
        )
        assert block, vendor["key"]
        # Host names are marked up to wrap only at their dots: read them as one word.
        inline = re.sub(r'<wbr>|<span class="nobr">|</span>', "", block.group(1))
        block_text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", inline)))
        for expected in (
            vendor["name"],
            vendor["recipient"],
            vendor["data_sent"][lang],
            vendor["purpose"][lang],
            *vendor.get("hosts", []),
        ):
            assert expected in block_text, (vendor["key"], expected)
        assert f'href="{vendor["privacy_policy_url"]}"' in block.group(1)
        if vendor.get("opt_out_url"):
            assert f'href="{vendor["opt_out_url"]}"' in block.group(1)
        for cookie in vendor.get("cookies", []):
            assert cookie["name"] in block_text
    # Consent: needed for optional categories, not for the necessary one.
    cdn = re.search(r'data-vendor="cdn">(.*?)</article>', body, re.S).group(1)
    ga = re.search(r'data-vendor="google-analytics">(.*?)</article>', body, re.S).group(1)
    assert ("不要" if lang == "ja" else "not needed") in cdn
    assert ("必要" if lang == "ja" else "needed (you can refuse") in ga
    assert ("400日" if lang == "ja" else "400 days") in ga
    assert ("ブラウザを閉じるまで" if lang == "ja" else "until the browser closes") in cdn


def test_vendors_are_grouped_by_category(client, site):
    body = client.get("/sites/shop/disclosure?lang=en").get_data(as_text=True)
    sections = dict(
        re.findall(
            r'<section class="category"[^>]*data-category="([^"]+)">(.*?)</section>', body, re.S
        )
    )
    assert list(sections) == ["necessary", "functional", "analytics", "advertising"]
    assert re.findall(r'data-vendor="([^"]+)"', sections["necessary"]) == ["cdn"]
    assert re.findall(r'data-vendor="([^"]+)"', sections["functional"]) == ["video"]
    assert re.findall(r'data-vendor="([^"]+)"', sections["analytics"]) == ["google-analytics"]
    assert re.findall(r'data-vendor="([^"]+)"', sections["advertising"]) == ["ad-network"]


@pytest.mark.parametrize(
    "path",
    ["/", "/sites/shop/disclosure", "/consents/abcdefghijklmnop1234", "/sites/nope/disclosure"],
)
def test_security_headers(client, site, path):
    response = client.get(path)
    csp = response.headers["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]+)", csp).group(1)
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert "object-src 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "<script>" not in response.get_data(as_text=True)


@pytest.mark.parametrize("lang,title", [("ja", "ページが見つかりません"), ("en", "Page not found")])
@pytest.mark.parametrize(
    "path",
    [
        "/sites/nope/disclosure",
        "/sites/shop/disclosure?revision=9",
        "/sites/shop/disclosure?revision=abc",
        "/sites/shop/disclosure?revision=0",
        "/consents/bad!id",
    ],
)
def test_unknown_site_or_revision_is_a_404_in_the_visitors_language(
    client, site, path, lang, title
):
    sep = "&" if "?" in path else "?"
    response = client.get(f"{path}{sep}lang={lang}")
    assert response.status_code == 404
    assert title in response.get_data(as_text=True)
    assert f'<html lang="{lang}">' in response.get_data(as_text=True)


def test_unpublished_site_is_a_404(client, db, registry_doc):
    registry_store.apply(db, registry_doc, "test")
    assert client.get("/sites/shop/disclosure").status_code == 404
    response = client.get("/api/v1/sites/shop/disclosure")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_published"
    assert "shop" not in client.get("/").get_data(as_text=True).split("<main")[1]


def test_disclosure_json(client, site):
    response = client.get("/api/v1/sites/shop/disclosure")
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["revision"] == 1 and doc["site"]["key"] == "shop"
    assert [c["key"] for c in doc["categories"]] == [
        "necessary",
        "functional",
        "analytics",
        "advertising",
    ]
    assert doc["history"] == [
        {
            "revision": 1,
            "published_at": doc["published_at"],
            "changes": [{"change": "first_revision"}],
        }
    ]
    for query, status, code in [
        ("?revision=7", 404, "unknown_revision"),
        ("?revision=x", 400, "invalid_revision"),
    ]:
        bad = client.get(f"/api/v1/sites/shop/disclosure{query}")
        assert bad.status_code == status and bad.get_json()["error"]["code"] == code
    unknown = client.get("/api/v1/sites/nope/disclosure")
    assert unknown.status_code == 404 and unknown.get_json()["error"]["code"] == "unknown_site"


def test_disclosure_is_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "get" in paths["/api/v1/sites/{site_key}/disclosure"]


def test_gpc_json(client, db, full_doc):
    assert client.get("/.well-known/gpc.json").get_json() == {"gpc": False}
    full_doc["sites"][0]["honor_gpc"] = False
    registry_store.apply(db, full_doc, "test")
    revision_store.publish(db, "shop", "test")
    assert client.get("/.well-known/gpc.json").get_json() == {"gpc": False}
    full_doc["sites"][0]["honor_gpc"] = True
    registry_store.apply(db, full_doc, "test")
    revision, _ = revision_store.publish(db, "shop", "test")
    response = client.get("/.well-known/gpc.json")
    assert response.mimetype == "application/json"
    assert json.loads(response.data) == {"gpc": True, "lastUpdate": revision["published_at"][:10]}


XSS = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'
# Every tag and attribute the templates themselves use: anything else came from an admin's text.
PAGE_MARKUP = {
    "html",
    "head",
    "meta",
    "title",
    "link",
    "body",
    "a",
    "header",
    "div",
    "nav",
    "ul",
    "li",
    "span",
    "main",
    "h1",
    "h2",
    "h3",
    "p",
    "section",
    "strong",
    "em",
    "article",
    "dl",
    "dt",
    "dd",
    "code",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "footer",
    "@lang",
    "@charset",
    "@name",
    "@content",
    "@rel",
    "@href",
    "@class",
    "@id",
    "@aria-label",
    "@aria-labelledby",
    "@aria-current",
    "@hreflang",
    "@tabindex",
    "@data-category",
    "@data-vendor",
    "@data-revision",
    "@scope",
    "wbr",
    "@role",
    "@data-label",
}


def markup_of(body: str) -> set[str]:
    """The tag names and attribute names (as '@name') a page really contains."""
    found = set()

    class Collector(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.add(tag)
            found.update(f"@{name}" for name, _ in attrs)

    Collector().feed(body)
    return found


def test_admin_typed_fields_are_escaped(client, db, full_doc):
    full_doc["organization"]["name"] = {"ja": XSS, "en": XSS}
    full_doc["organization"]["sections"] = [
        {
            "key": "xss",
            "title": {"ja": XSS, "en": XSS},
            "body": {
                "ja": f"{XSS}\n\n[click](javascript:alert(1))",
                "en": f"{XSS}\n\n<b onclick=alert(1)>x</b> [click](javascript:alert(1))",
            },
        }
    ]
    site = full_doc["sites"][0]
    site["name"] = {"ja": XSS, "en": XSS}
    for category in site["categories"]:
        category["name"] = {"ja": XSS + category["key"], "en": XSS + category["key"]}
        category["description"] = {"ja": XSS, "en": XSS}
    for vendor in full_doc["vendors"]:
        vendor["name"] = XSS + vendor["key"]
        vendor["recipient"] = XSS
        vendor["data_sent"] = {"ja": XSS, "en": XSS}
        vendor["purpose"] = {"ja": XSS, "en": XSS}
        vendor["privacy_policy_url"] = f"https://evil.example/{XSS}"
        vendor["opt_out_url"] = f"https://evil.example/opt-out?{XSS}"
    full_doc["organization"]["privacy_policy_url"] = f"https://evil.example/{XSS}"
    registry_store.apply(db, full_doc, "test")
    revision_store.publish(db, "shop", "test")
    full_doc["vendors"][0]["purpose"] = {"ja": XSS + "2", "en": XSS + "2"}
    site["vendors"].pop()  # a removal, so that the history names a vendor too
    registry_store.apply(db, full_doc, "test")
    revision_store.publish(db, "shop", "test")
    for path in (
        "/",
        "/sites/shop/disclosure",
        "/sites/shop/disclosure?revision=1",
        "/sites/nope/disclosure",
    ):
        for lang in ("ja", "en"):
            body = client.get(
                f"{path}?lang={lang}" if "?" not in path else f"{path}&lang={lang}"
            ).get_data(as_text=True)
            assert "<script>alert" not in body
            assert "<img" not in body and "<b onclick" not in body
            assert not re.search(r"href=\"\s*javascript:", body, re.I)
            assert markup_of(body) <= PAGE_MARKUP, markup_of(body) - PAGE_MARKUP
            if path != "/sites/nope/disclosure":
                assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_superscript_digits_are_not_a_revision_number(client, site):
    # "²".isdigit() is true in Python, yet it is no revision number: a 400/404, never a 500
    bad = client.get("/api/v1/sites/shop/disclosure?revision=%C2%B2")
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid_revision"
    assert client.get("/sites/shop/disclosure?revision=%C2%B2").status_code == 404


LONG_LABEL = "a-label-far-too-long-for-one-phone-line"


def test_host_names_wrap_only_at_their_dots(client, db, full_doc):
    full_doc["vendors"][0]["hosts"] = ["www.google-analytics.com", f"{LONG_LABEL}.example"]
    registry_store.apply(db, full_doc, "test")
    revision_store.publish(db, "shop", "test")
    body = client.get("/sites/shop/disclosure?lang=en").get_data(as_text=True)
    ga = re.search(r'data-vendor="google-analytics">(.*?)</article>', body, re.S).group(1)
    hosts = re.search(r'<dd class="hosts"><ul class="host-list">(.*?)</ul></dd>', ga, re.S)
    items = re.findall(r"<li><code class=\"host\">(.*?)</code></li>", hosts.group(1))
    # One host to a line; a break only before a dot; a hyphenated label kept in one piece.
    assert items[0] == 'www<wbr>.<span class="nobr">google-analytics</span><wbr>.com'
    # A label longer than a phone's line is left free to break rather than overflow.
    assert items[1] == f"{LONG_LABEL}<wbr>.example"
    css = fetch_text(client, "/static/privacy_center/site.css")
    assert re.search(r"\.nobr \{ white-space: nowrap; \}", css)
    assert re.search(r"\.host-list \{ list-style: none;", css)


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_each_cell_of_the_records_table_carries_its_column_name(client, published, lang):
    from support import ORIGIN, decision

    answer = client.post(
        "/api/v1/sites/shop/decisions", json=decision(), headers={"Origin": ORIGIN}
    ).get_json()
    page = client.post(
        f"/consents/{answer['consent_id']}?lang={lang}", data={"receipt": answer["receipt"]}
    ).get_data(as_text=True)
    table = re.search(r'<table class="decisions stack"([^>]*)>(.*?)</table>', page, re.S)
    assert 'role="table"' in table.group(1)
    headers = [
        html.unescape(h)
        for h in re.findall(r'<th scope="col" role="columnheader">([^<]+)</th>', table.group(2))
    ]
    assert headers == (
        ["日時", "操作", "選択", "当時の開示"]
        if lang == "ja"
        else ["Time", "Action", "Choices", "Disclosure at the time"]
    )
    for row in re.findall(r'<tr data-action="[^"]+" role="row">(.*?)</tr>', table.group(2), re.S):
        labels = [
            html.unescape(x) for x in re.findall(r'<td role="cell" data-label="([^"]+)">', row)
        ]
        assert labels == headers


def test_narrow_screens_show_the_labels_and_keep_the_headers_for_screen_readers(client):
    css = fetch_text(client, "/static/privacy_center/site.css")
    narrow = css.split("@media (max-width: 40rem)", 1)[1].split("\n}\n", 1)[0]
    assert "table.stack td[data-label]::before { content: attr(data-label);" in narrow
    hidden = re.search(r"table\.stack thead \{([^}]*)\}", narrow).group(1)
    assert "display: none" not in hidden and "clip:" in hidden


def test_the_stylesheet_braces_balance(client):
    # A stray "}" silently drops the rule after it (the print styles, once).
    css = re.sub(
        r"/\*.*?\*/", "", fetch_text(client, "/static/privacy_center/site.css"), flags=re.S
    )
    depth = 0
    for char in css:
        depth += {"{": 1, "}": -1}.get(char, 0)
        assert depth >= 0
    assert depth == 0
