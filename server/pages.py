"""Pages outside the API: the health check for load balancers."""

from __future__ import annotations

from flask import Blueprint, jsonify

from .db import get_db

bp = Blueprint("pages", __name__)


@bp.get("/healthz")
def healthz():
    try:
        get_db().execute("SELECT 1").fetchone()
    except Exception as error:  # noqa: BLE001 - any database failure means "not healthy"
        return jsonify({"status": "unavailable", "error": type(error).__name__}), 503
    return jsonify({"status": "ok"})
