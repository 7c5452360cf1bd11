"""The organization page: its name, privacy policy URL and the privacy center's sections.

Saved through server.services.registry, like every registry edit: load, edit, validate the
whole, save with audit entries, all in one transaction.
"""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for

from server.db import get_db
from server.services import registry
from server.services.errors import Conflict, Invalid
from server.storage import registry as registry_store

from . import bp, forms, refusals
from .auth import requires
from .i18n import gettext as _

ORG_FIELDS = {"name.ja", "name.en", "privacy_policy_url"}
SECTION_FIELDS = {"key", "title.ja", "title.en", "body.ja", "body.en"}


def _languages(db) -> list[str]:
    """The languages the organization's texts must have: those of every site (else ja)."""
    langs = registry_store.site_languages(db)
    return [lang for lang in forms.LANGS if lang in langs] or ["ja"]


def _org_values(org):
    values = {"privacy_policy_url": org.get("privacy_policy_url")}
    forms.flatten_texts(values, "name", org.get("name"))
    return values


def _org_page(values=None, errors=None, general=None, status=200):
    db = get_db()
    org = registry_store.organization(db) or {}
    return render_template(
        "admin/organization.html",
        organization=org,
        sections=org.get("sections") or [],
        values=values if values is not None else _org_values(org),
        errors=errors or {},
        general=general or [],
        required_langs=_languages(db),
    ), status


@bp.get("/organization")
@requires("viewer")
def organization():
    return _org_page()


@bp.post("/organization")
@requires("editor")
def organization_save():
    fields = {
        "name": forms.texts(request.form, "name"),
        "privacy_policy_url": forms.text(request.form, "privacy_policy_url"),
    }
    fields = {k: v for k, v in fields.items() if v is not None}
    try:
        registry.update_organization(get_db(), fields, g.actor)  # sections are kept
    except Invalid as error:
        errors, general = forms.field_errors(error.problems, error.prefix, ORG_FIELDS)
        return _org_page(request.form.to_dict(), errors, general, 400)
    flash(_("Organization saved. It shows on the privacy center at once."))
    return redirect(url_for("admin.organization"))


# Sections


def _section_from_form(form, key=None):
    return {
        "key": key or forms.text(form, "key"),
        "title": forms.texts(form, "title"),
        "body": forms.texts(form, "body"),
    }


def _section_values(section):
    values = {"key": section["key"]}
    forms.flatten_texts(values, "title", section.get("title"))
    forms.flatten_texts(values, "body", section.get("body"))
    return values


def _section_form(key=None):
    is_new = key is None
    db = get_db()
    required_langs = _languages(db)

    def page(values, errors=None, general=None, status=200):
        return render_template(
            "admin/section_form.html",
            values=values,
            errors=errors or {},
            general=general or [],
            is_new=is_new,
            key=key,
            required_langs=required_langs,
        ), status

    if request.method == "GET":
        if is_new:
            return page({})
        sections = (registry_store.organization(db) or {}).get("sections") or []
        section = next((s for s in sections if s["key"] == key), None)
        if section is None:
            abort(404)
        return page(_section_values(section))
    section = _section_from_form(request.form, key)
    try:
        registry.save_section(db, section, g.actor, key=key)
    except (Invalid, Conflict) as error:
        errors, general = refusals.form_errors(error, SECTION_FIELDS)
        values = request.form.to_dict()
        if key:
            values["key"] = key
        # A taken key is a field error (400); no organization to add to is a conflict (409).
        return page(values, errors, general, 409 if error.code == "no_organization" else 400)
    flash(_("Section {key} saved.", key=section["key"]))
    return redirect(url_for("admin.organization") + "#sections")


@bp.route("/organization/sections/new", methods=["GET", "POST"])
@requires("editor")
def section_new():
    return _section_form()


@bp.get("/organization/sections/<key>")
@requires("viewer")
def section_edit(key):
    return _section_form(key)


@bp.post("/organization/sections/<key>")
@requires("editor")
def section_save(key):
    return _section_form(key)


def _sections_change(command, done_message):
    try:
        command()
    except Invalid as error:
        flash(_("Nothing was saved:") + " " + "; ".join(error.problems), "error")
    except Conflict as error:
        flash(refusals.message(error), "error")
    else:
        flash(done_message)
    return redirect(url_for("admin.organization") + "#sections")


@bp.post("/organization/sections/<key>/move")
@requires("editor")
def section_move(key):
    step = -1 if request.form.get("direction") == "up" else 1
    return _sections_change(
        lambda: registry.move_section(get_db(), key, step, g.actor),
        _("Section {key} moved.", key=key),
    )


@bp.post("/organization/sections/<key>/delete")
@requires("editor")
def section_delete(key):
    return _sections_change(
        lambda: registry.delete_section(get_db(), key, g.actor),
        _("Section {key} removed.", key=key),
    )
