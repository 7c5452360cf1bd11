"""Admin UI: signing in, the session cookie, CSRF, throttling, and each role against each action."""

from __future__ import annotations

import pytest

from server.storage import accounts, throttle
from support import ADMIN_PASSWORD, FormClient, csrf_token


def csrf(client, url="/admin/login"):
    return csrf_token(client.get(url).text)


def audit_count(db):
    return db.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]


def test_sign_in_sets_a_protected_session_cookie_and_sign_out_ends_it(client, db):
    accounts.create_user(db, "a@example.com", ADMIN_PASSWORD, "admin")
    token = csrf(client)
    response = client.post(
        "/admin/login?next=/admin/vendors",
        data={"email": "A@example.com ", "password": ADMIN_PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302 and response.headers["Location"] == "/admin/vendors"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    page = client.get("/admin/")
    assert page.status_code == 200 and "a@example.com" in page.text
    token = csrf(client, "/admin/")
    client.post("/admin/logout", data={"csrf_token": token})
    assert client.get("/admin/").status_code == 302


def test_the_cookie_is_secure_over_https(client, db):
    accounts.create_user(db, "a@example.com", ADMIN_PASSWORD, "admin")
    token = csrf_token(client.get("/admin/login", base_url="https://admin.example").text)
    response = client.post(
        "/admin/login",
        base_url="https://admin.example",
        data={"email": "a@example.com", "password": ADMIN_PASSWORD, "csrf_token": token},
    )
    assert "Secure" in response.headers["Set-Cookie"]


def test_an_open_redirect_after_sign_in_is_refused(client, db):
    accounts.create_user(db, "a@example.com", ADMIN_PASSWORD, "admin")
    token = csrf(client)
    response = client.post(
        "/admin/login?next=//evil.example/x",
        data={"email": "a@example.com", "password": ADMIN_PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/admin/"


def test_wrong_password_and_deactivated_users_cannot_sign_in(client, db):
    user_id = accounts.create_user(db, "a@example.com", ADMIN_PASSWORD, "admin")
    accounts.create_user(db, "b@example.com", ADMIN_PASSWORD, "admin")
    token = csrf(client)
    wrong = client.post(
        "/admin/login", data={"email": "a@example.com", "password": "nope", "csrf_token": token}
    )
    assert wrong.status_code == 401 and "Wrong email or password" in wrong.text
    accounts.update_user(db, user_id, "test", active=False)
    gone = client.post(
        "/admin/login",
        data={"email": "a@example.com", "password": ADMIN_PASSWORD, "csrf_token": token},
    )
    assert gone.status_code == 401


def test_deactivation_ends_a_running_session(admin_client, db):
    editor = admin_client("editor")
    accounts.create_user(db, "boss@example.com", ADMIN_PASSWORD, "admin")
    editor_id = db.execute("SELECT id FROM users WHERE email = 'editor@example.com'").fetchone()[0]
    accounts.update_user(db, editor_id, "test", active=False)
    assert editor.get("/admin/").status_code == 302


def test_failed_sign_ins_are_slowed_per_account_and_remembered_in_the_database(client, db):
    accounts.create_user(db, "a@example.com", ADMIN_PASSWORD, "admin")
    token = csrf(client)
    for _ in range(throttle.FREE_TRIES["account"]):
        assert (
            client.post(
                "/admin/login",
                data={"email": "a@example.com", "password": "x", "csrf_token": token},
            ).status_code
            == 401
        )
    # Even the right password waits now: the guesser cannot tell when they hit it.
    slowed = client.post(
        "/admin/login",
        data={"email": "a@example.com", "password": ADMIN_PASSWORD, "csrf_token": token},
    )
    assert slowed.status_code == 429 and "Try again in" in slowed.text
    rows = db.execute("SELECT COUNT(*) FROM login_failures WHERE scope = 'account:a@example.com'")
    assert rows.fetchone()[0] == throttle.FREE_TRIES["account"]


def test_throttle_waits_double_and_cover_addresses(db):
    now = 1_000_000.0
    for _ in range(5):
        throttle.failed(db, "a@example.com", "10.0.0.1", now=now)
    assert throttle.wait_seconds(db, "a@example.com", "10.0.0.9", now=now) == 1
    throttle.failed(db, "a@example.com", "10.0.0.1", now=now)
    assert throttle.wait_seconds(db, "a@example.com", "10.0.0.9", now=now) == 2
    assert throttle.wait_seconds(db, "a@example.com", "10.0.0.9", now=now + 3) == 0
    assert throttle.wait_seconds(db, "other@example.com", "10.0.0.9", now=now) == 0
    for i in range(20):
        throttle.failed(db, f"user{i}@example.com", "10.0.0.2", now=now)
    assert throttle.wait_seconds(db, "fresh@example.com", "10.0.0.2", now=now) == 1
    throttle.succeeded(db, "a@example.com")
    assert throttle.wait_seconds(db, "a@example.com", "10.0.0.9", now=now) == 0


def test_a_form_without_the_csrf_token_changes_nothing(admin_client, db):
    admin = admin_client("admin")
    before = audit_count(db)
    for data in ({}, {"csrf_token": "forged"}):
        response = admin.client.post(
            "/admin/users", data={"email": "x@example.com", "role": "admin", **data}
        )
        assert response.status_code == 400 and "expired" in response.text
    assert audit_count(db) == before
    assert db.execute("SELECT COUNT(*) FROM users WHERE email = 'x@example.com'").fetchone()[0] == 0
    # The login form is protected too (login CSRF).
    admin.post("/admin/logout")
    assert admin.get("/admin/").status_code == 302
    refused = admin.client.post(
        "/admin/login", data={"email": "admin@example.com", "password": ADMIN_PASSWORD}
    )
    assert refused.status_code == 400


# Each role against each action: (method, url, form, least role that may do it).
ACTIONS = [
    ("GET", "/admin/", None, "viewer"),
    ("GET", "/admin/vendors", None, "viewer"),
    ("GET", "/admin/vendors/video", None, "viewer"),
    ("GET", "/admin/sites/shop", None, "viewer"),
    ("GET", "/admin/sites/shop/publish", None, "viewer"),
    ("GET", "/admin/sites/shop/revisions", None, "viewer"),
    ("GET", "/admin/sites/shop/embed", None, "viewer"),
    ("GET", "/admin/sites/shop/figures", None, "viewer"),
    ("GET", "/admin/audit", None, "viewer"),
    ("GET", "/admin/consents", None, "viewer"),
    ("GET", "/admin/consents/export?site=shop&format=csv", None, "viewer"),
    ("GET", "/admin/vendors/new", None, "editor"),
    (
        "POST",
        "/admin/vendors/new",
        {
            "key": "new-one",
            "name": "New",
            "recipient": "R",
            "privacy_policy_url": "https://r.example/p",
            "data_sent.ja": "ID",
            "data_sent.en": "ID",
            "purpose.ja": "分析",
            "purpose.en": "Analysis",
        },
        "editor",
    ),
    (
        "POST",
        "/admin/vendors/video",
        {
            "key": "video",
            "name": "Video 2",
            "recipient": "Video Co.",
            "privacy_policy_url": "https://video.example/privacy",
            "data_sent.ja": "再生状況",
            "data_sent.en": "Playback",
            "purpose.ja": "動画の再生",
            "purpose.en": "Playing videos",
        },
        "editor",
    ),
    ("POST", "/admin/sites/shop/categories/analytics/move", {"direction": "up"}, "editor"),
    ("POST", "/admin/sites/shop/vendors/video", {"category": "analytics"}, "editor"),
    ("POST", "/admin/sites/shop/vendors/video/delete", {}, "editor"),
    ("POST", "/admin/sites/shop/publish", {}, "editor"),
    ("POST", "/admin/sites/shop/revisions/1/rollback", {}, "editor"),
    ("GET", "/admin/users", None, "admin"),
    ("POST", "/admin/users", {"email": "new@example.com", "role": "viewer"}, "admin"),
    ("GET", "/admin/tokens", None, "admin"),
    ("POST", "/admin/tokens", {"name": "ci", "role": "viewer"}, "admin"),
]
RANK = {"viewer": 0, "editor": 1, "admin": 2}


@pytest.mark.parametrize("role", ["anonymous", "viewer", "editor", "admin"])
def test_each_role_against_each_action(client, admin_client, db, published, role):
    from server.storage import revisions as revision_store

    user = FormClient(client) if role == "anonymous" else admin_client(role)
    # A second revision, so that a rollback to 1 has something to do.
    from server.storage import registry as registry_store

    doc = registry_store.load(db)
    doc["sites"][0]["vendors"] = doc["sites"][0]["vendors"][:-1]
    registry_store.save(db, doc, "test")
    revision_store.publish(db, "shop", "test")
    for method, url, form, least in ACTIONS:
        before = audit_count(db)
        response = user.get(url) if method == "GET" else user.post(url, data=form)
        allowed = role != "anonymous" and RANK[role] >= RANK[least]
        if allowed:
            assert response.status_code in (200, 302), (role, url, response.status_code)
            assert "/admin/login" not in response.headers.get("Location", "")
            if method == "POST":
                assert audit_count(db) > before, (role, url)
        else:
            expected = (302 if method == "GET" else 401) if role == "anonymous" else 403
            assert response.status_code == expected, (role, url, response.status_code)
            assert audit_count(db) == before, (role, url)


def test_failed_sign_ins_store_no_ip_address(client, db):
    token = csrf(client)
    response = client.post(
        "/admin/login",
        data={"email": "nobody@example.com", "password": "wrong password!", "csrf_token": token},
        environ_base={"REMOTE_ADDR": "203.0.113.77"},
    )
    assert response.status_code == 401
    scopes = [scope for (scope,) in db.execute("SELECT scope FROM login_failures")]
    assert len(scopes) == 2 and not any("203.0.113" in scope for scope in scopes)
