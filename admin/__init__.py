"""The admin web UI: a Flask blueprint mounted at /admin/, server-rendered with Jinja."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, NoReturn

from flask import Blueprint, Flask, Request, request
from flask.sessions import NullSession, SecureCookieSession, SecureCookieSessionInterface

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


# Paths whose views never read nor write the session: the widget's files and a site's public
# API. Opening it costs about 50 µs a request (a signing serializer, the cookie read), and a
# signed-in admin's browser would get its cookie refreshed from a public answer.
SESSIONLESS = ("/w/", "/api/v1/sites/")


class _NoSession(NullSession):
    """The session of a request under SESSIONLESS: reads as empty, refuses writes."""

    def _fail(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise RuntimeError(
            f"No session on {request.path}: the widget and the public API never open it"
        )

    __setitem__ = __delitem__ = clear = pop = popitem = update = setdefault = _fail


class _SessionInterface(SecureCookieSessionInterface):
    """The session cookie is Secure whenever the request came over https (or config says so)."""

    null_session_class = _NoSession

    def get_cookie_secure(self, app):
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(SESSIONLESS):
            return None  # Flask then takes null_session_class; nothing is saved
        return super().open_session(app, request)


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
