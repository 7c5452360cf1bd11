"""Pages that edit the registry: vendors, sites, their categories and assignments.

Every command goes through server.services.registry, the same commands the admin API calls;
these views turn forms into commands and the commands' typed errors into form messages.
"""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from werkzeug.exceptions import NotFound as werkzeug_not_found

from server.db import get_db
from server.registry import CONSENT_TYPES, DEFAULT_RETENTION_DAYS
from server.services import registry
from server.services.errors import Conflict, Invalid, NotFound
from server.storage import registry as registry_store
from server.storage import revisions as revision_store

from . import bp, forms, refusals
from .auth import requires
from .i18n import gettext as _

VENDOR_FIELDS = {
    "key",
    "name",
    "recipient",
    "country",
    "privacy_policy_url",
    "opt_out_url",
    "hosts",
    "cookies",
    "data_sent.ja",
    "data_sent.en",
    "purpose.ja",
    "purpose.en",
}
SITE_FIELDS = {
    "key",
    "name.ja",
    "name.en",
    "origins",
    "languages",
    "default_language",
    "consent_max_age_days",
    "retention_days",
    "cookie_domain",
    "google_consent_mode",
    "honor_gpc",
    "reload_on_withdrawal",
    "notice.ja",
    "notice.en",
    "appearance.layout",
    "appearance.position",
    "appearance.colors.accent",
    "appearance.colors.accent_text",
    "regimes.default",
    "regimes.regions",
}
CATEGORY_FIELDS = {
    "key",
    "name.ja",
    "name.en",
    "description.ja",
    "description.en",
    "required",
    "gpc_refuses",
    "google_consent_types",
}


# The overview


@bp.get("/")
@requires("viewer")
def dashboard():
    db = get_db()
    rows = [
        {
            "site": site,
            "latest": revision_store.get(db, site["key"]),
            "pending": registry.pending(db, site["key"]),
        }
        for site in registry_store.list_sites(db)
    ]
    vendor_count = len(registry_store.list_vendors(db))
    return render_template("admin/dashboard.html", rows=rows, vendor_count=vendor_count)


# Vendors


def _vendor_from_form(form, key=None):
    vendor = {
        "key": key or forms.text(form, "key"),
        "name": forms.text(form, "name"),
        "recipient": forms.text(form, "recipient"),
        "country": (forms.text(form, "country") or "").upper() or None,
        "privacy_policy_url": forms.text(form, "privacy_policy_url"),
        "opt_out_url": forms.text(form, "opt_out_url"),
        "hosts": forms.lines(form, "hosts"),
        "cookies": forms.cookies(form),
        "data_sent": forms.texts(form, "data_sent"),
        "purpose": forms.texts(form, "purpose"),
    }
    return {k: v for k, v in vendor.items() if v is not None}


def _vendor_values(vendor):
    values = {
        k: vendor.get(k)
        for k in ("key", "name", "recipient", "country", "privacy_policy_url", "opt_out_url")
    }
    values["hosts"] = "\n".join(vendor.get("hosts") or [])
    values["cookies"] = "\n".join(
        f"{c['name']}, {c['duration_days']}" for c in vendor.get("cookies") or []
    )
    forms.flatten_texts(values, "data_sent", vendor.get("data_sent"))
    forms.flatten_texts(values, "purpose", vendor.get("purpose"))
    return values


@bp.get("/vendors")
@requires("viewer")
def vendors():
    db = get_db()
    query = request.args.get("q", "").strip().lower()
    return render_template(
        "admin/vendors.html",
        vendors=registry.list_vendors(db, query),
        used=registry_store.vendor_sites(db),
        q=query,
    )


CATALOG_CATEGORY_NAMES = {
    "analytics": "Analytics",
    "advertising": "Advertising",
    "functional": "Functional",
}


def _vendor_form(key=None):
    is_new = key is None

    def page(values, errors=None, general=None, status=200, from_catalog=None, notice=None):
        from server import catalog

        return render_template(
            "admin/vendor_form.html",
            values=values,
            errors=errors or {},
            general=general or [],
            is_new=is_new,
            key=key,
            # The picker, on a new vendor's form only: the catalog file is read then only.
            catalog_entries=catalog.all() if is_new else [],
            catalog_categories=[(c, _(CATALOG_CATEGORY_NAMES[c])) for c in catalog.CATEGORIES],
            from_catalog=from_catalog,
            notice=notice,
        ), status

    if request.method == "GET":
        if not is_new:
            return page(_vendor_values(registry.get_vendor(get_db(), key)))
        return _vendor_from_catalog(page, request.args.get("catalog", "").strip())

    vendor = _vendor_from_form(request.form, key)
    try:
        if is_new:
            registry.create_vendor(get_db(), vendor, g.actor)
        else:
            registry.update_vendor(get_db(), key, vendor, g.actor)
    except (Invalid, Conflict) as error:
        errors, general = refusals.form_errors(
            error, VENDOR_FIELDS, line_fields=("hosts", "cookies")
        )
        values = request.form.to_dict()
        if key:
            values["key"] = key
        return page(values, errors, general, 400)
    flash(_("Vendor {key} saved.", key=vendor["key"]))
    return redirect(url_for("admin.vendors"))


def _vendor_from_catalog(page, catalog_key):
    """The new-vendor form, prefilled from a catalog entry when one is picked: the admin checks
    and edits the values, and nothing is stored until the form is saved."""
    from server import catalog

    if not catalog_key:
        return page({})
    entry = catalog.get(catalog_key)
    if entry is None:
        return page({}, notice=_("No vendor {key} in the catalog.", key=catalog_key), status=404)
    values = _vendor_values(catalog.as_vendor(entry))
    notice = None
    if registry_store.get_vendor(get_db(), entry["key"]) is not None:
        notice = _(
            "Your registry already has a vendor {key}; change the key to add this one beside it.",
            key=entry["key"],
        )
    return page(values, from_catalog=entry, notice=notice)


@bp.route("/vendors/new", methods=["GET", "POST"])
@requires("editor")
def vendor_new():
    return _vendor_form()


@bp.get("/vendors/<key>")
@requires("viewer")
def vendor_edit(key):
    return _vendor_form(key)


@bp.post("/vendors/<key>")
@requires("editor")
def vendor_save(key):
    return _vendor_form(key)


@bp.post("/vendors/<key>/delete")
@requires("editor")
def vendor_delete(key):
    try:
        registry.delete_vendor(get_db(), key, g.actor)
    except Conflict as error:
        flash(refusals.message(error), "error")
        return redirect(url_for("admin.vendor_edit", key=key))
    flash(_("Vendor {key} deleted.", key=key))
    return redirect(url_for("admin.vendors"))


# Sites


def _site_from_form(form, key=None):
    return {
        "key": key or forms.text(form, "key"),
        "name": forms.texts(form, "name"),
        "origins": forms.lines(form, "origins"),
        "languages": [lang for lang in forms.LANGS if form.get(f"languages.{lang}") == "1"],
        "default_language": forms.text(form, "default_language"),
        "consent_max_age_days": forms.number(form, "consent_max_age_days"),
        "retention_days": forms.number(form, "retention_days"),
        "cookie_domain": forms.text(form, "cookie_domain"),
        "google_consent_mode": forms.flag(form, "google_consent_mode"),
        "honor_gpc": forms.flag(form, "honor_gpc"),
        "reload_on_withdrawal": forms.flag(form, "reload_on_withdrawal"),
        "notice": forms.texts(form, "notice", optional=True),
        # Absent from a form without the fields (a new site): the widget's defaults.
        "appearance": {
            "layout": forms.text(form, "appearance.layout"),
            "position": forms.text(form, "appearance.position"),  # None: the layout's default
            "colors": {
                name: forms.text(form, f"appearance.colors.{name}")
                for name in ("accent", "accent_text")
                if forms.text(form, f"appearance.colors.{name}")
            },
        }
        if forms.text(form, "appearance.layout")
        else None,
        # Absent from a form without the fields (a new site): no regional rules.
        "regimes": forms.regimes(form),
    }


def _site_values(site):
    values = {
        k: site.get(k)
        for k in (
            "key",
            "default_language",
            "consent_max_age_days",
            "retention_days",
            "cookie_domain",
            "google_consent_mode",
            "honor_gpc",
            "reload_on_withdrawal",
        )
    }
    values["origins"] = "\n".join(site.get("origins") or [])
    for lang in site.get("languages") or []:
        values[f"languages.{lang}"] = True
    forms.flatten_texts(values, "name", site.get("name"))
    forms.flatten_texts(values, "notice", site.get("notice"))
    appearance = site.get("appearance") or {}
    values["appearance.layout"] = appearance.get("layout", "bar")
    values["appearance.position"] = appearance.get("position")
    for name, color in (appearance.get("colors") or {}).items():
        values[f"appearance.colors.{name}"] = color
    forms.regimes_values(values, site.get("regimes"))
    return values


def _site_page(key, values=None, errors=None, general=None, status=200):
    db = get_db()
    site = registry.get_site(db, key)
    catalog = registry_store.list_vendors(db)
    assigned = {a["vendor"] for a in site["vendors"]}
    return render_template(
        "admin/site.html",
        site=site,
        values=values or _site_values(site),
        errors=errors or {},
        general=general or [],
        vendors={v["key"]: v for v in catalog},
        unassigned=[v for v in catalog if v["key"] not in assigned],
        latest=revision_store.get(db, key),
        tab="settings",
    ), status


NEW_SITE_CATEGORY = {
    "key": "necessary",
    "required": True,
    "name": {"ja": "必須", "en": "Strictly necessary"},
    "description": {
        "ja": "サイトの表示と安全のために常に必要です。",
        "en": "Always needed to show the site and keep it secure.",
    },
}


def _new_site_categories(languages):
    """The required category a new site starts with, in the site's languages."""
    return [
        {
            **NEW_SITE_CATEGORY,
            "name": {k: v for k, v in NEW_SITE_CATEGORY["name"].items() if k in languages},
            "description": {
                k: v for k, v in NEW_SITE_CATEGORY["description"].items() if k in languages
            },
        }
    ]


@bp.route("/sites/new", methods=["GET", "POST"])
@requires("editor")
def site_new():
    errors, general = {}, []
    values = {
        "languages.ja": True,
        "languages.en": True,
        "default_language": "ja",
        "consent_max_age_days": 180,
        "retention_days": DEFAULT_RETENTION_DAYS,
        "honor_gpc": True,
    }
    if request.method == "POST":
        values = request.form.to_dict()
        site = _site_from_form(request.form)
        site["categories"] = _new_site_categories(site["languages"])
        site["vendors"] = []
        try:
            registry.create_site(get_db(), site, g.actor)
        except (Invalid, Conflict) as error:
            errors, general = refusals.form_errors(
                error, SITE_FIELDS, line_fields=("origins", "languages")
            )
            return render_template(
                "admin/site_new.html", values=values, errors=errors, general=general
            ), 400
        flash(
            _("Site {key} created with a required category; add the others next.", key=site["key"])
        )
        return redirect(url_for("admin.site", key=site["key"]))
    return render_template("admin/site_new.html", values=values, errors=errors, general=general)


@bp.get("/sites/<key>")
@requires("viewer")
def site(key):
    return _site_page(key)


@bp.post("/sites/<key>")
@requires("editor")
def site_save(key):
    try:
        registry.update_site(get_db(), key, _site_from_form(request.form, key), g.actor)
    except (Invalid, Conflict) as error:
        errors, general = refusals.form_errors(
            error, SITE_FIELDS, line_fields=("origins", "languages")
        )
        return _site_page(key, request.form.to_dict(), errors, general, 400)
    flash(_("Site {key} saved. Publish it to make the change live.", key=key))
    return redirect(url_for("admin.site", key=key))


@bp.get("/sites/<key>/delete")
@requires("editor")
def site_delete_confirm(key):
    db = get_db()
    site = registry.get_site(db, key)
    # Shown before the button; the command itself checks again inside its transaction.
    refusal = (
        _(
            "Site {key} has published revisions and cannot be deleted: its consent log "
            "must stay provable.",
            key=key,
        )
        if revision_store.latest_number(db, key) is not None
        else None
    )
    return render_template("admin/site_delete.html", site=site, refusal=refusal)


@bp.post("/sites/<key>/delete")
@requires("editor")
def site_delete(key):
    try:
        registry.delete_site(get_db(), key, g.actor)
    except Conflict as error:
        flash(refusals.message(error), "error")
        return redirect(url_for("admin.site", key=key) + "#delete")
    flash(_("Site {key} deleted.", key=key))
    return redirect(url_for("admin.dashboard"))


# Categories


def _category_from_form(form, key=None):
    types = [t for t in CONSENT_TYPES if form.get(f"google_consent_types.{t}") == "1"]
    return {
        "key": key or forms.text(form, "key"),
        "required": forms.flag(form, "required"),
        "name": forms.texts(form, "name"),
        "description": forms.texts(form, "description"),
        "gpc_refuses": forms.flag(form, "gpc_refuses"),
        **({"google_consent_types": types} if types else {}),
    }


def _category_values(category):
    values = {
        "key": category["key"],
        "required": category["required"],
        "gpc_refuses": category["gpc_refuses"],
    }
    for t in category.get("google_consent_types") or []:
        values[f"google_consent_types.{t}"] = True
    forms.flatten_texts(values, "name", category.get("name"))
    forms.flatten_texts(values, "description", category.get("description"))
    return values


def _category_form(site_key, category_key=None):
    site = registry.get_site(get_db(), site_key)
    is_new = category_key is None

    def page(values, errors=None, general=None, status=200):
        return render_template(
            "admin/category_form.html",
            site=site,
            values=values,
            errors=errors or {},
            general=general or [],
            is_new=is_new,
            category_key=category_key,
            consent_types=CONSENT_TYPES,
        ), status

    if request.method == "GET":
        if is_new:
            return page({})
        return page(_category_values(registry.get_category(get_db(), site_key, category_key)))
    category = _category_from_form(request.form, category_key)
    try:
        if is_new:
            registry.create_category(get_db(), site_key, category, g.actor)
        else:
            registry.update_category(get_db(), site_key, category_key, category, g.actor)
    except (Invalid, Conflict) as error:
        errors, general = refusals.form_errors(
            error, CATEGORY_FIELDS, line_fields=("google_consent_types",)
        )
        values = request.form.to_dict()
        if category_key:
            values["key"] = category_key
        return page(values, errors, general, 400)
    flash(_("Category {key} saved.", key=category["key"]))
    return redirect(url_for("admin.site", key=site_key) + "#categories")


@bp.route("/sites/<key>/categories/new", methods=["GET", "POST"])
@requires("editor")
def category_new(key):
    return _category_form(key)


@bp.get("/sites/<key>/categories/<category>")
@requires("viewer")
def category_edit(key, category):
    return _category_form(key, category)


@bp.post("/sites/<key>/categories/<category>")
@requires("editor")
def category_save(key, category):
    return _category_form(key, category)


def _one_button(site_key, command, done_message, anchor, field_messages=None):
    """A one-button change on the site page: a refusal comes back as a message at the top.

    `field_messages` says in plain words what a problem with one of the form's fields means.
    """
    try:
        command()
    except Invalid as error:
        fields = {p.partition(":")[0] for p in error.relative_problems()}
        if field_messages and fields <= field_messages.keys():
            flash(" ".join(field_messages[f] for f in sorted(fields)), "error")
        else:
            flash(_("Nothing was saved:") + " " + "; ".join(error.problems), "error")
    except Conflict as error:
        flash(refusals.message(error), "error")
    else:
        flash(done_message)
    return redirect(url_for("admin.site", key=site_key) + anchor)


@bp.post("/sites/<key>/categories/<category>/move")
@requires("editor")
def category_move(key, category):
    step = -1 if request.form.get("direction") == "up" else 1
    return _one_button(
        key,
        lambda: registry.move_category(get_db(), key, category, step, g.actor),
        _("Category {key} moved.", key=category),
        "#categories",
    )


@bp.post("/sites/<key>/categories/<category>/delete")
@requires("editor")
def category_delete(key, category):
    return _one_button(
        key,
        lambda: registry.delete_category(get_db(), key, category, g.actor),
        _("Category {key} deleted.", key=category),
        "#categories",
    )


# Assignments


@bp.post("/sites/<key>/vendors")
@requires("editor")
def assignment_add(key):
    vendor, category = request.form.get("vendor", ""), request.form.get("category", "")
    return _one_button(
        key,
        lambda: registry.create_assignment(get_db(), key, vendor, category, g.actor),
        _("Vendor {vendor} assigned to {category}.", vendor=vendor, category=category),
        "#vendors",
        {"category": _("Choose a category for vendor {vendor}.", vendor=vendor)},
    )


@bp.post("/sites/<key>/vendors/<vendor>")
@requires("editor")
def assignment_move(key, vendor):
    category = request.form.get("category", "")
    return _one_button(
        key,
        lambda: registry.update_assignment(get_db(), key, vendor, category, g.actor),
        _("Vendor {vendor} moved to {category}.", vendor=vendor, category=category),
        "#vendors",
        {"category": _("Choose a category for vendor {vendor}.", vendor=vendor)},
    )


@bp.post("/sites/<key>/vendors/<vendor>/delete")
@requires("editor")
def assignment_delete(key, vendor):
    return _one_button(
        key,
        lambda: registry.delete_assignment(get_db(), key, vendor, g.actor),
        _("Vendor {key} removed from this site.", key=vendor),
        "#vendors",
    )


@bp.errorhandler(NotFound)
def not_found(_error):
    """A vendor, site, category or revision named in the URL that does not exist: a 404, as
    for any unknown admin URL."""
    return werkzeug_not_found()
