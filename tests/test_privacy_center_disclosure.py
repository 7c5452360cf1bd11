"""The disclosure and the widget configuration of a revision never disagree; the history reads well."""

from __future__ import annotations

import copy
import html
import re
from pathlib import Path

import pytest
import yaml

from server.revisions import public_config
from server.storage import registry as registry_store
from server.storage import revisions as revision_store

DEMO = Path(__file__).resolve().parent.parent / "server" / "demo" / "registry.yaml"


def _text(fragment: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", fragment))).strip()


def page_vendors(body: str) -> list[dict]:
    """What the disclosure page shows of each vendor: its category, recipient, data and purpose."""
    out = []
    for category, section in re.findall(
        r'<section class="category"[^>]*data-category="([^"]+)">(.*?)</section>', body, re.S
    ):
        for key, block in re.findall(
            r'<article[^>]*data-vendor="([^"]+)">(.*?)</article>', section, re.S
        ):

            def field(css, block=block):
                return _text(re.search(rf'<dd class="{css}">(.*?)</dd>', block, re.S).group(1))

            out.append(
                {
                    "key": key,
                    "category": category,
                    "recipient": field("recipient"),
                    "data_sent": field("data-sent"),
                    "purpose": field("purpose"),
                }
            )
    return out


def assert_same_as_config(client, db, site_key: str, number: int):
    revision = revision_store.get(db, site_key, number)
    config = public_config(revision)
    disclosure = client.get(f"/api/v1/sites/{site_key}/disclosure?revision={number}").get_json()
    assert disclosure["revision"] == number
    assert disclosure["vendors"] == config["vendors"]
    assert [c["key"] for c in disclosure["categories"]] == [c["key"] for c in config["categories"]]
    for lang in ("ja", "en"):
        body = client.get(f"/sites/{site_key}/disclosure?revision={number}&lang={lang}")
        assert body.status_code == 200
        shown = page_vendors(body.get_data(as_text=True))
        expected = [
            {
                "key": v["key"],
                "category": v["category"],
                "recipient": v["recipient"],
                "data_sent": v["data_sent"].get(lang) or next(iter(v["data_sent"].values())),
                "purpose": v["purpose"].get(lang) or next(iter(v["purpose"].values())),
            }
            for v in config["vendors"]
        ]
        assert shown == expected


def edits(doc: dict) -> list:
    """Successive registry edits, each published as a new revision."""

    def add_vendor(d):
        d["vendors"].append(
            {
                "key": "new-ads",
                "name": "New Ads",
                "recipient": "New Ads Ltd.",
                "privacy_policy_url": "https://new-ads.example/privacy",
                "data_sent": {"ja": "広告ID", "en": "Advertising ID"},
                "purpose": {"ja": "広告の配信", "en": "Serving ads"},
            }
        )
        site = d["sites"][0]
        site["vendors"].append({"vendor": "new-ads", "category": "advertising"})

    def change_purpose(d):
        vendor = next(v for v in d["vendors"] if v["key"] == d["sites"][0]["vendors"][0]["vendor"])
        vendor["purpose"] = {"ja": "変更した目的", "en": "A changed purpose"}

    def remove_and_move(d):
        site = d["sites"][0]
        site["vendors"] = [a for a in site["vendors"] if a["vendor"] != "new-ads"]
        site["vendors"][0]["category"] = "analytics"

    return [add_vendor, change_purpose, remove_and_move]


def publish_all(db, doc) -> dict[str, int]:
    """Apply `doc` and publish every site; then the edits, one revision each, for its first site."""
    doc = copy.deepcopy(doc)
    registry_store.apply(db, doc, "test")
    for key in registry_store.site_keys(db):
        revision_store.publish(db, key, "test")
    target = doc["sites"][0]["key"]
    doc["sites"] = [doc["sites"][0]]
    for edit in edits(doc):
        edit(doc)
        registry_store.apply(db, doc, "test")
        _, created = revision_store.publish(db, target, "test")
        assert created
    return {key: revision_store.latest_number(db, key) for key in registry_store.site_keys(db)}


@pytest.mark.parametrize("source", ["demo", "test"])
def test_disclosure_equals_configuration_for_every_revision(client, db, registry_doc, source):
    doc = yaml.safe_load(DEMO.read_text(encoding="utf-8")) if source == "demo" else registry_doc
    latest = publish_all(db, doc)
    assert max(latest.values()) == 4
    for site_key, last in latest.items():
        for number in range(1, last + 1):
            assert_same_as_config(client, db, site_key, number)
        # And the latest disclosure equals what the widget actually fetches.
        config = client.get(f"/api/v1/sites/{site_key}/config").get_json()
        disclosure = client.get(f"/api/v1/sites/{site_key}/disclosure").get_json()
        assert disclosure["vendors"] == config["vendors"]
        assert disclosure["revision"] == config["revision"] == last


def test_revision_history_after_three_publishes(client, db, registry_doc):
    registry_store.apply(db, registry_doc, "test")
    revision_store.publish(db, "shop", "test")
    for edit in edits(registry_doc)[:2]:
        edit(registry_doc)
        registry_store.apply(db, registry_doc, "test")
        revision_store.publish(db, "shop", "test")
    en = client.get("/sites/shop/disclosure?lang=en").get_data(as_text=True)
    rows = dict(re.findall(r'<tr data-revision="(\d+)"[^>]*>(.*?)</tr>', en, re.S))
    assert list(rows) == ["3", "2", "1"]
    assert "first publication" in _text(rows["1"])
    assert "added: New Ads (Advertising)" in _text(rows["2"])
    assert "purpose changed: Video Player" in _text(rows["3"])
    assert _text(rows["3"].split("</th>")[0]) == "Revision 3 (current, shown here)"
    assert 'href="/sites/shop/disclosure?revision=1&amp;lang=en"' in rows["1"]
    ja = client.get("/sites/shop/disclosure?lang=ja").get_data(as_text=True)
    rows = dict(re.findall(r'<tr data-revision="(\d+)"[^>]*>(.*?)</tr>', ja, re.S))
    assert "最初の公開" in _text(rows["1"])
    assert "追加: New Ads（広告）" in _text(rows["2"])
    assert "利用目的の変更: Video Player" in _text(rows["3"])

    old = client.get("/sites/shop/disclosure?revision=1&lang=en")
    assert old.status_code == 200
    text = _text(old.get_data(as_text=True))
    assert "This is an earlier revision (revision 1)." in text
    assert "New Ads" not in text.split("Revision history")[0]
    assert "Revision 1 (shown here)" in text
    assert "Read revision 3 (current)" in text
    # The third revision moves the first vendor and removes one: both said plainly.
    edits(registry_doc)[2](registry_doc)
    registry_store.apply(db, registry_doc, "test")
    revision_store.publish(db, "shop", "test")
    text = _text(client.get("/sites/shop/disclosure?lang=en").get_data(as_text=True))
    assert "removed: New Ads (Advertising)" in text
    assert "category changed: Video Player (Functional → Analytics)" in text


@pytest.mark.parametrize(
    ("lang", "current_shown", "old_shown", "read_current"),
    [
        ("ja", "第2版（現在の版・表示中）", "第1版（表示中）", "第2版（現在の版）を読む"),
        (
            "en",
            "Revision 2 (current, shown here)",
            "Revision 1 (shown here)",
            "Read revision 2 (current)",
        ),
    ],
)
def test_the_history_says_which_revision_is_shown_and_current_in_one_label(
    client, db, registry_doc, lang, current_shown, old_shown, read_current
):
    registry_store.apply(db, registry_doc, "test")
    revision_store.publish(db, "shop", "test")
    edits(registry_doc)[0](registry_doc)
    registry_store.apply(db, registry_doc, "test")
    revision_store.publish(db, "shop", "test")

    def row_headers(url):
        body = client.get(url).get_data(as_text=True)
        rows = re.findall(r'<tr data-revision="(\d+)"([^>]*)>\s*<th[^>]*>(.*?)</th>', body, re.S)
        return {number: (attrs, _text(header)) for number, attrs, header in rows}

    latest = row_headers(f"/sites/shop/disclosure?lang={lang}")
    assert latest["2"][1] == current_shown and 'aria-current="true"' in latest["2"][0]
    assert "aria-current" not in latest["1"][0]
    old = row_headers(f"/sites/shop/disclosure?revision=1&lang={lang}")
    assert old["1"][1] == old_shown and 'aria-current="true"' in old["1"][0]
    assert old["2"][1] == read_current and "aria-current" not in old["2"][0]
    # Never two bracketed remarks in a row, as "（表示中）（現在の版）" read.
    for _, header in [*latest.values(), *old.values()]:
        assert not re.search(r"[)）]\s*[(（]", header), header


def test_every_field_a_revision_can_change_has_a_label_in_each_language():
    """The revision history names changed fields; none may show as a raw key on a page."""
    from server import revisions
    from server.i18n import TEXTS

    fields = set(revisions.SITE_PUBLIC_FIELDS) | set(revisions.VENDOR_PUBLIC_FIELDS)
    fields -= {"key"}
    for lang, texts in TEXTS.items():
        missing = sorted(f for f in fields if f"f_{f}" not in texts)
        assert missing == [], f"{lang}: no label for {missing}"
