"""Scans started from the admin API or UI: checked and stored here, run by a CLI process.

The scan runs in its own process (`privacy-center scan --stored-scan ID`), started in a new
session, so that it outlives the web worker that started it; its state lives in the database,
where every worker reads it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from typing import Any

from flask import current_app, has_app_context

from .. import regions
from ..services.errors import Conflict, Invalid, NotFound
from ..storage import registry as registry_store
from ..storage import scans as store
from ..storage.engine import Database
from . import rules
from .browser import BrowserMissing, PageFailed
from .run import DEFAULT_MAX_PAGES, ScanRefused, header_names, scan, start_urls, target, visitor

Json = dict[str, Any]
MAX_URLS = 20
MAX_PAGES = 100


def options_from(body: Json) -> Json:
    """The options of a scan from a request body: {"urls": [...], "max_pages": n, "region":
    "JP"} (region optional: null scans as a visitor from nowhere in particular)."""
    problems = []
    urls = body.get("urls", [])
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        problems.append("urls: must be a list of URLs")
        urls = []
    elif len(urls) > MAX_URLS:
        problems.append(f"urls: at most {MAX_URLS}")
    max_pages = body.get("max_pages", DEFAULT_MAX_PAGES)
    if isinstance(max_pages, bool) or not isinstance(max_pages, int):
        problems.append(f"max_pages: must be a whole number from 1 to {MAX_PAGES}")
    elif not 1 <= max_pages <= MAX_PAGES:
        problems.append(f"max_pages: must be a whole number from 1 to {MAX_PAGES}")
    region = body.get("region")
    if region is not None and not isinstance(region, str):
        problems.append("region: must be a country (JP) or a subdivision (US-CA)")
        region = None
    elif isinstance(region, str) and not region.strip():
        region = None  # an empty form field: no region
    elif region is not None:
        try:
            region = rules.scan_region(region)
        except ValueError as error:
            problems.append(f"region: {error}")
    unknown = sorted(set(body) - {"urls", "max_pages", "region"})
    if unknown:
        problems.append(f"{unknown[0]}: unknown field")
    if problems:
        raise Invalid(problems)
    return {
        "urls": [u.strip() for u in urls if u.strip()],
        "max_pages": max_pages,
        "region": region,
    }


def serving_header_names() -> tuple[str | None, str | None]:
    """The region header names of the server starting the scan (its app's, which may come
    from its config rather than the environment), else the environment's."""
    if has_app_context() and "REGION_HEADER" in current_app.config:
        return current_app.config["REGION_HEADER"], current_app.config["SUBDIVISION_HEADER"]
    return header_names()


def start(db: Database, database_path: str, site_key: str, body: Json, actor: str) -> Json:
    """Store a queued scan and start its process; the stored scan.

    NotFound for an unknown site, Conflict when nothing is published or a scan of the site is
    still running, Invalid for bad options or a URL off the site's origins.
    """
    options = options_from(body)
    if registry_store.get_site(db, site_key) is None:
        raise NotFound("site", site_key)
    try:
        revision = target(db, site_key)
    except ScanRefused as error:
        raise Conflict("not_published", str(error).capitalize() + ".") from None
    try:
        start_urls(revision, options["urls"])
    except ScanRefused as error:
        raise Invalid([f"urls: {error}"]) from None
    try:
        names = serving_header_names() if options["region"] else (None, None)
        visitor(revision, options["region"], names)
    except ScanRefused as error:
        raise Invalid([str(error).replace("--region: ", "region: ", 1)]) from None
    scan_id = store.create(db, site_key, revision["number"], options, actor)
    if scan_id is None:
        raise Conflict(
            "scan_running",
            f"A scan of site '{site_key}' is still running; wait for it to finish.",
            what="scan",
            key=site_key,
        )
    try:
        launch(database_path, site_key, scan_id, names)
    except OSError as error:  # no process could start: the scan must not block the next one
        store.fail(db, scan_id, f"the scanning process did not start: {error}")
    found = store.get(db, site_key, scan_id)
    assert found is not None  # stored just above
    return found


def launch(
    database_path: str,
    site_key: str,
    scan_id: int,
    names: tuple[str | None, str | None] = (None, None),
) -> None:
    # The scan's process sends the region headers under the names this server reads.
    env = {**os.environ}
    for variable, name in zip(
        (regions.REGION_HEADER_ENV, regions.SUBDIVISION_HEADER_ENV), names, strict=True
    ):
        if name:
            env[variable] = name
        else:
            env.pop(variable, None)
    command = [
        sys.executable,
        "-m",
        "server",
        "--database",
        database_path,
        "scan",
        site_key,
        "--stored-scan",
        str(scan_id),
    ]
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
        env=env,
    )
    # Reaped when it ends, so that a long-lived worker collects no zombies.
    threading.Thread(target=process.wait, daemon=True).start()


def after_publish(db: Database, site_key: str, actor: str) -> int | None:
    """Start a scan of a site set to be scanned after each publish, with its last scan's
    options; the scan's id, or None when it is not set, or a scan is already running."""
    if not store.after_publish(db, site_key):
        return None
    path = db.location
    if not path:  # an in-memory database: no other process can read it
        return None
    last = store.latest(db, site_key)
    options = last["options"] if last else {}
    for body in (options, {}):
        try:
            return int(start(db, path, site_key, body, actor)["id"])
        except Invalid:
            continue  # the last scan's pages are no longer on the site: its root pages
        except Conflict:
            return None
    return None


def run_stored(db: Database, scan_id: int) -> int:
    """Run a queued scan in this process, writing its progress and result; the exit status."""
    claimed = store.claim(db, scan_id, os.getpid())
    if claimed is None:
        return 2
    options = claimed["options"]
    try:
        result = scan(
            db,
            claimed["site_key"],
            options.get("urls") or (),
            options.get("max_pages") or DEFAULT_MAX_PAGES,
            progress=lambda done, total: store.progress(db, scan_id, done, total),
            region=options.get("region"),
        )
    except (ScanRefused, BrowserMissing, PageFailed) as error:
        store.fail(db, scan_id, str(error))
        return 2
    except BaseException as error:
        store.fail(db, scan_id, f"internal error: {error!r}")
        raise
    leaks = len(rules.failing(result["findings"], "leaks"))
    store.finish(db, scan_id, result, leaks)
    return rules.exit_status(result["findings"], "leaks")
