"""A login whose password was generated and printed must choose its own at the first sign-in,
and reaches no other admin page before it does; a login given its password does not."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from server.cli import main
from server.storage import accounts, connect, migrate
from server.storage.schema import schema_version
from support import ADMIN_PASSWORD

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PRINTED = re.compile(r"with password (\S+)")


def cli(db_path, *args, input=None, env=None):
    result = CliRunner().invoke(
        main, ["--database", db_path, *args], input=input, env=env, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return result.output


def sign_in(client, email, password, next_url=None, headers=None):
    token = CSRF.search(client.get("/admin/login", headers=headers).text)[1]
    url = "/admin/login" + (f"?next={next_url}" if next_url else "")
    return client.post(
        url, data={"email": email, "password": password, "csrf_token": token}, headers=headers
    )


def printed_admin(db_path, email="root@example.com"):
    output = cli(db_path, "create-admin", email)
    assert "a new one is asked at the first sign-in" in output
    return PRINTED.search(output)[1]


def choose(client, new, repeat=None, next_url="/admin/"):
    page = client.get(f"/admin/choose-password?next={next_url}")
    return client.post(
        f"/admin/choose-password?next={next_url}",
        data={
            "new": new,
            "repeat": new if repeat is None else repeat,
            "csrf_token": CSRF.search(page.text)[1],
        },
    )


def test_the_printed_password_leads_to_the_choose_your_password_page(client, db, db_path):
    password = printed_admin(db_path)
    response = sign_in(client, "root@example.com", password, next_url="/admin/vendors")
    assert response.status_code == 302
    assert response.location.startswith("/admin/choose-password?next=/admin/vendors")
    page = client.get(response.location)
    assert page.status_code == 200 and "Choose your password" in page.text
    assert 'autocomplete="new-password"' in page.text
    # No menu leads elsewhere while the new password is due.
    assert 'href="/admin/vendors"' not in page.text and 'href="/admin/users"' not in page.text


@pytest.mark.parametrize(
    "url", ["/admin/", "/admin/vendors", "/admin/users", "/admin/tokens", "/admin/account"]
)
def test_no_other_page_opens_before_the_new_password(client, db, db_path, url):
    sign_in(client, "root@example.com", printed_admin(db_path))
    response = client.get(url)
    assert response.status_code == 302
    assert response.location.startswith("/admin/choose-password?next=")


def test_no_other_form_works_before_the_new_password(client, db, db_path):
    sign_in(client, "root@example.com", printed_admin(db_path))
    token = CSRF.search(client.get("/admin/choose-password").text)[1]
    created = client.post(
        "/admin/users", data={"email": "x@example.com", "role": "admin", "csrf_token": token}
    )
    assert created.status_code == 403 and "Choose your own password first" in created.text
    assert [u["email"] for u in accounts.list_users(db)] == ["root@example.com"]
    # Signing out and switching the language still work.
    assert (
        client.post("/admin/language", data={"lang": "ja", "csrf_token": token}).status_code == 302
    )
    assert client.post("/admin/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/admin/").location.startswith("/admin/login")


def test_choosing_the_password_follows_the_password_rules(client, db, db_path):
    password = printed_admin(db_path)
    sign_in(client, "root@example.com", password)
    short = choose(client, "short")
    assert short.status_code == 400 and "Use at least 10 characters." in short.text
    differ = choose(client, "a long new password", "another long password")
    assert differ.status_code == 400 and "The two new passwords differ." in differ.text
    same = choose(client, password)
    assert same.status_code == 400 and "other than the one you were given" in same.text
    assert 'aria-invalid="true"' in same.text
    # Without the form's CSRF token: refused, nothing changed.
    forged = client.post("/admin/choose-password", data={"new": "x" * 12, "repeat": "x" * 12})
    assert forged.status_code == 400
    user = accounts.check_password(db, "root@example.com", password)
    assert user and accounts.get_user(db, user["id"])["must_change_password"]


def test_once_chosen_every_page_opens_and_only_the_new_password_works(client, db, db_path):
    password = printed_admin(db_path)
    sign_in(client, "root@example.com", password, next_url="/admin/vendors")
    done = choose(client, "my own long password", next_url="/admin/vendors")
    assert done.status_code == 302 and done.location == "/admin/vendors"
    vendors = client.get("/admin/vendors")
    assert vendors.status_code == 200 and "Your password has been set" in vendors.text
    assert client.get("/admin/users").status_code == 200
    # The page is gone for this user: it leads back to the admin.
    assert client.get("/admin/choose-password").location == "/admin/"
    assert accounts.check_password(db, "root@example.com", password) is None
    user = accounts.check_password(db, "root@example.com", "my own long password")
    assert not accounts.get_user(db, user["id"])["must_change_password"]
    # The next sign-in goes straight in.
    other = client.application.test_client()
    assert sign_in(other, "root@example.com", "my own long password").location == "/admin/"


def test_the_next_page_stays_on_the_admin(client, db, db_path):
    sign_in(client, "root@example.com", printed_admin(db_path))
    done = choose(client, "my own long password", next_url="//evil.example/admin/")
    assert done.status_code == 302 and done.location == "/admin/"


def test_the_page_is_in_japanese_too(client, db, db_path):
    ja = {"Accept-Language": "ja"}
    sign_in(client, "root@example.com", printed_admin(db_path), headers=ja)
    page = client.get("/admin/choose-password", headers=ja).text
    assert '<html lang="ja">' in page and "パスワードの設定" in page
    assert "渡されたものとは別のパスワード" in page


def test_a_password_given_on_stdin_is_not_asked_again(client, db, db_path):
    output = cli(
        db_path, "create-admin", "two@example.com", "--password-stdin", input=ADMIN_PASSWORD + "\n"
    )
    assert ADMIN_PASSWORD not in output
    assert sign_in(client, "two@example.com", ADMIN_PASSWORD).location == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_accounts_create_user_does_not_force_by_default(db):
    user_id = accounts.create_user(db, "plain@example.com", ADMIN_PASSWORD, "viewer")
    assert accounts.get_user(db, user_id)["must_change_password"] is False


def test_the_demo_login_must_choose_unless_its_password_was_given(new_database):
    printed = new_database("printed")
    output = cli(printed, "demo")
    assert "a new one is asked at the first sign-in" in output
    db = connect(printed)
    assert accounts.list_users(db)[0]["must_change_password"] is True
    db.close()
    given = new_database("given")
    output = cli(given, "demo", env={"PRIVACY_CENTER_ADMIN_PASSWORD": "a password we chose"})
    assert "a new one is asked" not in output
    db = connect(given)
    assert tuple(db.execute("SELECT must_change_password FROM users").fetchone()) == (0,)
    db.close()


def test_a_user_created_in_the_admin_ui(admin_client, db):
    boss = admin_client("admin")
    page = boss.post("/admin/users", {"email": "gen@example.com", "role": "editor"}).text
    assert "asked to choose their own when they first sign in" in page
    boss.post(
        "/admin/users",
        {"email": "typed@example.com", "role": "editor", "password": "typed long password"},
    )
    flags = {u["email"]: u["must_change_password"] for u in accounts.list_users(db)}
    assert flags["gen@example.com"] is True and flags["typed@example.com"] is False


def test_an_existing_database_gets_the_flag_off_for_its_users(new_database):
    db = connect(new_database(empty=True))
    migrate(db)
    version = schema_version(db)
    # As a database from before step 4 (and so from before every later step): one user.
    db.execute("ALTER TABLE users DROP COLUMN session_epoch")
    db.execute("ALTER TABLE users DROP COLUMN must_change_password")
    db.set_schema_version(3)
    db.execute(
        "INSERT INTO users (email, password_hash, role, created_at) "
        "VALUES ('old@example.com', 'x', 'admin', '2026-01-01T00:00:00Z')"
    )
    assert migrate(db) == (3, version)
    assert accounts.list_users(db)[0]["must_change_password"] is False
    assert migrate(db) == (version, version)  # and again: nothing to do
    # The steps themselves can run again on a database that has the columns.
    db.set_schema_version(3)
    assert migrate(db) == (3, version)
    db.close()
