"""The cookie session exists for the admin UI only: the widget and a site's public API never
open it, so that a signed-in admin's browser gets no cookie refreshed from them."""

from __future__ import annotations

import pytest

from support import ORIGIN, decision


def test_public_answers_set_no_cookie_for_a_signed_in_admin(admin_client, published):
    admin = admin_client("admin")
    # The admin's session is permanent and refreshed by every request that opens it.
    assert "session=" in admin.get("/admin/").headers.get("Set-Cookie", "")
    answers = [
        admin.get("/api/v1/sites/shop/config", headers={"Origin": ORIGIN}),
        admin.client.post(
            "/api/v1/sites/shop/decisions", json=decision(), headers={"Origin": ORIGIN}
        ),
        admin.client.options("/api/v1/sites/shop/decisions", headers={"Origin": ORIGIN}),
        admin.get("/w/shop.js"),
    ]
    assert [a.status_code for a in answers] == [200, 201, 204, 200]
    assert [a.headers.get("Set-Cookie") for a in answers] == [None] * 4
    # The session is untouched: still signed in.
    assert admin.get("/admin/").status_code == 200


def test_a_public_view_cannot_write_the_session(app, published):
    from flask import session

    with app.test_request_context("/api/v1/sites/shop/config"):
        app.preprocess_request()
        assert dict(session) == {}
        with pytest.raises(RuntimeError, match="never open it"):
            session["x"] = 1
