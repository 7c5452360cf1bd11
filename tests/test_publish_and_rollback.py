"""Publishing and rolling back through each surface: what visitors are told, and the API."""

from __future__ import annotations

import copy

from click.testing import CliRunner

from server.cli import main
from server.storage import registry as registry_store
from support import REGISTRY


def test_the_first_publish_does_not_say_visitors_are_asked_again(admin_client, db):
    registry_store.apply(db, copy.deepcopy(REGISTRY), "test")
    editor = admin_client("editor")
    page = editor.post("/admin/sites/shop/publish", follow_redirects=True).text
    assert "Published revision 1. Visitors will be asked for their choice." in page
    assert "asked again" not in page


def test_the_cli_says_the_same(db_path, db):
    registry_store.apply(db, copy.deepcopy(REGISTRY), "test")
    result = CliRunner().invoke(main, ["--database", db_path, "publish", "shop"])
    assert result.exit_code == 0
    assert "published shop revision 1 (visitors will be asked for their choice)" in result.output


def test_rollback_through_the_admin_api(client, auth, published):
    url = "/api/v1/admin/sites/shop/revisions/1/rollback"
    same = client.post(url, headers=auth)
    assert same.status_code == 200 and same.json["created"] is False
    patch = {"purpose": {"ja": "広告配信", "en": "Ads"}}
    assert client.patch("/api/v1/admin/vendors/video", json=patch, headers=auth).status_code == 200
    second = client.post("/api/v1/admin/sites/shop/publish", headers=auth).json
    assert second["number"] == 2 and second["needs_decision"]
    back = client.post(url, headers=auth)
    assert back.status_code == 201
    assert back.json["number"] == 3 and back.json["content_hash"] == published["content_hash"]
    for missing in (
        "/api/v1/admin/sites/shop/revisions/9/rollback",
        "/api/v1/admin/sites/nope/revisions/1/rollback",
        "/api/v1/admin/sites/shop/revisions/99999999999999999999999/rollback",
    ):
        answer = client.post(missing, headers=auth)
        assert answer.status_code == 404 and answer.json["error"]["code"] == "not_found"


def test_a_viewer_token_cannot_roll_back(client, db, published):
    from server.storage import accounts

    token = accounts.create_token(db, "reader", role="viewer")
    answer = client.post(
        "/api/v1/admin/sites/shop/revisions/1/rollback",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 403
