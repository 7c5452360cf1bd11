"""The shared `admin_client(role)` fixture signs in with the role it names; `FormClient` is the
signed-out client with a valid CSRF token."""

from __future__ import annotations

from support import FormClient


def test_admin_client_signs_in_with_its_role_and_posts_with_csrf(admin_client, published):
    viewer = admin_client("viewer")
    assert viewer.get("/admin/").status_code == 200
    # A viewer's post is refused for its role, not for a missing CSRF token.
    refused = viewer.post("/admin/sites/shop/publish")
    assert refused.status_code == 403
    editor = admin_client("editor")
    assert editor.post("/admin/sites/shop/publish").status_code == 302


def test_a_form_client_is_signed_out_and_refused_for_that_alone(client, db, published):
    anonymous = FormClient(client)
    assert anonymous.get("/admin/").status_code == 302
    # Not a 400 for a missing token: the post is refused because nobody is signed in.
    assert anonymous.post("/admin/sites/shop/publish").status_code == 401
    assert anonymous.client.post("/admin/sites/shop/publish").status_code == 400
