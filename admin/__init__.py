"""The admin web UI: a Flask blueprint mounted at /admin/, server-rendered with Jinja."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, request
from flask.sessions import SecureCookieSessionInterface

bp = Blueprint(
    "admin",
    __name__,
    url_prefix="/admin",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

# Ids in URLs: bounded, so that a number too large for the database is a 404, not a 500.
ID = "int(max=9223372036854775807)"


class _SessionInterface(SecureCookieSessionInterface):
    """The session cookie is Secure whenever the request came over https (or config says so)."""

    def get_cookie_secure(self, app):
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure


@bp.record_once
def _configure(state):
    app = state.app
    app.session_interface = _SessionInterface()
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    if app.config.get("SESSION_COOKIE_SAMESITE") is None:
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.permanent_session_lifetime = timedelta(hours=12)


# The views register themselves on `bp`; they import it, so they come after it.
from . import (  # noqa: E402, F401
    auth,
    i18n,
    log_views,
    organization_views,
    publish_views,
    registry_views,
    scan_views,
    user_views,
)
