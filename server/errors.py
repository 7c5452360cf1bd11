"""The JSON error shape of the API, and readable error pages elsewhere."""

from __future__ import annotations

import json

from flask import jsonify, request
from werkzeug.exceptions import HTTPException


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_response(status: int, code: str, message: str):
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


def _is_api() -> bool:
    return request.path.startswith("/api/")


def init_app(app):
    @app.errorhandler(ApiError)
    def api_error(error: ApiError):
        return error_response(error.status, error.code, error.message)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if not _is_api():
            return error
        response = error.get_response()
        code = (error.name or "error").lower().replace(" ", "_")
        response.data = json.dumps({"error": {"code": code, "message": error.description}})
        response.content_type = "application/json"
        return response
