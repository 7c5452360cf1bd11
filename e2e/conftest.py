"""Shared fixtures for real-browser tests, reused by every area's e2e tests.

Three loopback origins, each a real HTTP server on a free port in a thread:

- ``live``      the privacy-center app on 127.0.0.1, on its own temporary SQLite file, with
                ``E2E_REGISTRY`` (tests/support.py) applied and site ``shop`` published.
                ``live.url``, ``live.db()`` (a fresh connection), ``live.apply(doc)``,
                ``live.publish(key)``,
                ``live.new_site(key, **changes)`` (a published copy of ``shop`` under its own key,
                so that a test may publish revisions without disturbing others), and
                ``live.fail_next(path_part, status)`` (the server really answers ``status`` to
                the next request whose path contains ``path_part``).
- ``cdn_live``  a second privacy center like ``live`` that reads the visitor's region from the
                headers ``CF-IPCountry`` and ``CF-Region-Code`` (set them per browser context).
- ``publisher`` a publisher's pages on 127.0.0.2: ``publisher.page(html, headers=None)`` serves
                HTML and returns its URL; ``publisher.embed(site_key, body, ...)`` builds a page
                whose first script in <head> is the widget (of ``live``, or of ``server=URL``).
                Its origin is in every e2e site.
- ``vendor``    a vendor's host on 127.0.0.3 that records every request: ``vendor.requests``
                (list of paths), ``vendor.clear()``, ``vendor.url(path)``. ``*.js`` answers a
                script that appends its path to ``window.vendorRuns``; anything else a tiny page.

Browser: ``browser`` is one session-wide Chromium (sync Playwright, Debian's /usr/bin/chromium);
``context`` and ``page`` are fresh per test (no cookies or storage carried over). ``console``
collects the page's console messages and page errors as strings. ``axe(page)`` runs axe-core
(WCAG 2.1 A/AA) and returns its violations. ``screenshots_dir`` is build/screenshots/.
"""

from __future__ import annotations

import copy
import json
import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from server import create_app
from server.storage import connect, migrate
from server.storage import decisions as decision_log
from server.storage import registry as registry_store
from server.storage import revisions as revision_store
from support import DATABASES, E2E_REGISTRY, skip_sqlite_only


def pytest_collection_modifyitems(config, items):
    skip_sqlite_only(items)


def pytest_sessionfinish(session, exitstatus):
    DATABASES.close()


CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "build" / "screenshots"


class ServerThread:
    """A WSGI app served on host:0 in a daemon thread."""

    def __init__(self, host: str, app):
        self.server = make_server(host, 0, app, threaded=True)
        self.origin = f"http://{host}:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()


class Faults:
    """Wraps the app so that a test can make the real server answer an error once."""

    def __init__(self, app):
        self.app = app
        self.pending: list[tuple[str, int]] = []
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        with self.lock:
            for i, (part, status) in enumerate(self.pending):
                if part in path and environ["REQUEST_METHOD"] != "OPTIONS":
                    del self.pending[i]
                    body = json.dumps({"error": {"code": "unavailable", "message": "injected"}})
                    return Response(body, status=status, mimetype="application/json")(
                        environ, start_response
                    )
        return self.app(environ, start_response)


class Live:
    def __init__(self, db_path: str, server: ServerThread, faults: Faults, origins: list[str]):
        self.db_path = db_path
        self.server = server
        self.url = server.origin
        self._faults = faults
        self.origins = origins

    def db(self):
        return connect(self.db_path)

    def apply(self, doc: dict, publish: list[str] = ()) -> list[dict]:
        db = self.db()
        try:
            registry_store.apply(db, doc, "e2e")
            return [revision_store.publish(db, key, "e2e")[0] for key in publish]
        finally:
            db.close()

    def publish(self, key: str) -> dict:
        db = self.db()
        try:
            return revision_store.publish(db, key, "e2e")[0]
        finally:
            db.close()

    def site_doc(self, key: str, **changes) -> dict:
        """A registry document with a copy of site `shop` under `key`, `changes` applied."""
        doc = copy.deepcopy(E2E_REGISTRY)
        site = doc["sites"][0]
        site.update(copy.deepcopy(changes), key=key, origins=list(self.origins))
        doc["sites"] = [site]
        return doc

    def new_site(self, key: str, **changes) -> dict:
        """Publish a copy of `shop` as site `key`; returns its revision."""
        return self.apply(self.site_doc(key, **changes), publish=[key])[0]

    def decisions(self, site_key: str) -> list[dict]:
        db = self.db()
        try:
            rows = list(decision_log.export(db, site_key))
        finally:
            db.close()
        fields = ("consent_id", "revision", "action", "categories", "vendors", "gpc", "language")
        return [{field: row[field] for field in fields} for row in rows]

    def fail_next(self, path_part: str, status: int = 503):
        with self._faults.lock:
            self._faults.pending.append((path_part, status))


class Publisher:
    def __init__(self):
        self.pages: dict[str, tuple[str, dict]] = {}
        self.lock = threading.Lock()
        self.server = ServerThread("127.0.0.2", self.wsgi)
        self.origin = self.server.origin
        self.count = 0
        self.live_url = None

    @Request.application
    def wsgi(self, request):
        with self.lock:
            found = self.pages.get(request.path)
        if found is None:
            return Response("not found", status=404)
        html, headers = found
        return Response(html, mimetype="text/html", headers=headers)

    def page(self, html: str, headers: dict | None = None, path: str | None = None) -> str:
        with self.lock:
            self.count += 1
            path = path or f"/p{self.count}.html"
            self.pages[path] = (html, dict(headers or {}))
        return self.origin + path

    def embed(
        self,
        site_key: str,
        body: str = "",
        head: str = "",
        lang: str = "en",
        headers: dict | None = None,
        script_attrs: str = "",
        server: str | None = None,
    ) -> str:
        html = (
            f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            f'<script src="{server or self.live_url}/w/{site_key}.js"{script_attrs}></script>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>Publisher page</title>{head}</head><body><main><h1>Publisher page</h1>"
            f"<p>Article text.</p>{body}</main></body></html>"
        )
        return self.page(html, headers)


class Vendor:
    def __init__(self):
        self.requests: list[str] = []
        self.lock = threading.Lock()
        self.server = ServerThread("127.0.0.3", self.wsgi)
        self.origin = self.server.origin

    @Request.application
    def wsgi(self, request):
        with self.lock:
            self.requests.append(request.path)
        if request.path.endswith(".js"):
            body = (
                f"(window.vendorRuns = window.vendorRuns || []).push({json.dumps(request.path)});"
            )
            return Response(body, mimetype="text/javascript")
        return Response(
            "<!doctype html><title>vendor</title><p>vendor frame</p>", mimetype="text/html"
        )

    def url(self, path: str) -> str:
        return self.origin + path

    def clear(self):
        with self.lock:
            self.requests.clear()


@pytest.fixture(scope="session")
def publisher():
    pub = Publisher()
    yield pub
    pub.server.stop()


@pytest.fixture(scope="session")
def vendor():
    ven = Vendor()
    yield ven
    ven.server.stop()


def start_live(tmp_path_factory, publisher, **app_config) -> Live:
    """A privacy center on 127.0.0.1 with its own database, `app_config` added to the app's."""
    db_path = DATABASES.new(tmp_path_factory.mktemp("live"))
    db = connect(db_path)
    migrate(db)
    db.close()
    faults = Faults(create_app({"DATABASE": db_path, "SECRET_KEY": "e2e-secret", **app_config}))
    server = ServerThread("127.0.0.1", faults)
    live = Live(db_path, server, faults, [publisher.origin, server.origin])
    doc = copy.deepcopy(E2E_REGISTRY)
    doc["sites"][0]["origins"] = list(live.origins)
    live.apply(doc, publish=["shop"])
    return live


@pytest.fixture(scope="session")
def live(tmp_path_factory, publisher):
    live = start_live(tmp_path_factory, publisher)
    publisher.live_url = live.url
    yield live
    stop_live(live)


def stop_live(live: Live) -> None:
    live.server.stop()
    DATABASES.give_back(live.db_path)


@pytest.fixture(scope="session")
def cdn_live(tmp_path_factory, publisher):
    """A second privacy center, behind a (pretend) CDN: it reads the visitor's region from
    Cloudflare's headers `CF-IPCountry` and `CF-Region-Code`, which a test sets per browser
    context (`extra_http_headers`). Pages embed it with `publisher.embed(..., server=cdn_live.url)`."""
    live = start_live(
        tmp_path_factory,
        publisher,
        REGION_HEADER="CF-IPCountry",
        SUBDIVISION_HEADER="CF-Region-Code",
    )
    yield live
    stop_live(live)


@pytest.fixture(scope="session")
def screenshots_dir():
    """build/screenshots/, created: where the suite saves what a visitor would see."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture(scope="session")
def playwright_instance():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright_instance):
    browser = playwright_instance.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[
            "--disable-gpu",
            "--disable-quic",
            "--no-sandbox",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
        ],
    )
    yield browser
    browser.close()


@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    return context.new_page()


@pytest.fixture
def console(page):
    messages: list[str] = []
    page.on("console", lambda msg: messages.append(f"{msg.type}: {msg.text}"))
    page.on("pageerror", lambda error: messages.append(f"pageerror: {error}"))
    return messages


def _axe_source() -> str:
    import axe_playwright_python

    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def axe():
    """axe(page, include=None) -> list of violations at WCAG 2.1 A/AA (reads axe's raw results)."""
    source = _axe_source()

    def run(page, include=None):
        if not page.evaluate("typeof window.axe === 'object'"):
            page.evaluate(source)
        return page.evaluate(
            """async (include) => {
                const options = {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}};
                const result = await axe.run(include ? {include} : document, options);
                return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                    targets: v.nodes.map(n => JSON.stringify(n.target))}));
            }""",
            include,
        )

    return run
