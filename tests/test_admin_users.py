"""Admin UI: users (create, role, deactivate) and API tokens (shown once, revoke)."""

from __future__ import annotations

import re

from server.storage import accounts
from support import ADMIN_PASSWORD


def test_create_user_with_generated_password_change_role_and_deactivate(admin_client, db, app):
    admin = admin_client("admin", "boss@example.com")
    page = admin.post("/admin/users", data={"email": "Ed@Example.com", "role": "editor"}).text
    password = re.search(r'<pre id="new-password">([^<]+)</pre>', page)[1]
    assert accounts.check_password(db, "ed@example.com", password)["role"] == "editor"
    assert password not in admin.get("/admin/users").text  # shown once
    user_id = accounts.check_password(db, "ed@example.com", password)["id"]
    admin.post(f"/admin/users/{user_id}", data={"role": "viewer"})
    assert accounts.get_user(db, user_id)["role"] == "viewer"
    admin.post(f"/admin/users/{user_id}", data={"active": "0"})
    assert accounts.check_password(db, "ed@example.com", password) is None
    entries = db.execute(
        "SELECT action, object_key, before, after FROM audit_log "
        "WHERE object_type = 'user' AND object_key = 'ed@example.com' "
        "ORDER BY id"
    ).fetchall()
    assert [e[0] for e in entries] == ["create", "update", "update"]
    assert '"active": false' in entries[2][3]
    duplicate = admin.post("/admin/users", data={"email": "ed@example.com", "role": "viewer"})
    assert duplicate.status_code == 400 and "already exists" in duplicate.text


def test_the_last_admin_cannot_lock_everyone_out(admin_client, db):
    admin = admin_client("admin", "boss@example.com")
    boss = accounts.check_password(db, "boss@example.com", ADMIN_PASSWORD)["id"]
    page = admin.post(f"/admin/users/{boss}", data={"role": "viewer"}, follow_redirects=True).text
    assert "last active admin" in page
    assert accounts.get_user(db, boss)["role"] == "admin"


def test_tokens_are_shown_once_work_on_the_api_and_can_be_revoked(admin_client, db, published):
    admin = admin_client("admin", "boss@example.com")
    page = admin.post("/admin/tokens", data={"name": "ci <script>", "role": "viewer"}).text
    secret = re.search(r'<pre id="new-token">([^<]+)</pre>', page)[1]
    assert "ci &lt;script&gt;" in page and "<script>" not in page.split("<main")[1]
    headers = {"Authorization": f"Bearer {secret}"}
    assert admin.client.get("/api/v1/admin/vendors", headers=headers).status_code == 200
    # A viewer token reads only.
    assert admin.client.post("/api/v1/admin/sites/shop/publish", headers=headers).status_code == 403
    listing = admin.get("/admin/tokens").text
    assert secret not in listing
    token_id = re.search(r'action="/admin/tokens/(\d+)/revoke"', listing)[1]
    admin.post(f"/admin/tokens/{token_id}/revoke")
    assert admin.client.get("/api/v1/admin/vendors", headers=headers).status_code == 401
    assert "revoked" in admin.get("/admin/tokens").text
