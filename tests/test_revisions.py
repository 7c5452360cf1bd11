"""Compiling revisions, publishing, and the rule for asking visitors again."""

import copy

from server import revisions
from server.registry import normalize
from server.storage import registry as registry_store
from server.storage import revisions as revision_store


def compiled(doc, key="shop"):
    doc = normalize(doc)
    site = next(s for s in doc["sites"] if s["key"] == key)
    return revisions.compile_site(site, doc["organization"], {v["key"]: v for v in doc["vendors"]})


def test_compile_lists_vendors_in_category_order(registry_doc):
    content = compiled(registry_doc)
    assert [v["key"] for v in content["vendors"]] == ["video", "google-analytics", "ad-network"]
    assert [c["vendors"] for c in content["categories"]] == [
        [],
        ["video"],
        ["google-analytics"],
        ["ad-network"],
    ]
    assert content["vendors"][1]["category"] == "analytics"


def test_compile_keeps_only_the_sites_languages(registry_doc):
    registry_doc["sites"][0]["languages"] = ["ja"]
    content = compiled(registry_doc)
    assert content["vendors"][0]["purpose"] == {"ja": "動画の再生"}
    assert content["site"]["name"] == {"ja": "サンプルショップ"}


def needs(before_doc, after_doc):
    changes = revisions.diff(compiled(before_doc), compiled(after_doc))
    return revisions.needs_decision(changes), changes


def test_first_revision_needs_a_decision(registry_doc):
    changes = revisions.diff(None, compiled(registry_doc))
    assert revisions.needs_decision(changes)


def test_adding_a_vendor_needs_a_decision(registry_doc):
    before = copy.deepcopy(registry_doc)
    registry_doc["sites"][0]["vendors"].pop()
    assert needs(registry_doc, before)[0]
    # and removing one does not
    assert not needs(before, registry_doc)[0]


def test_moving_a_vendor_needs_a_decision(registry_doc):
    after = copy.deepcopy(registry_doc)
    after["sites"][0]["vendors"][1]["category"] = "functional"
    needed, changes = needs(registry_doc, after)
    assert needed
    assert {
        "change": "vendor_moved",
        "vendor": "google-analytics",
        "name": "Google Analytics",
        "from": "analytics",
        "to": "functional",
    } in changes


def test_changing_what_a_vendor_receives_needs_a_decision(registry_doc):
    for field, value in (
        ("recipient", "Other LLC"),
        ("purpose", {"ja": "別の目的", "en": "Another purpose"}),
        ("data_sent", {"ja": "位置情報", "en": "Location"}),
    ):
        after = copy.deepcopy(registry_doc)
        after["vendors"][0][field] = value
        needed, changes = needs(registry_doc, after)
        assert needed, field
        assert changes == [
            {
                "change": "vendor_changed",
                "vendor": "google-analytics",
                "name": "Google Analytics",
                "fields": [field],
            }
        ]


def test_optional_category_added_needs_a_decision_required_does_not(registry_doc):
    category = {
        "key": "social",
        "name": {"ja": "SNS", "en": "Social"},
        "description": {"ja": "SNS", "en": "Social"},
    }
    after = copy.deepcopy(registry_doc)
    after["sites"][0]["categories"].append(dict(category))
    assert needs(registry_doc, after)[0]
    after = copy.deepcopy(registry_doc)
    after["sites"][0]["categories"].append(dict(category, required=True))
    assert not needs(registry_doc, after)[0]


def test_text_only_edits_do_not_need_a_decision(registry_doc):
    after = copy.deepcopy(registry_doc)
    after["sites"][0]["categories"][2]["description"]["en"] = "We measure, fixed typo"
    after["sites"][0]["name"]["en"] = "Sample Shop!"
    after["vendors"][0]["name"] = "Google Analytics 4"
    after["vendors"][0]["privacy_policy_url"] = "https://policies.google.com/privacy?hl=en"
    needed, changes = needs(registry_doc, after)
    assert not needed
    kinds = {c["change"] for c in changes}
    assert kinds == {"category_changed", "vendor_changed", "site_changed"}


def test_publishing_unchanged_content_makes_no_revision(db, registry_doc):
    registry_store.apply(db, registry_doc, "test")
    first, created = revision_store.publish(db, "shop", "alice")
    assert created and first["number"] == 1 and first["needs_decision"]
    again, created = revision_store.publish(db, "shop", "alice")
    assert not created and again["number"] == 1
    registry_doc["sites"][0]["categories"][1]["description"]["en"] = "Handy features"
    registry_store.apply(db, registry_doc, "test")
    second, created = revision_store.publish(db, "shop", "bob")
    assert created and second["number"] == 2
    assert not second["needs_decision"] and second["consent_revision"] == 1
    assert second["published_by"] == "bob"
    registry_doc["sites"][0]["vendors"].append(
        {"vendor": "google-analytics", "category": "functional"}
    )
    registry_doc["sites"][0]["vendors"].pop(1)
    registry_store.apply(db, registry_doc, "test")
    third, _ = revision_store.publish(db, "shop", "bob")
    assert third["needs_decision"] and third["consent_revision"] == 3
    assert [r["number"] for r in revision_store.history(db, "shop")] == [3, 2, 1]
    # earlier revisions are immutable: their content is what was published then
    assert revision_store.get(db, "shop", 1)["content"]["vendors"][1]["category"] == "analytics"


def test_rollback_publishes_earlier_content_as_a_new_revision(db, registry_doc):
    registry_store.apply(db, registry_doc, "test")
    revision_store.publish(db, "shop", "test")
    registry_doc["sites"][0]["vendors"].pop()
    registry_store.apply(db, registry_doc, "test")
    revision_store.publish(db, "shop", "test")
    old = revision_store.get(db, "shop", 1)
    back, created = revision_store.publish(db, "shop", "test", content=old["content"])
    assert created and back["number"] == 3 and back["content_hash"] == old["content_hash"]
    assert back["needs_decision"]  # the ad network comes back: visitors are asked
