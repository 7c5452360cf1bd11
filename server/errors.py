"""The JSON error shape of the API, and readable error pages elsewhere."""

from __future__ import annotations

from flask import jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_response(status: int, code: str, message: str):
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


def _is_api() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def _api_message(error: HTTPException) -> str:
    """Werkzeug's texts are written for browsers; an API caller wants the path and the fix."""
    if isinstance(error, NotFound) and request.url_rule is None:
        return (
            f"No API endpoint at {request.path}; the endpoints are listed in /api/v1/openapi.json."
        )
    if isinstance(error, MethodNotAllowed):
        allowed = sorted(m for m in (error.valid_methods or ()) if m not in ("HEAD", "OPTIONS"))
        return f"{request.method} is not allowed on {request.path}; use {', '.join(allowed)}."
    return error.description or error.name


def init_app(app):
    @app.errorhandler(ApiError)
    def api_error(error: ApiError):
        return error_response(error.status, error.code, error.message)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if not _is_api() or error.code is None:
            return error
        code = (error.name or "error").lower().replace(" ", "_")
        response = error_response(error.code, code, _api_message(error))
        # Keep what Werkzeug would have sent besides the body: `Allow` on a 405 above all.
        for name, value in error.get_headers():
            if name.lower() not in ("content-type", "content-length"):
                response.headers[name] = value
        return response
