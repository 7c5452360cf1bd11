"""Production faults found by probing (issue 11): each test failed before its fix."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from server.storage import accounts
from support import ADMIN_PASSWORD, ORIGIN, decision


def test_signing_out_ends_a_copied_session_cookie_too(admin_client, app):
    editor = admin_client("editor")
    # An attacker copied the session cookie while the admin was signed in.
    cookie = editor.client.get_cookie("session")
    stolen = app.test_client()
    stolen.set_cookie("session", cookie.value)
    assert stolen.get("/admin/vendors").status_code == 200
    editor.post("/admin/logout")
    after = stolen.get("/admin/vendors")
    assert after.status_code == 302 and "/admin/login" in after.headers["Location"]
    # Signing in again works, with a new session.
    assert admin_client("editor").get("/admin/").status_code == 200


def test_changing_the_password_ends_every_other_session_of_the_user(admin_client, app):
    editor = admin_client("editor")
    elsewhere = admin_client("editor")  # the same login in another browser
    stolen = app.test_client()
    stolen.set_cookie("session", editor.client.get_cookie("session").value)
    new = "a-brand-new-password"
    changed = editor.post(
        "/admin/account", data={"current": ADMIN_PASSWORD, "new": new, "repeat": new}
    )
    assert changed.status_code == 302
    # The browser that changed it stays signed in; every other copy is signed out.
    assert editor.get("/admin/vendors").status_code == 200
    for other in (elsewhere.client, stolen):
        after = other.get("/admin/vendors")
        assert after.status_code == 302 and "/admin/login" in after.headers["Location"]


def test_deactivating_a_user_ends_their_sessions_for_good(admin_client, app, db):
    admin = admin_client("admin")
    editor = admin_client("editor")
    user = next(u for u in accounts.list_users(db) if u["email"] == editor.email)
    for active in ("0", "1"):
        assert (
            admin.post(f"/admin/users/{user['id']}", data={"role": "editor", "active": active})
        ).status_code == 302
    # Reactivated, the login works again, but the cookie from before does not come back.
    after = editor.get("/admin/vendors")
    assert after.status_code == 302 and "/admin/login" in after.headers["Location"]
    assert admin_client("editor").get("/admin/vendors").status_code == 200


def test_a_next_url_with_a_line_break_is_ignored_not_a_500(client, admin_client):
    form = admin_client("viewer")
    for url in ("/admin/%0d%0aX", "/admin/%0aSet-Cookie:x=1", "/admin/\\\\evil.example"):
        answer = form.post(f"/admin/login?next={url}", {"email": "x@example.com", "password": "x"})
        assert answer.status_code in (200, 401), url
        switched = form.post("/admin/language", {"lang": "ja", "next": unquote(url)})
        assert switched.status_code == 302 and switched.headers["Location"] == "/admin/"


def test_keys_and_consent_ids_with_a_trailing_newline_are_refused(client, db, published):
    assert "no published widget" in client.get("/w/shop%0A.js").text  # the silent stub
    first = client.post(
        "/api/v1/sites/shop/decisions", json=decision(), headers={"Origin": ORIGIN}
    ).json
    again = decision(consent_id=first["consent_id"] + "\n", receipt=first["receipt"])
    answer = client.post("/api/v1/sites/shop/decisions", json=again, headers={"Origin": ORIGIN})
    assert answer.status_code == 400 and answer.json["error"]["code"] == "invalid_decision"
    page = client.get("/consents/" + first["consent_id"] + "%0A")
    assert page.status_code == 404


def test_admin_pages_send_a_strict_csp_and_every_response_nosniff(admin_client, client, published):
    viewer = admin_client("viewer")
    for url in ("/admin/", "/admin/sites/shop/figures", "/admin/sites/shop/embed"):
        page = viewer.get(url)
        assert page.status_code == 200, url
        csp = page.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "style-src 'self';" in csp, url
        assert "unsafe-inline" not in csp and 'style="' not in page.text, url
        assert page.headers["X-Content-Type-Options"] == "nosniff"
    for url in ("/demo/shop", "/w/shop.js", "/healthz", "/api/v1/sites/shop/config"):
        answer = client.get(url)
        assert answer.headers["X-Content-Type-Options"] == "nosniff", url
        assert "Strict-Transport-Security" not in answer.headers, url  # plain http: never


def test_hsts_is_sent_over_https(client, published):
    answer = client.get("/demo/shop", base_url="https://privacy.example.co.jp")
    assert answer.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_a_body_over_one_megabyte_is_refused_before_it_is_read(client, auth, admin_client):
    big = b'{"key": "x", "name": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    answer = client.post(
        "/api/v1/admin/vendors", data=big, headers={**auth, "Content-Type": "application/json"}
    )
    assert answer.status_code == 413 and answer.json["error"]["code"] == "request_entity_too_large"
    form = admin_client("viewer")
    login = form.post("/admin/login", {"email": "a@example.com", "password": "x" * 2_000_000})
    assert login.status_code == 413


@pytest.mark.sqlite_only(reason="the modes of the SQLite file and its -wal and -shm files")
def test_the_database_file_is_readable_by_its_owner_only(tmp_path):
    from server.storage import connect, migrate

    db = connect(tmp_path / "new.db")
    migrate(db)
    db.execute("INSERT INTO organization (id, doc) VALUES (1, '{}')")
    for name in ("new.db", "new.db-wal", "new.db-shm"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600, name
    db.close()


def test_the_access_log_of_the_real_server_holds_no_client_address(tmp_path, db_path):
    import os
    import signal
    import urllib.request

    from test_server_process import free_port, start

    port = free_port()
    process = start(db_path, port, tmp_path)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz?x=secret", timeout=5) as r:
            assert r.status == 200
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    log = (tmp_path / f"server-{port}.log").read_text()
    assert '"GET /healthz" 200' in log  # the request is logged ...
    # ... without the client's address (only gunicorn's own "Listening at" names one).
    assert "127.0.0.1 " not in log.replace("127.0.0.1:", "") and "secret" not in log


def test_a_decision_waiting_for_the_lock_is_stamped_after_it_and_checked_against_erasure(
    db_path, db, published
):
    """Issue 11 #3: the erased check and the time both come after the write lock (SQLite's
    one write lock; on PostgreSQL the consent id's lock, which the other writer holds)."""
    import threading
    import time

    from server.services import decisions as decision_service
    from server.storage import connect
    from server.storage import revisions as revision_store
    from server.storage.decisions import consent_lock

    def lookup(number):
        return revision_store.get(db, "shop", number)

    visitor = decision_service.Visitor()
    first = decision_service.record(db, "test-secret", "shop", decision(), lookup, visitor)
    again = decision(consent_id=first["consent_id"], receipt=first["receipt"])
    other = connect(db_path)
    # another worker holds the write lock (the consent id's, on PostgreSQL) ...
    other.begin_write([consent_lock("shop", first["consent_id"])])
    outcome = {}

    def post():
        mine = connect(db_path)
        try:

            def lookup_mine(number):
                return revision_store.get(mine, "shop", number)

            outcome["answer"] = decision_service.record(
                mine, "test-secret", "shop", again, lookup_mine, visitor
            )
        except Exception as error:  # noqa: BLE001 - the refusal is what is checked
            outcome["error"] = error
        finally:
            mine.close()

    thread = threading.Thread(target=post)
    thread.start()
    time.sleep(0.3)
    # ... and erases the consent id while the decision waits.
    decision_service.erase(other, "test-secret", "shop", first["consent_id"])
    other.commit()
    thread.join(timeout=15)
    other.close()
    assert "answer" not in outcome, "a decision recorded after its consent id was erased"
    assert getattr(outcome.get("error"), "code", None) == "bad_receipt"


@pytest.mark.sqlite_only(reason="SQLite's one write lock; PostgreSQL locks per consent id")
def test_a_decision_waiting_for_the_write_lock_is_stamped_after_its_release(db_path, db, published):
    import threading
    import time

    from server.services import decisions as decision_service
    from server.storage import connect
    from server.storage import revisions as revision_store
    from server.storage.util import iso_to_ms

    def lookup(number):
        return revision_store.get(db, "shop", number)

    visitor = decision_service.Visitor()
    # Without an erasure in between, the stamp is not older than the lock's release.
    other = connect(db_path)
    other.conn.execute("BEGIN IMMEDIATE")
    fresh = {}

    def post_fresh():
        mine = connect(db_path)
        try:
            fresh.update(
                decision_service.record(mine, "test-secret", "shop", decision(), lookup, visitor)
            )
        finally:
            mine.close()

    thread = threading.Thread(target=post_fresh)
    thread.start()
    time.sleep(0.3)
    released = time.time() * 1000
    other.conn.execute("COMMIT")
    thread.join(timeout=15)
    other.close()
    assert iso_to_ms(fresh["recorded_at"]) >= int(released) - 1
