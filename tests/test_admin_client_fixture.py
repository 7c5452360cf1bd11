"""The shared `admin_client(role)` fixture signs in with the role it names."""

from __future__ import annotations


def test_admin_client_signs_in_with_its_role_and_posts_with_csrf(admin_client, published):
    viewer = admin_client("viewer")
    assert viewer.get("/admin/").status_code == 200
    # A viewer's post is refused for its role, not for a missing CSRF token.
    refused = viewer.post("/admin/sites/shop/publish")
    assert refused.status_code == 403
    editor = admin_client("editor")
    assert editor.post("/admin/sites/shop/publish").status_code == 302
