"""Publishing: the diff of the draft against the live revision, publishing, rollback, embedding."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for

from server import revisions as compiler
from server.db import get_db
from server.services import registry
from server.storage import registry as registry_store
from server.storage import revisions as revision_store

from . import ID, bp, diff_view
from .auth import requires
from .i18n import gettext as _


def _site_or_404(key):
    site = registry_store.get_site(get_db(), key)
    if site is None:
        abort(404)
    return site


PUBLISHED = {
    "first": "Visitors will be asked for their choice.",
    "ask_again": "Visitors will be asked again.",
    "keep": "Visitors keep their decisions.",
}


@bp.get("/sites/<key>/publish")
@requires("viewer")
def publish(key):
    db = get_db()
    site = _site_or_404(key)
    latest = revision_store.get(db, key)
    draft = revision_store.compile_current(db, key)
    same = latest is not None and compiler.content_hash(draft) == latest["content_hash"]
    changes = (
        [] if same else diff_view.detailed_changes(latest["content"] if latest else None, draft)
    )
    return render_template(
        "admin/publish.html",
        site=site,
        latest=latest,
        changes=changes,
        needs=compiler.needs_decision(changes),
        same=same,
        tab="publish",
    )


@bp.post("/sites/<key>/publish")
@requires("editor")
def publish_now(key):
    revision, created = registry.publish(get_db(), key, g.actor)
    kind = registry.publish_message_kind(revision, created)
    if created:
        flash(_("Published revision {n}.", n=revision["number"]) + " " + _(PUBLISHED[kind]))
    else:
        flash(_("Nothing to publish: the live revision is already the same."))
    return redirect(url_for("admin.revisions", key=key))


@bp.get("/sites/<key>/revisions")
@requires("viewer")
def revisions(key):
    site = _site_or_404(key)
    return render_template(
        "admin/revisions.html",
        site=site,
        tab="revisions",
        history=revision_store.history(get_db(), key),
    )


def _revision_or_404(key, number):
    revision = revision_store.get(get_db(), key, number)
    if revision is None:
        abort(404)
    return revision


@bp.get(f"/sites/<key>/revisions/<{ID}:number>/rollback")
@requires("viewer")
def rollback(key, number):
    site = _site_or_404(key)
    old = _revision_or_404(key, number)
    latest = revision_store.get(get_db(), key)
    changes = (
        diff_view.detailed_changes(latest["content"], old["content"])
        if latest["content_hash"] != old["content_hash"]
        else []
    )
    return render_template(
        "admin/rollback.html",
        site=site,
        old=old,
        latest=latest,
        changes=changes,
        needs=compiler.needs_decision(changes),
        tab="revisions",
    )


@bp.post(f"/sites/<key>/revisions/<{ID}:number>/rollback")
@requires("editor")
def rollback_now(key, number):
    revision, created = registry.rollback(get_db(), key, number, g.actor)
    if created:
        flash(
            _(
                "Published revision {n} with the content of revision {old}.",
                n=revision["number"],
                old=number,
            )
        )
    else:
        flash(_("Nothing to publish: the live revision is already the same."))
    return redirect(url_for("admin.revisions", key=key))


@bp.get("/sites/<key>/embed")
@requires("viewer")
def embed(key):
    site = _site_or_404(key)
    latest = revision_store.get(get_db(), key)
    config = compiler.public_config(latest) if latest else None
    script_url = request.host_url.rstrip("/") + f"/w/{key}.js"
    return render_template(
        "admin/embed.html", site=site, config=config, tab="embed", script_url=script_url
    )
