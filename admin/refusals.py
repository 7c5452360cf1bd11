"""A refused registry command in the admin's language: the services' typed errors as UI text."""

from __future__ import annotations

from server.services.errors import Invalid, ServiceError

from . import forms
from .i18n import gettext as _

# Next to the key field of a form: "a vendor with this key already exists".
_EXISTS = {
    "vendor": "a vendor with this key already exists",
    "site": "a site with this key already exists",
    "category": "this site already has this category",
    "section": "a section with this key already exists",
}


def _items(value: object) -> list[object]:
    return list(value) if isinstance(value, list | tuple) else []


def exists_message(error: ServiceError) -> str:
    return _(_EXISTS.get(str(error.details.get("what")), "this key is already taken"))


def message(error: ServiceError) -> str:
    """One sentence for a flash message or the top of a form."""
    d = error.details
    what, key = d.get("what"), d.get("key")
    if error.code == "in_use" and what == "vendor":
        return _(
            "Vendor {key} is still assigned to {sites}; remove it from those sites first.",
            key=key,
            sites=", ".join(str(site) for site in _items(d.get("sites"))),
        )
    if error.code == "in_use" and what == "category":
        return _(
            "Category {key} still holds {vendors}; move or remove them first.",
            key=key,
            vendors=", ".join(str(vendor) for vendor in _items(d.get("vendors"))),
        )
    if error.code == "published":
        return _(
            "Site {key} has published revisions and cannot be deleted: its consent log "
            "must stay provable.",
            key=key,
        )
    if error.code == "exists" and what == "assignment":
        return _("Vendor {key} is already assigned to this site.", key=key)
    if error.code == "exists":
        return exists_message(error)
    if error.code == "no_organization":
        return _("Save the organization's name first.")
    return error.message


def form_errors(
    error: ServiceError, fields: set[str], line_fields: tuple[str, ...] = ()
) -> tuple[dict[str, list[str]], list[str]]:
    """A refused form: ({field: [messages]}, [general messages]) in the admin's language."""
    if isinstance(error, Invalid):
        return forms.field_errors(error.problems, error.prefix, fields, line_fields=line_fields)
    if error.code == "exists" and error.field in fields:
        return {error.field: [exists_message(error)]}, []
    return {}, [message(error)]
