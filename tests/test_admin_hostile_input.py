"""Admin UI: hostile or absurd input gets a 4xx or a form error, never a 5xx."""

from __future__ import annotations

import pytest

HUGE = "9" * 24


@pytest.fixture
def app(db_path, db):
    from server import create_app

    # TESTING off: an exception becomes the 500 a visitor would get, not a test error
    return create_app({"DATABASE": db_path, "SECRET_KEY": "test-secret"})


@pytest.mark.parametrize(
    "path",
    [
        "/admin/sites/shop/figures?from=9999-12-31",
        "/admin/sites/shop/figures?to=0001-01-01",
        "/admin/consents/export?site=shop&to=9999-12-31",
        f"/admin/audit?before_id={HUGE}",
        f"/admin/sites/shop/revisions/{HUGE}/rollback",
    ],
)
def test_absurd_numbers_and_dates_in_urls(admin_client, db, published, path):
    admin = admin_client("admin")
    assert admin.get(path).status_code < 500


def test_absurd_ids_in_posted_urls(admin_client, db, published):
    admin = admin_client("admin")
    for path in (
        f"/admin/users/{HUGE}",
        f"/admin/tokens/{HUGE}/revoke",
        f"/admin/sites/shop/revisions/{HUGE}/rollback",
    ):
        assert admin.post(path).status_code in (404, 405)


@pytest.mark.parametrize("cookies", [",", "a, ²", " , \n,,"])
def test_odd_cookie_lines_in_the_vendor_form(admin_client, db, published, cookies):
    admin = admin_client("admin")
    response = admin.post(
        "/admin/vendors/new",
        data={
            "key": "odd-vendor",
            "name": "Odd",
            "recipient": "Odd Co.",
            "privacy_policy_url": "https://odd.example/privacy",
            "cookies": cookies,
            "purpose.ja": "目的",
            "purpose.en": "Purpose",
            "data_sent.ja": "情報",
            "data_sent.en": "Data",
        },
    )
    assert response.status_code < 500
