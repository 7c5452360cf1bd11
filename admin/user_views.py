"""Users and API tokens: admins only."""

from __future__ import annotations

import secrets

from flask import flash, g, redirect, render_template, request, url_for

from server.db import get_db
from server.storage import accounts

from . import ID, bp
from .auth import error_page, requires
from .i18n import gettext as _


@bp.get("/users")
@requires("admin")
def users():
    return render_template(
        "admin/users.html",
        users=accounts.list_users(get_db()),
        roles=accounts.ROLES,
        errors={},
        values={"role": "editor"},
    )


@bp.post("/users")
@requires("admin")
def user_create():
    db = get_db()
    email = request.form.get("email", "").strip().lower()
    role = request.form.get("role", "")
    password = request.form.get("password", "")
    errors = {}
    if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
        errors["email"] = [_("Enter an email address.")]
    if role not in accounts.ROLES:
        errors["role"] = [_("Choose a role.")]
    if password and len(password) < 10:
        errors["password"] = [_("Use at least 10 characters, or leave empty to generate one.")]
    if not errors:
        generated = not password
        password = password or secrets.token_urlsafe(12)
        try:
            accounts.create_user(
                db, email, password, role, actor=g.actor, must_change_password=generated
            )
        except ValueError:
            errors["email"] = [_("A user with this email already exists.")]
        else:
            flash(_("User {email} created.", email=email))
            return render_template(
                "admin/users.html",
                users=accounts.list_users(db),
                roles=accounts.ROLES,
                errors={},
                values={"role": "editor"},
                shown_once={"email": email, "password": password} if generated else None,
            )
    return render_template(
        "admin/users.html",
        users=accounts.list_users(db),
        roles=accounts.ROLES,
        errors=errors,
        values=request.form.to_dict(),
    ), 400


@bp.post(f"/users/<{ID}:user_id>")
@requires("admin")
def user_update(user_id):
    role = request.form.get("role")
    active = {"1": True, "0": False}.get(request.form.get("active", ""))
    if role is not None and role not in accounts.ROLES:
        return error_page(400, _("Choose a role."))
    try:
        found = accounts.update_user(get_db(), user_id, g.actor, role=role, active=active)
    except ValueError:
        flash(_("The last active admin cannot be demoted or deactivated."), "error")
        return redirect(url_for("admin.users"))
    if not found:
        return error_page(404, _("No such user."))
    flash(_("User updated."))
    return redirect(url_for("admin.users"))


@bp.get("/tokens")
@requires("admin")
def tokens():
    return render_template(
        "admin/tokens.html",
        tokens=accounts.list_tokens(get_db()),
        roles=accounts.ROLES,
        errors={},
        values={"role": "viewer"},
    )


@bp.post("/tokens")
@requires("admin")
def token_create():
    db = get_db()
    name = request.form.get("name", "").strip()
    role = request.form.get("role", "")
    errors = {}
    if not name or len(name) > 100:
        errors["name"] = [_("Give the token a name of at most 100 characters.")]
    if role not in accounts.ROLES:
        errors["role"] = [_("Choose a role.")]
    if errors:
        return render_template(
            "admin/tokens.html",
            tokens=accounts.list_tokens(db),
            roles=accounts.ROLES,
            errors=errors,
            values=request.form.to_dict(),
        ), 400
    token = accounts.create_token(db, name, role, actor=g.actor)
    return render_template(
        "admin/tokens.html",
        tokens=accounts.list_tokens(db),
        roles=accounts.ROLES,
        errors={},
        values={"role": "viewer"},
        new_token={"name": name, "token": token},
    )


@bp.post(f"/tokens/<{ID}:token_id>/revoke")
@requires("admin")
def token_revoke(token_id):
    if accounts.revoke_token(get_db(), token_id, g.actor):
        flash(_("Token revoked."))
    else:
        flash(_("This token was already revoked or does not exist."), "error")
    return redirect(url_for("admin.tokens"))
