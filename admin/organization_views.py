"""The organization page: its name, privacy policy URL and the privacy center's sections.

Saved the way every registry edit is (registry_views.change): load, edit, validate the whole,
save with audit entries, all in one transaction.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from server.db import get_db
from server.storage import registry as registry_store

from . import bp, forms
from .auth import requires
from .i18n import gettext as _
from .registry_views import Invalid, Refused, change

ORG_FIELDS = {"name.ja", "name.en", "privacy_policy_url"}
SECTION_FIELDS = {"key", "title.ja", "title.en", "body.ja", "body.en"}


def _languages(doc) -> list[str]:
    """The languages the organization's texts must have: those of every site (else ja)."""
    langs = {lang for site in doc["sites"] for lang in site.get("languages") or []}
    return [lang for lang in forms.LANGS if lang in langs] or ["ja"]


def _org_values(org):
    values = {"privacy_policy_url": org.get("privacy_policy_url")}
    forms.flatten_texts(values, "name", org.get("name"))
    return values


def _org_page(values=None, errors=None, general=None, status=200):
    doc = registry_store.load(get_db())
    org = doc.get("organization") or {}
    return render_template(
        "admin/organization.html",
        organization=org,
        sections=org.get("sections") or [],
        values=values if values is not None else _org_values(org),
        errors=errors or {},
        general=general or [],
        required_langs=_languages(doc),
    ), status


def _section_index(org, key):
    for index, section in enumerate((org or {}).get("sections") or []):
        if section["key"] == key:
            return index, section
    abort(404)


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

    def mutate(doc):
        old = doc.get("organization") or {}
        doc["organization"] = {**fields, "sections": old.get("sections") or []}
        return "organization"

    try:
        change(mutate)
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
    doc = registry_store.load(get_db())
    required_langs = _languages(doc)
    errors, general = {}, []

    def page(values, status=200):
        return render_template(
            "admin/section_form.html",
            values=values,
            errors=errors,
            general=general,
            is_new=is_new,
            key=key,
            required_langs=required_langs,
        ), status

    if request.method == "GET":
        return page(
            {} if is_new else _section_values(_section_index(doc.get("organization"), key)[1])
        )
    section = _section_from_form(request.form, key)

    def mutate(doc):
        org = doc.get("organization")
        if org is None:
            raise Refused(_("Save the organization's name first."))
        sections = org.setdefault("sections", [])
        if is_new:
            prefix = f"organization.sections[{len(sections)}]"
            if any(s["key"] == section["key"] for s in sections):
                raise Invalid(
                    [f"{prefix}.key: " + _("a section with this key already exists")], prefix
                )
            sections.append(section)
            return prefix
        index, _old = _section_index(org, key)
        sections[index] = section
        return f"organization.sections[{index}]"

    try:
        change(mutate)
    except Invalid as error:
        errors, general = forms.field_errors(error.problems, error.prefix, SECTION_FIELDS)
        values = request.form.to_dict()
        if key:
            values["key"] = key
        return page(values, 400)
    except Refused as error:
        general.append(str(error))
        return page(request.form.to_dict(), 409)
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


def _sections_change(mutate, done_message):
    try:
        change(mutate)
    except Invalid as error:
        flash(_("Nothing was saved:") + " " + "; ".join(error.problems), "error")
    else:
        flash(done_message)
    return redirect(url_for("admin.organization") + "#sections")


@bp.post("/organization/sections/<key>/move")
@requires("editor")
def section_move(key):
    step = -1 if request.form.get("direction") == "up" else 1

    def mutate(doc):
        org = doc.get("organization")
        position, _item = _section_index(org, key)
        sections = org["sections"]
        target = min(max(position + step, 0), len(sections) - 1)
        sections.insert(target, sections.pop(position))
        return ""

    return _sections_change(mutate, _("Section {key} moved.", key=key))


@bp.post("/organization/sections/<key>/delete")
@requires("editor")
def section_delete(key):
    def mutate(doc):
        org = doc.get("organization")
        position, _item = _section_index(org, key)
        del org["sections"][position]
        return ""

    return _sections_change(mutate, _("Section {key} removed.", key=key))
