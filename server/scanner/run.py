"""A whole scan: the site's published revision, its pages crawled in three passes, the findings."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

from .. import regions
from ..storage import revisions as revision_store
from ..storage.engine import Database
from ..storage.util import now_iso
from . import rules
from .browser import PageFailed, Recorder, chromium

Json = dict[str, Any]
Progress = Callable[[int, int], None]
DEFAULT_MAX_PAGES = 20
# Pages scanned at once, each in three contexts: a scan mostly waits for quiet networks, so
# two cores keep up with six contexts.
WORKERS = 2


def workers() -> int:
    """Pages scanned at once: PRIVACY_CENTER_SCAN_WORKERS (1 to 8), else WORKERS."""
    value = os.environ.get("PRIVACY_CENTER_SCAN_WORKERS", "")
    return min(8, max(1, int(value))) if value.isdigit() else WORKERS


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


def header_names() -> tuple[str | None, str | None]:
    """The deployment's region header names (PRIVACY_CENTER_REGION_HEADER and
    PRIVACY_CENTER_SUBDIVISION_HEADER); ScanRefused when one cannot be a header name."""
    try:
        return regions.header_settings(
            os.environ.get(regions.REGION_HEADER_ENV),
            os.environ.get(regions.SUBDIVISION_HEADER_ENV),
        )
    except ValueError as error:
        raise ScanRefused(str(error)) from None


def visitor(
    revision: Json, region: str | None, names: tuple[str | None, str | None] | None = None
) -> tuple[str | None, str, dict[str, str]]:
    """(region, regime, request headers) of the scan's visitor: from `region` (`--region`),
    else nowhere in particular, which gets the site's default regime. ScanRefused when the
    region is no visitor's region or the deployment names no header that could carry it."""
    if region is None:
        return None, rules.scan_regime(revision["content"], None), {}
    try:
        code = rules.scan_region(region)
        headers = rules.region_headers(code, names if names is not None else header_names())
    except ValueError as error:
        raise ScanRefused(f"--region: {error}") from None
    return code, rules.scan_regime(revision["content"], code), headers


def catalog_lookup() -> Callable[[str], Mapping[str, Any] | None]:
    """The vendor catalog's host lookup (server/catalog, read on its first use)."""
    from .. import catalog

    return catalog.find_by_host


async def crawl(
    record: Callable[[str, str], Coroutine[Any, Any, Json]],
    starts: Sequence[str],
    max_pages: int,
    progress: Progress | None = None,
    workers: int = WORKERS,
) -> list[Json]:
    """Breadth-first over same-origin links from `starts`; each page in the three passes.

    Level by level, `workers` pages at a time and each page's passes at once (every one in its
    own context); the next level is taken from the links in page order, so the same site
    gives the same pages whatever finishes first. A start page that fails raises PageFailed;
    a linked page that fails is kept with its error.
    """
    planned = list(dict.fromkeys(starts))[:max_pages]
    starts_set = set(starts)
    done: dict[str, Json] = {}
    slots = asyncio.Semaphore(max(1, workers))

    async def visit(url: str) -> None:
        async with slots:
            try:
                async with asyncio.TaskGroup() as group:
                    tasks = [group.create_task(record(url, pass_)) for pass_ in rules.PASSES]
            except* PageFailed as failed:
                if url in starts_set:
                    raise failed.exceptions[0] from None
                done[url] = {"url": url, "error": str(failed.exceptions[0]), "passes": {}}
            else:
                passes = [task.result() for task in tasks]
                done[url] = {"url": url, "passes": dict(zip(rules.PASSES, passes, strict=True))}
        if progress:
            progress(len(done), len(planned))

    level = list(planned)
    while level:
        try:
            async with asyncio.TaskGroup() as group:
                for url in level:
                    group.create_task(visit(url))
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None
        following = []
        for url in level:
            first = done[url]["passes"].get("no_decision")
            for link in rules.same_origin_links(url, first["links"] if first else []):
                if link not in planned and len(planned) < max_pages:
                    planned.append(link)
                    following.append(link)
        level = following
    return [done[url] for url in planned]


def report(
    revision: Json,
    pages: list[Json],
    scanned_at: str,
    catalog: Callable[[str], Mapping[str, Any] | None] | None = None,
    region: str | None = None,
) -> Json:
    """The scan's result, as the CLI prints it in JSON and the admin API returns it."""
    observations = [obs for page in pages for obs in page["passes"].values()]
    content = revision["content"]
    regime = rules.scan_regime(content, region)
    found = rules.findings(content, observations, regime=regime, catalog=catalog)
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
                "seconds": obs["seconds"],
            }
            for pass_, obs in page["passes"].items()
        }
        out_pages.append(item)
    return {
        "site": content["site"]["key"],
        "revision": revision["number"],
        "region": region,
        "regime": regime,
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
    region: str | None = None,
) -> Json:
    """Scan a site's pages against its published revision, as a visitor from `region` (the
    region headers set on every request) or from nowhere in particular; the report.

    Raises ScanRefused before any browser starts, BrowserMissing, or PageFailed.
    """
    revision = target(db, site_key)
    starts = start_urls(revision, urls)
    region, _, headers = visitor(revision, region)
    site = revision["content"]["site"]
    scanned_at = now_iso()

    async def run() -> list[Json]:
        async with chromium() as browser:
            recorder = Recorder(
                browser, site["languages"], site["default_language"], headers=headers
            )
            return await crawl(recorder.record, starts, max_pages, progress, workers())

    pages = asyncio.run(run())
    return report(revision, pages, scanned_at, catalog_lookup(), region)


def text_report(result: Json, fail_on: str) -> str:
    """The report for people: pages, then findings grouped by kind, then the verdict."""
    regime = result.get("regime") or regions.DEFAULT_REGIME
    expected = "" if rules.prior_consent_required(regime) else ": tags may run before a decision"
    lines = [
        f"site {result['site']} revision {result['revision']}, scanned {result['scanned_at']}",
        f"region {result['region']}, regime {regime}{expected}"
        if result.get("region")
        else f"no region given: the site's default regime, {regime}{expected}",
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
