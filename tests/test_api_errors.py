"""Every answer under /api/ is JSON with the error shape, even for a path or method that no
route serves; pages outside the API keep their HTML errors."""

from __future__ import annotations

import pytest


def assert_error_shape(response, status: int, code: str):
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]["message"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/nothing",
        "/api/v1/",
        "/api/v1/admin/nothing",
        "/api/v1/sites/shop/nothing",
        "/api/v1/sites/shop/config/extra",
        "/api/v1/consents/abc/def",
        "/api/v2/sites/shop/config",
        "/api/",
    ],
)
def test_an_unknown_api_path_answers_the_json_error_shape(client, published, path):
    message = assert_error_shape(client.get(path), 404, "not_found")
    # Written for an API caller: which path, and where the real ones are listed.
    assert path in message and "/api/v1/openapi.json" in message
    assert "If you entered the URL manually" not in message


def test_unknown_api_paths_answer_json_to_any_method(client, published, auth):
    for method in ("post", "put", "patch", "delete"):
        response = getattr(client, method)("/api/v1/admin/nothing", headers=auth)
        assert_error_shape(response, 404, "not_found")


def test_a_404_of_a_real_route_keeps_its_own_code(client, published):
    assert_error_shape(client.get("/api/v1/sites/nowhere/config"), 404, "unknown_site")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("put", "/api/v1/sites/shop/decisions", {"POST"}),
        ("delete", "/api/v1/sites/shop/config", {"GET"}),
        ("post", "/api/v1/openapi.json", {"GET"}),
        ("patch", "/api/v1/admin/vendors", {"GET", "POST"}),
    ],
)
def test_a_wrong_method_answers_405_json_with_allow(client, published, method, path, allowed):
    response = getattr(client, method)(path)
    message = assert_error_shape(response, 405, "method_not_allowed")
    methods = {m.strip() for m in response.headers["Allow"].split(",")}
    assert allowed <= methods and method.upper() not in methods
    assert method.upper() in message and all(name in message for name in allowed)


def test_head_of_an_unknown_api_path_has_no_body(client):
    response = client.head("/api/v1/nothing")
    assert response.status_code == 404 and response.mimetype == "application/json"
    assert response.data == b""


def test_pages_outside_the_api_keep_html_errors(client, published):
    response = client.get("/no-such-page")
    assert response.status_code == 404 and response.mimetype == "text/html"
    # A path that merely starts with "api" is not the API.
    assert client.get("/apiary").mimetype == "text/html"
