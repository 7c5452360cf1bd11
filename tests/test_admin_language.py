"""The admin UI speaks the browser's language until the visitor picks one with the button."""

from __future__ import annotations

import re

from server.storage import accounts
from support import ADMIN_PASSWORD

JA = {"Accept-Language": "ja-JP,ja;q=0.9,en;q=0.8"}
EN = {"Accept-Language": "en-US,en;q=0.9"}


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page)[1]


def test_a_japanese_browser_sees_the_sign_in_page_in_japanese(client):
    page = client.get("/admin/login", headers=JA)
    assert page.status_code == 200
    assert '<html lang="ja">' in page.text and "サインイン" in page.text
    assert "Accept-Language" in page.headers["Vary"]


def test_other_browsers_see_english(client):
    for headers in (EN, {"Accept-Language": "fr-FR,fr;q=0.9"}, {}):
        page = client.get("/admin/login", headers=headers).text
        assert '<html lang="en">' in page and "Sign in" in page


def test_the_quality_order_of_the_header_is_respected(client):
    page = client.get("/admin/login", headers={"Accept-Language": "fr, en;q=0.4, ja;q=0.8"})
    assert '<html lang="ja">' in page.text


def test_the_button_wins_over_the_browser_and_is_remembered(client, db):
    accounts.create_user(db, "ja-reader@example.com", ADMIN_PASSWORD, "editor")
    token = csrf(client.get("/admin/login", headers=JA).text)
    client.post(
        "/admin/language",
        data={"lang": "en", "next": "/admin/login", "csrf_token": token},
        headers=JA,
    )
    assert '<html lang="en">' in client.get("/admin/login", headers=JA).text
    # Still English after signing in, on every page, while the browser keeps asking for ja.
    client.post(
        "/admin/login",
        data={"email": "ja-reader@example.com", "password": ADMIN_PASSWORD, "csrf_token": token},
        headers=JA,
    )
    dashboard = client.get("/admin/", headers=JA)
    assert dashboard.status_code == 200 and '<html lang="en">' in dashboard.text
    # And the other way round: an English browser that chose Japanese keeps Japanese.
    client.post(
        "/admin/language",
        data={"lang": "ja", "next": "/admin/", "csrf_token": csrf(dashboard.text)},
        headers=EN,
    )
    assert '<html lang="ja">' in client.get("/admin/", headers=EN).text
