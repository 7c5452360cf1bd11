"""Headers every response carries, whatever blueprint made it (pages add their own CSP)."""

from __future__ import annotations

from flask import Flask, Response, request

# One year; sent only over https, where a browser honours it (never on plain http).
HSTS = "max-age=31536000; includeSubDomains"


def init_app(app: Flask) -> None:
    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response
