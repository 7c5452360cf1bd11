"""The Scan tab of a site: start a scan in the background, follow it, read its findings, and
add an undisclosed host to the draft as a vendor (prefilled from the catalog where it knows it).

Scans start through server.scanner.jobs, the same command the admin API calls; the vendor is
added through server.services.registry, as on the vendor form.
"""

from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, request, url_for
from werkzeug.exceptions import NotFound as werkzeug_not_found

from server.db import get_db
from server.scanner import jobs, rules
from server.services import registry
from server.services.errors import Conflict, Invalid, NotFound
from server.storage import scans as scan_store

from . import ID, bp, forms, refusals
from .auth import requires
from .i18n import gettext as _
from .registry_views import VENDOR_FIELDS, _vendor_from_form, _vendor_values

# Shown in the order of how much they matter; the texts go through _() in the template.
KIND_TITLES = {
    "undisclosed_host": "Hosts that no vendor of this site names",
    "before_decision": "Sent before the visitor decided",
    "after_refusal": "Sent after the visitor refused",
    "undisclosed_cookie": "Cookies that no vendor declares",
    "not_seen": "Disclosed vendors never contacted, even after Accept all (informational)",
}
PASS_TITLES = {
    "no_decision": "No decision",
    "reject_all": "Reject all",
    "accept_all": "Accept all",
}
# The regimes' names, as the site form and the figures say them (admin/messages_ja.py).
REGIME_TITLES = {"opt_in": "Opt-in", "opt_out": "Opt-out", "notice": "Notice"}
REFRESH_SECONDS = 3
START_REFUSALS = {
    "scan_running": "A scan of this site is still running; wait for it to finish.",
    "not_published": "Publish the site first: a scan checks the pages against the published revision.",
}


def _site_or_404(key):
    return registry.get_site(get_db(), key)


@bp.context_processor
def _last_scan():
    """`last_scan(key)`: the site's newest scan, for the site page's status line."""
    return {"last_scan": lambda key: scan_store.latest(get_db(), key)}


@bp.get("/sites/<key>/scans")
@requires("viewer")
def scans(key):
    site = _site_or_404(key)
    history = scan_store.history(get_db(), key)
    running = next((s for s in history if s["state"] in scan_store.ACTIVE), None)
    response = current_app.make_response(
        render_template(
            "admin/scans.html",
            site=site,
            tab="scans",
            history=history,
            running=running,
            values={"max_pages": jobs.DEFAULT_MAX_PAGES},
            region_header=current_app.config.get("REGION_HEADER"),
            after_publish=scan_store.after_publish(get_db(), key),
            refresh=REFRESH_SECONDS if running else None,
        )
    )
    if running:
        response.headers["Refresh"] = str(REFRESH_SECONDS)
    return response


@bp.post("/sites/<key>/scans")
@requires("editor")
def scan_start(key):
    _site_or_404(key)
    body = {"urls": forms.lines(request.form, "urls")}
    max_pages = forms.number(request.form, "max_pages")
    if max_pages is not None:
        body["max_pages"] = max_pages
    if (request.form.get("region") or "").strip():
        body["region"] = request.form["region"]
    try:
        scan = jobs.start(get_db(), current_app.config["DATABASE"], key, body, g.actor)
    except Invalid as error:
        flash(_("The scan was not started:") + " " + "; ".join(error.problems), "error")
        return redirect(url_for("admin.scans", key=key))
    except Conflict as error:
        flash(
            _(START_REFUSALS[error.code]) if error.code in START_REFUSALS else error.message,
            "error",
        )
        return redirect(url_for("admin.scans", key=key))
    flash(_("Scan {n} started.", n=scan["id"]))
    return redirect(url_for("admin.scan", key=key, scan_id=scan["id"]))


@bp.post("/sites/<key>/scans/settings")
@requires("editor")
def scan_settings(key):
    _site_or_404(key)
    on = forms.flag(request.form, "after_publish")
    scan_store.set_after_publish(get_db(), key, on, g.actor)
    flash(
        _("This site is scanned after each publish.")
        if on
        else _("This site is no longer scanned after each publish.")
    )
    return redirect(url_for("admin.scans", key=key))


def _scan_or_404(key, scan_id):
    scan = scan_store.get(get_db(), key, scan_id)
    if scan is None:
        raise werkzeug_not_found()
    return scan


@bp.get(f"/sites/<key>/scans/<{ID}:scan_id>")
@requires("viewer")
def scan(key, scan_id):
    site = _site_or_404(key)
    found = _scan_or_404(key, scan_id)
    result = found["result"] or {}
    findings = result.get("findings", [])
    groups = [
        (kind, [f for f in findings if f["kind"] == kind])
        for kind in rules.KINDS
        if any(f["kind"] == kind for f in findings)
    ]
    active = found["state"] in scan_store.ACTIVE
    response = current_app.make_response(
        render_template(
            "admin/scan.html",
            site=site,
            tab="scans",
            scan=found,
            result=result,
            groups=groups,
            kind_titles=KIND_TITLES,
            pass_titles=PASS_TITLES,
            regime_titles=REGIME_TITLES,
            assigned={a["vendor"] for a in site["vendors"]},
            refresh=REFRESH_SECONDS if active else None,
        )
    )
    if active:
        response.headers["Refresh"] = str(REFRESH_SECONDS)
    return response


def _catalog_values(host):
    """The vendor form's values for a host: the catalog's vendor where it knows the host."""
    from server import catalog  # read on first use, never by the public server

    entry = catalog.find_by_host(host)
    values = _vendor_values(catalog.as_vendor(entry) if entry else {})
    hosts = values["hosts"].split("\n") if values["hosts"] else []
    if not any(rules.host_matches(host, pattern) for pattern in hosts):
        values["hosts"] = "\n".join([*hosts, host])
    if not values["key"]:
        values["key"] = "-".join(p for p in host.split(".") if p != "www")[:64].strip("-")
    return values, entry is not None


@bp.route(f"/sites/<key>/scans/<{ID}:scan_id>/add-vendor", methods=["GET", "POST"])
@requires("editor")
def scan_add_vendor(key, scan_id):
    site = _site_or_404(key)
    _scan_or_404(key, scan_id)
    host = (request.values.get("host") or "").strip().lower()
    if not host:
        raise werkzeug_not_found()
    values, from_catalog = _catalog_values(host)
    errors, general, status = {}, [], 200
    optional = [c for c in site["categories"] if not c["required"]]
    if request.method == "POST":
        values = request.form.to_dict()
        vendor = _vendor_from_form(request.form)
        category = request.form.get("category", "")
        db = get_db()
        try:
            existing = registry_vendor(db, vendor["key"])
            if existing is None:
                registry.create_vendor(db, vendor, g.actor)
            else:
                # A vendor the organization already has: the scan showed one more host of it.
                hosts = list(dict.fromkeys((existing.get("hosts") or []) + vendor["hosts"]))
                registry.update_vendor(db, vendor["key"], {"hosts": hosts}, g.actor, merge=True)
            if vendor["key"] not in {a["vendor"] for a in site["vendors"]}:
                registry.create_assignment(db, key, vendor["key"], category, g.actor)
        except (Invalid, Conflict) as error:
            errors, general = refusals.form_errors(
                error, VENDOR_FIELDS | {"category"}, line_fields=("hosts", "cookies")
            )
            status = 400
        else:
            flash(
                _(
                    "Vendor {vendor} added to the draft in {category}. Publish to make it live.",
                    vendor=vendor["key"],
                    category=category,
                )
            )
            return redirect(url_for("admin.publish", key=key))
    return render_template(
        "admin/scan_add_vendor.html",
        site=site,
        tab="scans",
        scan_id=scan_id,
        host=host,
        values=values,
        errors=errors,
        general=general,
        categories=optional,
        from_catalog=from_catalog,
    ), status


def registry_vendor(db, vendor_key):
    try:
        return registry.get_vendor(db, vendor_key) if vendor_key else None
    except NotFound:
        return None
