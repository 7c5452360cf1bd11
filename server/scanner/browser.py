"""Recording what a page does in real Chromium (Playwright), pass by pass.

Each page and pass gets a fresh browser context: no cookie, storage or cache is carried from
one to the next, so that "before a decision" means a first visit. Playwright's async API lets
several contexts wait for a quiet network at once: a scan mostly waits.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .rules import host_of, server_hosts

Json = dict[str, Any]

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--disable-gpu",
    "--disable-quic",
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-extensions",
    "--disable-background-networking",
]
# The banner's buttons by their accessible names (widget/src/core/texts.js).
BUTTONS = {
    "reject_all": {"en": "Reject all", "ja": "すべて拒否する"},
    "accept_all": {"en": "Accept all", "ja": "すべて同意する"},
    # Where a notice has no Accept all of its own, the preferences it opens do.
    "customize": {"en": "Customize", "ja": "詳細設定"},
}
LOCALES = {"ja": "ja-JP", "en": "en-US"}
HELD_JS = """() => [...document.querySelectorAll(
  'script[type="text/plain"][data-category],iframe[data-category][data-src]')].map(el => [
  el.getAttribute('data-category') || '', el.getAttribute('data-vendor') || '',
  el.getAttribute('data-src') || el.getAttribute('src') || (el.tagName === 'IFRAME' ? '' : '(inline)')])"""
LINKS_JS = "() => [...document.querySelectorAll('a[href]')].map(a => a.href)"
STORAGE_JS = "() => { try { return Object.keys(localStorage).sort(); } catch (e) { return []; } }"


class BrowserMissing(RuntimeError):
    """Playwright or Chromium is not installed."""


class PageFailed(RuntimeError):
    """A page could not be loaded (network error, timeout or an HTTP error status)."""


def _strip(url: str) -> str:
    """A request URL without its query and fragment: enough to recognise, nothing personal."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url[:200]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))[:500]


@asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """One headless Chromium for a whole scan (Debian's build, as the e2e tests use)."""
    try:
        from playwright.async_api import Error, async_playwright
    except ImportError:
        raise BrowserMissing(
            "the scanner needs Playwright: pip install 'privacy-center[scan]'"
        ) from None
    if not os.path.exists(CHROMIUM):
        raise BrowserMissing(
            f"no Chromium at {CHROMIUM}: apt-get install chromium (or set CHROMIUM)"
        )
    async with async_playwright() as pw:
        try:
            browser = await pw.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS
            )
        except Error as error:
            raise BrowserMissing(f"Chromium did not start: {error.message}") from None
        try:
            yield browser
        finally:
            await browser.close()


class Recorder:
    """Loads one page in one pass and records its hosts, cookies, storage and held elements."""

    def __init__(
        self,
        browser: Any,
        languages: Sequence[str],
        default_language: str,
        *,
        timeout_ms: int = 30000,
        quiet_ms: int = 5000,
        headers: Mapping[str, str] | None = None,
    ):
        self.browser = browser
        # The region headers a CDN would set (`--region`), on every request of every context.
        self.headers = dict(headers or {})
        ordered = [default_language] + [lang for lang in languages if lang != default_language]
        self.locale = LOCALES.get(default_language, default_language)
        self.names = {
            pass_: re.compile(
                "^(" + "|".join(re.escape(names[lang]) for lang in ordered if lang in names) + ")$"
            )
            for pass_, names in BUTTONS.items()
        }
        self.timeout_ms, self.quiet_ms = timeout_ms, quiet_ms

    async def _quiet(self, page: Any) -> None:
        from playwright.async_api import TimeoutError as PlaywrightTimeout

        try:
            await page.wait_for_load_state("networkidle", timeout=self.quiet_ms)
        except PlaywrightTimeout:
            pass  # a page that polls forever: what it did so far is recorded

    async def _load(self, page: Any, url: str, reload: bool = False) -> None:
        """Load (or reload) the page, scroll once, and wait until the network is quiet."""
        from playwright.async_api import Error

        try:
            response = (
                await page.reload(wait_until="load", timeout=self.timeout_ms)
                if reload
                else await page.goto(url, wait_until="load", timeout=self.timeout_ms)
            )
        except Error as error:
            raise PageFailed(f"{url}: {error.message.splitlines()[0]}") from None
        if response is not None and response.status >= 400:
            raise PageFailed(f"{url}: HTTP {response.status}")
        await page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
        await self._quiet(page)

    async def _with_region(self, route: Any) -> None:
        """Add the region headers on the way out, as a CDN does between the visitor and the
        server: headers set by the page (Playwright's extra_http_headers) would count as the
        page's own, and a cross-origin POST that names them is refused at its CORS preflight."""
        from playwright.async_api import Error

        try:
            headers = await route.request.all_headers()
            await route.continue_(headers={**headers, **self.headers})
        except Error:
            pass  # the page or its context closed while the request was on its way

    async def _decide(self, page: Any, pass_: str) -> bool:
        """Click the pass's button: in the first layer, else (a notice without Accept all)
        in the preferences that Customize opens. Whether it was found and clicked."""
        from playwright.async_api import Error

        button = page.get_by_role("button", name=self.names[pass_])
        customize = page.get_by_role("button", name=self.names["customize"])
        try:
            await button.or_(customize).first.wait_for(timeout=5000)
            if not await button.first.is_visible():
                await customize.first.click(timeout=5000)
            await button.first.click(timeout=5000)
        except Error:
            return False
        return True

    async def record(self, url: str, pass_: str) -> Json:
        from playwright.async_api import Error

        started = time.monotonic()
        context = await self.browser.new_context(
            locale=self.locale,
            viewport={"width": 1280, "height": 800},
        )
        if self.headers:
            await context.route("**/*", self._with_region)
        requests: list[str] = []
        try:
            page = await context.new_page()
            page.on("request", lambda r: requests.append(r.url))
            await self._load(page, url)
            held = await page.evaluate(HELD_JS)
            links: list[str] = []
            banner = None
            before: set[tuple[str, str, str]] = set()
            widget = list(requests)  # the widget script is requested before any decision
            if pass_ == "no_decision":
                links = await page.evaluate(LINKS_JS)
            else:
                before = {(c["name"], c["domain"], c["value"]) for c in await context.cookies()}
                banner = await self._decide(page, pass_)
                del requests[:]
                await self._quiet(page)  # the decision is recorded, released tags load
                await self._load(page, url, reload=True)
            still = await page.evaluate(HELD_JS)
            cookies = [
                {
                    "name": c["name"],
                    "domain": c["domain"],
                    "expires": c["expires"] if c["expires"] > 0 else None,
                }
                for c in await context.cookies()
                if (c["name"], c["domain"], c["value"]) not in before
            ]
            storage = await page.evaluate(STORAGE_JS)
        except Error as error:
            raise PageFailed(f"{url}: {error.message.splitlines()[0]}") from None
        finally:
            await context.close()
        hosts: dict[str, str] = {}
        for request_url in requests:
            host = host_of(request_url)
            if host and request_url.startswith(("http:", "https:")):
                hosts.setdefault(host, _strip(request_url))
        released = Counter(map(tuple, held)) - Counter(map(tuple, still))
        return {
            "page": url,
            "pass": pass_,
            "hosts": hosts,
            "server_hosts": sorted(server_hosts(widget + requests)),
            "cookies": cookies,
            "local_storage": storage,
            "released": [
                {"category": c, "vendor": v or None, "src": s}
                for (c, v, s), n in sorted(released.items())
                for _ in range(n)
            ],
            "banner": banner,
            "links": links,
            "seconds": round(time.monotonic() - started, 2),
        }
