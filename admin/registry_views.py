"""Pages that edit the registry: vendors, sites, their categories and assignments.

Every change goes the admin API's way: load the whole registry, edit it, validate the whole,
save it with its audit entries, all in one transaction, so nothing is ever half saved.
"""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for

from server import revisions as compiler
from server.db import get_db
from server.registry import CONSENT_TYPES, RegistryError
from server.storage import registry as registry_store
from server.storage import revisions as revision_store

from . import bp, forms
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


class Invalid(Exception):
    def __init__(self, problems, prefix):
        super().__init__("; ".join(problems))
        self.problems, self.prefix = problems, prefix


class Refused(Exception):
    """A change the registry would accept but the stored state forbids (e.g. still in use)."""


def change(mutate) -> dict:
    """Load, edit with `mutate(doc)` (returns the edited object's path), validate, save."""
    try:
        return registry_store.change(get_db(), mutate, g.actor)
    except RegistryError as error:
        raise Invalid(error.problems, error.prefix) from None


def _find(items, key, field="key"):
    for index, item in enumerate(items):
        if item.get(field) == key:
            return index, item
    abort(404)


def _site(doc, key):
    return _find(doc["sites"], key)


# The overview


@bp.get("/")
@requires("viewer")
def dashboard():
    db = get_db()
    doc = registry_store.load(db)
    rows = []
    for site in doc["sites"]:
        latest = revision_store.get(db, site["key"])
        draft = revision_store.compile_current(db, site["key"])
        rows.append(
            {
                "site": site,
                "latest": latest,
                "pending": latest is None or compiler.content_hash(draft) != latest["content_hash"],
            }
        )
    return render_template("admin/dashboard.html", rows=rows, vendor_count=len(doc["vendors"]))


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
    doc = registry_store.load(get_db())
    query = request.args.get("q", "").strip().lower()
    used = {}
    for site in doc["sites"]:
        for assignment in site["vendors"]:
            used.setdefault(assignment["vendor"], []).append(site["key"])
    items = [
        v
        for v in doc["vendors"]
        if not query
        or query in v["key"]
        or query in v["name"].lower()
        or query in v["recipient"].lower()
    ]
    return render_template("admin/vendors.html", vendors=items, used=used, q=query)


def _vendor_form(key=None):
    is_new = key is None
    db = get_db()
    errors, general = {}, []
    if request.method == "GET":
        if is_new:
            values = {}
        else:
            values = _vendor_values(_find(registry_store.load(db)["vendors"], key)[1])
        return render_template(
            "admin/vendor_form.html",
            values=values,
            errors=errors,
            general=general,
            is_new=is_new,
            key=key,
        )
    values = request.form.to_dict()
    vendor = _vendor_from_form(request.form, key)

    def mutate(doc):
        if is_new:
            if any(v["key"] == vendor.get("key") for v in doc["vendors"]):
                raise Invalid(
                    [
                        f"vendors[{len(doc['vendors'])}].key: "
                        + _("a vendor with this key already exists")
                    ],
                    f"vendors[{len(doc['vendors'])}]",
                )
            doc["vendors"].append(vendor)
            return f"vendors[{len(doc['vendors']) - 1}]"
        index, _old = _find(doc["vendors"], key)
        doc["vendors"][index] = vendor
        return f"vendors[{index}]"

    try:
        change(mutate)
    except Invalid as error:
        errors, general = forms.field_errors(
            error.problems, error.prefix, VENDOR_FIELDS, line_fields=("hosts", "cookies")
        )
        if key:
            values["key"] = key
        return render_template(
            "admin/vendor_form.html",
            values=values,
            errors=errors,
            general=general,
            is_new=is_new,
            key=key,
        ), 400
    flash(_("Vendor {key} saved.", key=vendor["key"]))
    return redirect(url_for("admin.vendors"))


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
    users = registry_store.vendor_users(get_db(), key)
    if users:
        flash(
            _(
                "Vendor {key} is still assigned to {sites}; remove it from those sites first.",
                key=key,
                sites=", ".join(users),
            ),
            "error",
        )
        return redirect(url_for("admin.vendor_edit", key=key))

    def mutate(doc):
        index, _old = _find(doc["vendors"], key)
        del doc["vendors"][index]
        return ""

    change(mutate)
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
    }


def _site_values(site):
    values = {
        k: site.get(k)
        for k in (
            "key",
            "default_language",
            "consent_max_age_days",
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
    return values


def _site_page(key, values=None, errors=None, general=None, status=200):
    db = get_db()
    doc = registry_store.load(db)
    _index, site = _site(doc, key)
    assigned = {a["vendor"] for a in site["vendors"]}
    return render_template(
        "admin/site.html",
        site=site,
        values=values or _site_values(site),
        errors=errors or {},
        general=general or [],
        vendors={v["key"]: v for v in doc["vendors"]},
        unassigned=[v for v in doc["vendors"] if v["key"] not in assigned],
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


@bp.route("/sites/new", methods=["GET", "POST"])
@requires("editor")
def site_new():
    errors, general = {}, []
    values = {
        "languages.ja": True,
        "languages.en": True,
        "default_language": "ja",
        "consent_max_age_days": 180,
        "honor_gpc": True,
    }
    if request.method == "POST":
        values = request.form.to_dict()
        site = _site_from_form(request.form)
        site["categories"] = [
            {
                **NEW_SITE_CATEGORY,
                "name": {
                    k: v for k, v in NEW_SITE_CATEGORY["name"].items() if k in site["languages"]
                },
                "description": {
                    k: v
                    for k, v in NEW_SITE_CATEGORY["description"].items()
                    if k in site["languages"]
                },
            }
        ]
        site["vendors"] = []

        def mutate(doc):
            prefix = f"sites[{len(doc['sites'])}]"
            if any(s["key"] == site["key"] for s in doc["sites"]):
                raise Invalid(
                    [f"{prefix}.key: " + _("a site with this key already exists")], prefix
                )
            doc["sites"].append(site)
            return prefix

        try:
            change(mutate)
        except Invalid as error:
            errors, general = forms.field_errors(
                error.problems, error.prefix, SITE_FIELDS, line_fields=("origins", "languages")
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
    fields = _site_from_form(request.form, key)

    def mutate(doc):
        index, old = _site(doc, key)
        doc["sites"][index] = {**fields, "categories": old["categories"], "vendors": old["vendors"]}
        return f"sites[{index}]"

    try:
        change(mutate)
    except Invalid as error:
        errors, general = forms.field_errors(
            error.problems, error.prefix, SITE_FIELDS, line_fields=("origins", "languages")
        )
        return _site_page(key, request.form.to_dict(), errors, general, 400)
    flash(_("Site {key} saved. Publish it to make the change live.", key=key))
    return redirect(url_for("admin.site", key=key))


def _published_refusal(db, key):
    if revision_store.latest_number(db, key) is not None:
        return _(
            "Site {key} has published revisions and cannot be deleted: its consent log "
            "must stay provable.",
            key=key,
        )
    return None


@bp.get("/sites/<key>/delete")
@requires("editor")
def site_delete_confirm(key):
    db = get_db()
    _index, site = _site(registry_store.load(db), key)
    return render_template("admin/site_delete.html", site=site, refusal=_published_refusal(db, key))


@bp.post("/sites/<key>/delete")
@requires("editor")
def site_delete(key):
    db = get_db()  # not inside mutate: get_db() rolls back an open transaction

    def mutate(doc):
        index, _site_doc = _site(doc, key)
        # Checked inside the write transaction, so a publish cannot slip in between.
        refusal = _published_refusal(db, key)
        if refusal:
            raise Refused(refusal)
        del doc["sites"][index]
        return ""

    try:
        change(mutate)
    except Refused as error:
        flash(str(error), "error")
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
    db = get_db()
    doc = registry_store.load(db)
    _index, site = _site(doc, site_key)
    is_new = category_key is None
    errors, general = {}, []
    if request.method == "GET":
        values = {} if is_new else _category_values(_find(site["categories"], category_key)[1])
        return render_template(
            "admin/category_form.html",
            site=site,
            values=values,
            errors=errors,
            general=general,
            is_new=is_new,
            category_key=category_key,
            consent_types=CONSENT_TYPES,
        )
    category = _category_from_form(request.form, category_key)

    def mutate(doc):
        index, site = _site(doc, site_key)
        if is_new:
            position = len(site["categories"])
            prefix = f"sites[{index}].categories[{position}]"
            if any(c["key"] == category["key"] for c in site["categories"]):
                raise Invalid(
                    [f"{prefix}.key: " + _("this site already has this category")], prefix
                )
            site["categories"].append(category)
            return prefix
        position, _old = _find(site["categories"], category_key)
        site["categories"][position] = category
        return f"sites[{index}].categories[{position}]"

    try:
        change(mutate)
    except Invalid as error:
        errors, general = forms.field_errors(
            error.problems, error.prefix, CATEGORY_FIELDS, line_fields=("google_consent_types",)
        )
        values = request.form.to_dict()
        if category_key:
            values["key"] = category_key
        return render_template(
            "admin/category_form.html",
            site=site,
            values=values,
            errors=errors,
            general=general,
            is_new=is_new,
            category_key=category_key,
            consent_types=CONSENT_TYPES,
        ), 400
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


def _simple_change(site_key, mutate, done_message, anchor):
    """A one-button change on the site page: errors come back as a message at the top."""
    try:
        change(mutate)
    except Invalid as error:
        flash(_("Nothing was saved:") + " " + "; ".join(error.problems), "error")
    except Refused as error:
        flash(str(error), "error")
    else:
        flash(done_message)
    return redirect(url_for("admin.site", key=site_key) + anchor)


@bp.post("/sites/<key>/categories/<category>/move")
@requires("editor")
def category_move(key, category):
    step = -1 if request.form.get("direction") == "up" else 1

    def mutate(doc):
        _index, site = _site(doc, key)
        position, item = _find(site["categories"], category)
        target = min(max(position + step, 0), len(site["categories"]) - 1)
        site["categories"].insert(target, site["categories"].pop(position))
        return ""

    return _simple_change(key, mutate, _("Category {key} moved.", key=category), "#categories")


@bp.post("/sites/<key>/categories/<category>/delete")
@requires("editor")
def category_delete(key, category):
    def mutate(doc):
        _index, site = _site(doc, key)
        position, _item = _find(site["categories"], category)
        used = [a["vendor"] for a in site["vendors"] if a["category"] == category]
        if used:
            raise Refused(
                _(
                    "Category {key} still holds {vendors}; move or remove them first.",
                    key=category,
                    vendors=", ".join(used),
                )
            )
        del site["categories"][position]
        return ""

    return _simple_change(key, mutate, _("Category {key} deleted.", key=category), "#categories")


# Assignments


@bp.post("/sites/<key>/vendors")
@requires("editor")
def assignment_add(key):
    vendor, category = request.form.get("vendor", ""), request.form.get("category", "")

    def mutate(doc):
        _index, site = _site(doc, key)
        if any(a["vendor"] == vendor for a in site["vendors"]):
            raise Refused(_("Vendor {key} is already assigned to this site.", key=vendor))
        site["vendors"].append({"vendor": vendor, "category": category})
        return ""

    return _simple_change(
        key,
        mutate,
        _("Vendor {vendor} assigned to {category}.", vendor=vendor, category=category),
        "#vendors",
    )


@bp.post("/sites/<key>/vendors/<vendor>")
@requires("editor")
def assignment_move(key, vendor):
    category = request.form.get("category", "")

    def mutate(doc):
        _index, site = _site(doc, key)
        position, _item = _find(site["vendors"], vendor, "vendor")
        site["vendors"][position] = {"vendor": vendor, "category": category}
        return ""

    return _simple_change(
        key,
        mutate,
        _("Vendor {vendor} moved to {category}.", vendor=vendor, category=category),
        "#vendors",
    )


@bp.post("/sites/<key>/vendors/<vendor>/delete")
@requires("editor")
def assignment_delete(key, vendor):
    def mutate(doc):
        _index, site = _site(doc, key)
        position, _item = _find(site["vendors"], vendor, "vendor")
        del site["vendors"][position]
        return ""

    return _simple_change(
        key, mutate, _("Vendor {key} removed from this site.", key=vendor), "#vendors"
    )
