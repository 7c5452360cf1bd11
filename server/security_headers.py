"""Headers every response carries, whatever blueprint made it (pages add their own CSP)."""

from __future__ import annotations

from flask import Flask, Response, request

# One year; sent only over https, where a browser honours it (never on plain http).
HSTS = "max-age=31536000; includeSubDomains"


def defaults(secure: bool) -> list[tuple[str, str]]:
    """The headers every response has unless its view set them (server/fastpath.py too)."""
    headers = [
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ]
    if secure:
        headers.append(("Strict-Transport-Security", HSTS))
    return headers


def init_app(app: Flask) -> None:
    @app.after_request
    def security_headers(response: Response) -> Response:
        for name, value in defaults(request.is_secure):
            response.headers.setdefault(name, value)
        return response
