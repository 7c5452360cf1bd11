"""Signing in and out, the session, CSRF tokens, roles, and slowing down password guessing."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from functools import wraps
from urllib.parse import urlsplit

from flask import current_app, flash, g, redirect, render_template, request, session, url_for

from server.db import get_db
from server.storage import accounts, throttle

from . import bp
from .i18n import LANGUAGES
from .i18n import gettext as _

RANK = {"viewer": 0, "editor": 1, "admin": 2}


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def error_page(status: int, message: str):
    response = render_template("admin/error.html", status=status, message=message)
    return response, status


@bp.before_request
def load_user_and_check_csrf():
    g.user = None
    user_id = session.get("uid")
    if user_id is not None:
        user = accounts.get_user(get_db(), user_id)
        # Read on every request, so that a deactivation, a role change or a sign-out (which
        # moves the login's session epoch on) applies at once, on every app machine.
        if user and user["active"] and session.get("epoch") == user["session_epoch"]:
            g.user = user
            g.actor = f"user:{user['email']}"
        else:
            session.pop("uid", None)
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        sent = request.form.get("csrf_token", "")
        if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
            return error_page(
                400,
                _(
                    "This form has expired or did not come from this site. "
                    "Go back, reload the page and try again."
                ),
            )
    if g.user and g.user["must_change_password"] and request.endpoint not in _BEFORE_NEW_PASSWORD:
        # A printed password has been seen by others: nothing else until the user picks one.
        if request.method == "GET":
            return redirect(url_for("admin.choose_password", next=request.full_path.rstrip("?")))
        return error_page(403, _("Choose your own password first."))
    return None


# What a user whose password was printed may reach before choosing their own.
_BEFORE_NEW_PASSWORD = {
    "admin.choose_password",
    "admin.logout",
    "admin.language",
    "admin.login",
    "admin.static",
}


ADMIN_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


@bp.after_request
def no_store(response):
    # Admin pages show personal data and one-time secrets: keep them out of shared caches.
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    # Only this server's own scripts, styles and frames; nothing an admin typed can run. A page
    # with a stricter policy of its own (the widget preview) keeps it.
    response.headers.setdefault("Content-Security-Policy", ADMIN_CSP)
    response.vary.add("Accept-Language")  # the language follows it until one is chosen
    return response


@bp.context_processor
def _auth_helpers():
    user = getattr(g, "user", None)
    # No menu while a new password is due: every page but that one is closed.
    role = user["role"] if user and not user["must_change_password"] else None
    return {
        "csrf_token": csrf_token,
        "user": getattr(g, "user", None),
        "can": lambda needed: role is not None and RANK[role] >= RANK[needed],
    }


def requires(role: str):
    """Refuse the view unless someone is signed in with at least `role`."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if g.user is None:
                if request.method == "GET":
                    return redirect(url_for("admin.login", next=request.full_path.rstrip("?")))
                return error_page(401, _("Your session has ended. Sign in again."))
            if RANK[g.user["role"]] < RANK[role]:
                return error_page(
                    403, _("Your role ({role}) may not do this.", role=_(g.user["role"]))
                )
            return view(*args, **kwargs)

        return wrapped

    return decorator


# A page of the admin to return to: printable ASCII only (no CR/LF to split a header, no
# backslash a browser reads as a slash), under /admin/.
SAFE_NEXT = re.compile(r"/admin/[\x21-\x5b\x5d-\x7e]*\Z")


def _safe_next(target: str | None) -> str:
    if target and SAFE_NEXT.match(target) and not urlsplit(target).netloc:
        return target
    return url_for("admin.dashboard")


@bp.route("/login", methods=["GET", "POST"])
def login():
    error, status = None, 200
    email = request.form.get("email", "").strip().lower()
    if request.method == "POST":
        db = get_db()
        # Throttled per address without storing it: a keyed hash of the whole address.
        address = hmac.new(
            current_app.config["SECRET_KEY"].encode(),
            (request.remote_addr or "unknown").encode(),
            hashlib.sha256,
        ).hexdigest()[:24]
        wait = throttle.wait_seconds(db, email, address)
        if wait:
            error, status = (
                _("Too many failed attempts. Try again in {seconds} seconds.", seconds=wait),
                429,
            )
        else:
            user = accounts.check_password(db, email, request.form.get("password", ""))
            if user is None:
                throttle.failed(db, email, address)
                error, status = _("Wrong email or password."), 401
            else:
                throttle.succeeded(db, email)
                lang = session.get("lang")
                session.clear()
                session.permanent = True
                stored = accounts.get_user(db, user["id"])
                assert stored is not None  # its password was just checked
                session["uid"] = user["id"]
                session["epoch"] = stored["session_epoch"]
                if lang:
                    session["lang"] = lang
                csrf_token()
                target = _safe_next(request.args.get("next"))
                if stored["must_change_password"]:
                    return redirect(url_for("admin.choose_password", next=target))
                return redirect(target)
    csrf_token()
    return render_template("admin/login.html", error=error, email=email), status


@bp.post("/logout")
def logout():
    if g.user:
        # Not only this cookie: a copy of it captured earlier stops working too.
        accounts.end_sessions(get_db(), g.user["id"])
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You have signed out."))
    return redirect(url_for("admin.login"))


@bp.post("/language")
def language():
    lang = request.form.get("lang")
    if lang in LANGUAGES:
        session["lang"] = lang
    return redirect(_safe_next(request.form.get("next")))


def new_password_problems(new: str, repeat: str) -> dict:
    """The rules for a password someone chooses (the same on every form)."""
    errors = {}
    if len(new) < MIN_PASSWORD:
        errors["new"] = [_("Use at least 10 characters.")]
    elif new != repeat:
        errors["repeat"] = [_("The two new passwords differ.")]
    return errors


MIN_PASSWORD = 10


@bp.route("/account", methods=["GET", "POST"])
@requires("viewer")
def account():
    errors = {}
    if request.method == "POST":
        db = get_db()
        current = request.form.get("current", "")
        new = request.form.get("new", "")
        if accounts.check_password(db, g.user["email"], current) is None:
            errors["current"] = [_("This is not your current password.")]
        errors.update(new_password_problems(new, request.form.get("repeat", "")))
        if not errors:
            # Other sessions of this user end; this browser stays signed in.
            session["epoch"] = accounts.set_password(db, g.user["id"], new, g.actor)
            flash(_("Your password has been changed."))
            return redirect(url_for("admin.account"))
    return render_template("admin/account.html", errors=errors), 400 if errors else 200


@bp.route("/choose-password", methods=["GET", "POST"])
@requires("viewer")
def choose_password():
    """The first sign-in with a printed password: the user replaces it before anything else."""
    target = _safe_next(request.args.get("next"))
    if not g.user["must_change_password"]:
        return redirect(target)
    errors = {}
    if request.method == "POST":
        db = get_db()
        new = request.form.get("new", "")
        errors = new_password_problems(new, request.form.get("repeat", ""))
        if not errors and accounts.is_password(db, g.user["id"], new):
            errors["new"] = [_("Choose a password other than the one you were given.")]
        if not errors:
            session["epoch"] = accounts.set_password(db, g.user["id"], new, g.actor)
            flash(_("Your password has been set. Welcome."))
            return redirect(target)
    return render_template(
        "admin/choose_password.html", errors=errors, next=target
    ), 400 if errors else 200
