"""A whole scan: the site's published revision, its pages crawled in three passes, the findings."""

from __future__ import annotations

import importlib
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlite_utils import Database

from ..storage import revisions as revision_store
from ..storage.util import now_iso
from . import rules
from .browser import PageFailed, Recorder, chromium

Json = dict[str, Any]
Progress = Callable[[int, int], None]
DEFAULT_MAX_PAGES = 20


class ScanRefused(Exception):
    """The scan cannot start: unknown site, nothing published, or a URL off the site."""


def target(db: Database, site_key: str) -> Json:
    """The site's published revision, which is what visitors are told and what is checked."""
    revision = revision_store.get(db, site_key)
    if revision is None:
        from ..storage import registry as registry_store

        if registry_store.get_site(db, site_key) is None:
            raise ScanRefused(f"no site '{site_key}'")
        raise ScanRefused(f"site '{site_key}' has no published revision; publish it first")
    return revision


def start_urls(revision: Json, urls: Sequence[str]) -> list[str]:
    try:
        return rules.check_urls(urls, revision["content"]["site"]["origins"])
    except rules.OutsideSite as error:
        raise ScanRefused(str(error)) from None


def catalog_lookup() -> Callable[[str], Mapping[str, Any] | None] | None:
    """The vendor catalog's host lookup, where the catalog is installed."""
    try:
        module = importlib.import_module("server.catalog")
    except ImportError:
        return None
    lookup = getattr(module, "find_by_host", None)
    return lookup if callable(lookup) else None


def crawl(
    record: Callable[[str, str], Json],
    starts: Sequence[str],
    max_pages: int,
    progress: Progress | None = None,
) -> list[Json]:
    """Breadth-first over same-origin links from `starts`; each page in the three passes.

    A start page that fails raises PageFailed; a linked page that fails is kept with its error.
    """
    queue = deque(dict.fromkeys(starts))
    planned = list(queue)[:max_pages]
    starts_set = set(starts)
    pages: list[Json] = []
    while queue and len(pages) < max_pages:
        url = queue.popleft()
        entry: Json = {"url": url, "passes": {}}
        try:
            for pass_ in rules.PASSES:
                entry["passes"][pass_] = record(url, pass_)
        except PageFailed as error:
            if url in starts_set:
                raise
            entry = {"url": url, "error": str(error), "passes": {}}
        pages.append(entry)
        first = entry["passes"].get("no_decision")
        for link in rules.same_origin_links(url, first["links"] if first else []):
            if link not in planned and len(planned) < max_pages:
                planned.append(link)
                queue.append(link)
        if progress:
            progress(len(pages), len(planned))
    return pages


def report(
    revision: Json,
    pages: list[Json],
    scanned_at: str,
    catalog: Callable[[str], Mapping[str, Any] | None] | None = None,
) -> Json:
    """The scan's result, as the CLI prints it in JSON and the admin API returns it."""
    observations = [obs for page in pages for obs in page["passes"].values()]
    content = revision["content"]
    found = rules.findings(content, observations, catalog=catalog)
    out_pages = []
    for page in pages:
        item: Json = {"url": page["url"]}
        if "error" in page:
            item["error"] = page["error"]
        item["passes"] = {
            pass_: {
                "hosts": sorted(obs["hosts"]),
                "cookies": obs["cookies"],
                "local_storage": obs["local_storage"],
                "released": obs["released"],
                "banner": obs["banner"],
            }
            for pass_, obs in page["passes"].items()
        }
        out_pages.append(item)
    return {
        "site": content["site"]["key"],
        "revision": revision["number"],
        "scanned_at": scanned_at,
        "pages": out_pages,
        "findings": found,
        "counts": rules.count_by_kind(found),
    }


def scan(
    db: Database,
    site_key: str,
    urls: Sequence[str] = (),
    max_pages: int = DEFAULT_MAX_PAGES,
    progress: Progress | None = None,
) -> Json:
    """Scan a site's pages against its published revision; the report.

    Raises ScanRefused before any browser starts, BrowserMissing, or PageFailed.
    """
    revision = target(db, site_key)
    starts = start_urls(revision, urls)
    site = revision["content"]["site"]
    scanned_at = now_iso()
    with chromium() as browser:
        recorder = Recorder(browser, site["languages"], site["default_language"])
        pages = crawl(recorder.record, starts, max_pages, progress)
    return report(revision, pages, scanned_at, catalog_lookup())


def text_report(result: Json, fail_on: str) -> str:
    """The report for people: pages, then findings grouped by kind, then the verdict."""
    lines = [
        f"site {result['site']} revision {result['revision']}, scanned {result['scanned_at']}",
        f"{len(result['pages'])} page(s):",
    ]
    for page in result["pages"]:
        if page.get("error"):
            lines.append(f"  {page['url']}  not loaded: {page['error']}")
            continue
        notes = [
            f"no banner button in {pass_}"
            for pass_, obs in page["passes"].items()
            if obs["banner"] is False
        ]
        lines.append(f"  {page['url']}" + (f"  ({'; '.join(notes)})" if notes else ""))
    found = result["findings"]
    for kind in rules.KINDS:
        group = [f for f in found if f["kind"] == kind]
        if not group:
            continue
        lines.append(f"{kind} ({len(group)}):")
        for f in group:
            subject = f.get("host") or f.get("cookie") or f.get("vendor")
            where = f" on {f['page']} ({f['pass']})" if f.get("page") else ""
            extra = []
            if f.get("vendor") and subject != f["vendor"]:
                extra.append(f"vendor {f['vendor']}")
            if f.get("category"):
                extra.append(f"category {f['category']}")
            if f.get("catalog_vendor"):
                extra.append(f"catalog: {f['catalog_vendor']['name']}")
            lines.append(f"  {subject}{where}" + (f"  [{', '.join(extra)}]" if extra else ""))
    failing = rules.failing(found, fail_on)
    if not found:
        lines.append("clean: no findings")
    elif failing:
        lines.append(f"FAIL: {len(failing)} finding(s) at or above --fail-on {fail_on}")
    else:
        lines.append(f"ok: no finding at or above --fail-on {fail_on}")
    return "\n".join(lines)
