"""The service layer: each registry and consent-log rule, its typed error, nothing half saved."""

from __future__ import annotations

import copy

import pytest

from server.services import decisions as decision_service
from server.services import registry
from server.services.errors import Conflict, Invalid, NotFound, Refused
from server.storage import audit
from server.storage import registry as registry_store
from server.storage import revisions as revision_store
from support import REGISTRY, decision

SECRET = "test-secret"
VENDOR = {
    "key": "chat",
    "name": "Chat",
    "recipient": "Chat Co.",
    "privacy_policy_url": "https://chat.example/privacy",
    "data_sent": {"ja": "会話", "en": "Messages"},
    "purpose": {"ja": "問い合わせ", "en": "Support"},
}


@pytest.fixture
def loaded(db):
    registry_store.apply(db, copy.deepcopy(REGISTRY), "test")
    return db


def unchanged(db):
    """A snapshot of the registry and the audit log, to show that a refusal saved nothing."""
    return registry_store.load(db), audit.entries(db, limit=1000)


def test_vendor_commands_and_their_refusals(loaded):
    db = loaded
    created = registry.create_vendor(db, dict(VENDOR), "test")
    assert created["key"] == "chat" and created["hosts"] == []  # normalised, defaults filled
    before = unchanged(db)
    with pytest.raises(Conflict) as taken:
        registry.create_vendor(db, dict(VENDOR), "test")
    assert taken.value.code == "exists" and taken.value.field == "key"
    with pytest.raises(Invalid) as invalid:
        registry.update_vendor(db, "chat", {**VENDOR, "privacy_policy_url": "nope"}, "test")
    assert invalid.value.prefix == "vendors[1]"  # the catalog is kept in key order
    assert invalid.value.relative_problems() == ["privacy_policy_url: must be an http(s) URL"]
    with pytest.raises(Invalid, match="key: cannot be changed"):
        registry.update_vendor(db, "chat", {**VENDOR, "key": "other"}, "test")
    with pytest.raises(Conflict) as used:
        registry.delete_vendor(db, "google-analytics", "test")
    assert used.value.code == "in_use" and used.value.details["sites"] == ["shop"]
    with pytest.raises(NotFound):
        registry.delete_vendor(db, "nobody", "test")
    assert unchanged(db) == before
    assert registry.update_vendor(db, "chat", {"name": "Chat Pro"}, "test", merge=True)["name"] == (
        "Chat Pro"
    )
    registry.delete_vendor(db, "chat", "test")
    assert registry_store.get_vendor(db, "chat") is None


def test_a_published_site_cannot_be_deleted_nor_pruned(loaded):
    db = loaded
    registry.publish(db, "shop", "test")
    before = unchanged(db)
    with pytest.raises(Conflict) as refused:
        registry.delete_site(db, "shop", "test")
    assert refused.value.code == "published"
    doc = copy.deepcopy(REGISTRY)
    doc["sites"] = []
    with pytest.raises(Conflict, match="has published revisions"):
        registry.apply_file(db, doc, "test", prune=True)
    assert unchanged(db) == before


def test_an_unpublished_site_can_be_deleted_with_its_categories(loaded):
    db = loaded
    registry.delete_site(db, "shop", "test")
    assert registry_store.get_site(db, "shop") is None
    assert db.execute("SELECT COUNT(*) FROM categories").fetchone()[0] == 0


def test_category_and_assignment_rules(loaded):
    db = loaded
    before = unchanged(db)
    with pytest.raises(Conflict) as holds:
        registry.delete_category(db, "shop", "analytics", "test")
    assert holds.value.details["vendors"] == ["google-analytics"]
    with pytest.raises(Conflict, match="already exists"):
        registry.create_category(db, "shop", {"key": "analytics"}, "test")
    with pytest.raises(Invalid, match="position: must be a whole number from 0 to 4"):
        registry.create_category(db, "shop", {"key": "x"}, "test", position=9)
    with pytest.raises(Conflict, match="already assigned"):
        registry.create_assignment(db, "shop", "video", "functional", "test")
    with pytest.raises(Invalid) as unknown:
        registry.update_assignment(db, "shop", "video", "", "test")
    assert "category" in unknown.value.message
    with pytest.raises(NotFound):
        registry.get_category(db, "shop", "nope")
    assert unchanged(db) == before
    registry.move_category(db, "shop", "advertising", -1, "test")
    keys = [c["key"] for c in registry.get_site(db, "shop")["categories"]]
    assert keys == ["necessary", "functional", "advertising", "analytics"]


def test_publish_rollback_and_what_a_publish_means_for_visitors(loaded):
    db = loaded
    first, created = registry.publish(db, "shop", "test")
    assert created and registry.publish_message_kind(first, created) == "first"
    assert registry.publish_message_kind(*registry.publish(db, "shop", "test")) == "unchanged"
    registry.update_vendor(db, "video", {"purpose": {"ja": "広告", "en": "Ads"}}, "t", merge=True)
    second, created = registry.publish(db, "shop", "test")
    assert registry.publish_message_kind(second, created) == "ask_again"
    third, created = registry.rollback(db, "shop", 1, "test")
    assert created and third["number"] == 3 and third["content_hash"] == first["content_hash"]
    with pytest.raises(NotFound):
        registry.rollback(db, "shop", 99, "test")
    with pytest.raises(NotFound):
        registry.publish(db, "nope", "test")
    # The live revision now has revision 1's content; the registry still has the new purpose.
    assert registry.pending(db, "shop")
    registry.publish(db, "shop", "test")
    assert not registry.pending(db, "shop")


def test_a_decision_is_recorded_once_through_the_service(db, published):
    def lookup(number):
        return revision_store.get(db, "shop", number)

    visitor = decision_service.Visitor(user_agent="UA", remote_addr="192.0.2.7")
    first = decision_service.record(db, SECRET, "shop", decision(), lookup, visitor)
    refused = {"functional": False, "analytics": False, "advertising": False}
    again = decision(
        consent_id=first["consent_id"],
        receipt=first["receipt"],
        action="withdraw",
        categories=refused,
    )
    decision_service.record(db, SECRET, "shop", again, lookup, visitor)
    with pytest.raises(Refused) as stolen:
        decision_service.record(
            db, SECRET, "shop", decision(consent_id=first["consent_id"]), lookup, visitor
        )
    assert stolen.value.code == "bad_receipt"
    with pytest.raises(Invalid) as wrong:
        decision_service.record(db, SECRET, "shop", decision(revision=7), lookup, visitor)
    assert wrong.value.code == "invalid_decision" and "no revision 7" in wrong.value.message
    assert decision_service.erase(db, SECRET, "shop", first["consent_id"]) == 2
    assert decision_service.erase(db, SECRET, "shop", first["consent_id"]) == 0
    records = decision_service.records(db, SECRET, "shop", first["consent_id"])
    assert records["decisions"] == [] and len(records["erasures"]) == 1
    with pytest.raises(Refused, match="erased"):
        decision_service.record(db, SECRET, "shop", again, lookup, visitor)
    with pytest.raises(NotFound):
        decision_service.withdraw(
            db, SECRET, "shop", first["consent_id"], first["receipt"], "en", visitor
        )
