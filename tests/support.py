"""Test data and helpers shared by the test modules (tests/ and e2e/): a small registry, the
richer registry of the browser tests, a decision body and a signed-in admin client."""

from __future__ import annotations

import os
import queue
import re
import secrets
import tempfile
import threading
from pathlib import Path

ORIGIN = "https://shop.example.co.jp"

REGISTRY = {
    "organization": {
        "name": {"ja": "株式会社サンプル", "en": "Sample Inc."},
        "privacy_policy_url": "https://www.example.co.jp/privacy/",
    },
    "vendors": [
        {
            "key": "google-analytics",
            "name": "Google Analytics",
            "recipient": "Google LLC",
            "country": "US",
            "privacy_policy_url": "https://policies.google.com/privacy",
            "opt_out_url": "https://tools.google.com/dlpage/gaoptout",
            "hosts": ["www.google-analytics.com"],
            "cookies": [{"name": "_ga", "duration_days": 400}],
            "data_sent": {"ja": "閲覧したページのURL", "en": "Page URLs visited"},
            "purpose": {"ja": "利用状況の分析", "en": "Analysing how the site is used"},
        },
        {
            "key": "ad-network",
            "name": "Ad Network",
            "recipient": "Ads Co.",
            "privacy_policy_url": "https://ads.example/privacy",
            "data_sent": {"ja": "Cookie ID", "en": "Cookie ID"},
            "purpose": {"ja": "広告配信", "en": "Showing ads"},
        },
        {
            "key": "video",
            "name": "Video Player",
            "recipient": "Video Co.",
            "privacy_policy_url": "https://video.example/privacy",
            "data_sent": {"ja": "再生状況", "en": "Playback"},
            "purpose": {"ja": "動画の再生", "en": "Playing videos"},
        },
    ],
    "sites": [
        {
            "key": "shop",
            "name": {"ja": "サンプルショップ", "en": "Sample Shop"},
            "origins": [ORIGIN],
            "languages": ["ja", "en"],
            "default_language": "ja",
            "consent_max_age_days": 180,
            "google_consent_mode": True,
            "honor_gpc": True,
            "categories": [
                {
                    "key": "necessary",
                    "required": True,
                    "name": {"ja": "必須", "en": "Necessary"},
                    "description": {"ja": "必須です", "en": "Always on"},
                },
                {
                    "key": "functional",
                    "name": {"ja": "機能", "en": "Functional"},
                    "description": {"ja": "便利な機能", "en": "Convenience"},
                },
                {
                    "key": "analytics",
                    "name": {"ja": "分析", "en": "Analytics"},
                    "description": {"ja": "分析します", "en": "We measure"},
                },
                {
                    "key": "advertising",
                    "name": {"ja": "広告", "en": "Advertising"},
                    "description": {"ja": "広告です", "en": "Ads"},
                },
            ],
            "vendors": [
                {"vendor": "video", "category": "functional"},
                {"vendor": "google-analytics", "category": "analytics"},
                {"vendor": "ad-network", "category": "advertising"},
            ],
        }
    ],
}


# The browser tests' registry (e2e/conftest.py): four vendors, two in one category, so that
# a visitor's choices and the scripts they allow can be told apart.
E2E_REGISTRY = {
    "organization": {
        "name": {"ja": "株式会社テスト", "en": "Test Inc."},
        "privacy_policy_url": "https://www.example.co.jp/privacy/",
    },
    "vendors": [
        {
            "key": "analytics-co",
            "name": "Analytics Co",
            "recipient": "Analytics Co LLC",
            "country": "US",
            "privacy_policy_url": "https://analytics.example/privacy",
            "opt_out_url": "https://analytics.example/opt-out",
            "cookies": [
                {"name": "_an", "duration_days": 400},
                {"name": "_an_*", "duration_days": 400},
            ],
            "data_sent": {
                "ja": "閲覧したページのURL、Cookie ID",
                "en": "Page URLs visited, cookie ID",
            },
            "purpose": {"ja": "サイトの利用状況の分析", "en": "Analysing how the site is used"},
        },
        {
            "key": "heatmap-co",
            "name": "Heatmap Co",
            "recipient": "Heatmap Co K.K.",
            "country": "JP",
            "privacy_policy_url": "https://heatmap.example/privacy",
            "cookies": [{"name": "_hm", "duration_days": 30}],
            "data_sent": {"ja": "クリックとスクロール", "en": "Clicks and scrolling"},
            "purpose": {"ja": "使いやすさの分析", "en": "Analysing usability"},
        },
        {
            "key": "ads-co",
            "name": "Ads Co",
            "recipient": "Ads Co Inc.",
            "country": "US",
            "privacy_policy_url": "https://ads.example/privacy",
            "cookies": [{"name": "_ad", "duration_days": 90}],
            "data_sent": {"ja": "Cookie ID、広告のクリック", "en": "Cookie ID, ad clicks"},
            "purpose": {"ja": "広告の配信と効果測定", "en": "Showing and measuring ads"},
        },
        {
            "key": "video-co",
            "name": "Video Co",
            "recipient": "Video Co LLC",
            "country": "US",
            "privacy_policy_url": "https://video.example/privacy",
            "data_sent": {"ja": "再生状況", "en": "Playback"},
            "purpose": {"ja": "動画の再生", "en": "Playing videos"},
        },
    ],
    "sites": [
        {
            "key": "shop",
            "name": {"ja": "テストショップ", "en": "Test Shop"},
            "origins": [],  # filled with the publisher's and the server's origins
            "languages": ["ja", "en"],
            "default_language": "ja",
            "consent_max_age_days": 180,
            "google_consent_mode": True,
            "honor_gpc": True,
            "categories": [
                {
                    "key": "necessary",
                    "required": True,
                    "name": {"ja": "必須", "en": "Strictly necessary"},
                    "description": {
                        "ja": "サイトの動作に欠かせません。",
                        "en": "The site cannot work without these.",
                    },
                },
                {
                    "key": "functional",
                    "name": {"ja": "機能", "en": "Functional"},
                    "description": {
                        "ja": "動画などの機能のため。",
                        "en": "For features such as videos.",
                    },
                },
                {
                    "key": "analytics",
                    "name": {"ja": "分析", "en": "Analytics"},
                    "description": {
                        "ja": "利用状況の分析のため。",
                        "en": "For understanding how the site is used.",
                    },
                },
                {
                    "key": "advertising",
                    "name": {"ja": "広告", "en": "Advertising"},
                    "description": {"ja": "広告の配信のため。", "en": "For showing ads."},
                },
            ],
            "vendors": [
                {"vendor": "video-co", "category": "functional"},
                {"vendor": "analytics-co", "category": "analytics"},
                {"vendor": "heatmap-co", "category": "analytics"},
                {"vendor": "ads-co", "category": "advertising"},
            ],
        }
    ],
}


def decision(**overrides):
    body = {
        "revision": 1,
        "action": "custom",
        "categories": {"functional": True, "analytics": True, "advertising": False},
        "language": "en",
        "page_url": "https://shop.example.co.jp/items/1?q=secret#top",
    }
    body.update(overrides)
    return body


def choice(action, analytics, ads, revision=1, regime=None):
    """A validated choice of the REGISTRY's shop site, as `storage.decisions.record` takes it:
    `analytics` switches functional, analytics and their vendors, `ads` advertising and its
    vendor. `regime` None: recorded as before regimes (counted as opt_in)."""
    return {
        "revision": revision,
        "action": action,
        "categories": {
            "necessary": True,
            "functional": analytics,
            "analytics": analytics,
            "advertising": ads,
        },
        "vendors": {"video": analytics, "google-analytics": analytics, "ad-network": ads},
        "language": "en",
        "page_url": None,
        "gpc": False,
        "regime": regime,
        "region": None,
    }


ADMIN_PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The CSRF token in a page's forms."""
    match = _CSRF.search(html)
    assert match, "the page has no form with a csrf_token"
    return match[1]


class FormClient:
    """A test client that is not signed in; its posts carry its session's CSRF token, taken
    from the sign-in page, so that a refusal is about who it is, not about a missing token."""

    def __init__(self, client):
        self.client = client
        self.csrf = csrf_token(client.get("/admin/login").text)

    def get(self, url: str, **kwargs):
        return self.client.get(url, **kwargs)

    def post(self, url: str, data: dict | None = None, **kwargs):
        return self.client.post(url, data={"csrf_token": self.csrf, **(data or {})}, **kwargs)


class AdminClient(FormClient):
    """A test client signed in to the admin UI; its posts carry the session's CSRF token."""

    def __init__(self, client, email: str):
        super().__init__(client)
        self.email = email
        client.post(
            "/admin/login",
            data={"email": email, "password": ADMIN_PASSWORD, "csrf_token": self.csrf},
        )
        page = client.get("/admin/")
        assert page.status_code == 200 and _CSRF.search(page.text), f"{email} could not sign in"
        self.csrf = csrf_token(page.text)  # a new token comes with the signed-in session


def fetch_text(client, url: str) -> str:
    """A served file's text; the response is closed, as a static file's stays open otherwise."""
    with client.get(url) as response:
        assert response.status_code == 200, url
        return response.get_data(as_text=True)


# The engine of this test run: PRIVACY_CENTER_TEST_ENGINE=postgresql gives every test (and every
# e2e server) a database of its own on the PostgreSQL server PRIVACY_CENTER_TEST_PG names,
# created empty and dropped after; anything else, a SQLite file in the test's folder.

TEST_ENGINE = os.environ.get("PRIVACY_CENTER_TEST_ENGINE", "sqlite")
TEST_PG = os.environ.get("PRIVACY_CENTER_TEST_PG", "postgresql://root@127.0.0.1:5432")
ON_POSTGRESQL = TEST_ENGINE == "postgresql"
if ON_POSTGRESQL:
    # A server started without PRIVACY_CENTER_SECRET_KEY keeps its generated key there (for a
    # SQLite database: beside the file, in the test's folder), not in the checkout.
    os.environ.setdefault("PRIVACY_CENTER_INSTANCE", tempfile.mkdtemp(prefix="pc-instance-"))


class Databases:
    """Databases for one test run's engine. On PostgreSQL the first is a copy of a template
    migrated once per run (a copy takes a quarter of the time of migrating a new database).
    One given back is emptied in a background thread, as new (every row deleted, ids from 1
    again, its other sessions ended), and handed to a later test: emptying costs a tenth of a
    DROP and a CREATE. One whose schema a test changed is dropped instead."""

    def __init__(self):
        self._admin = None
        self._template: str | None = None
        self._returned: queue.Queue[tuple[str, bool] | None] = queue.Queue()
        self._ready: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._cleaner: threading.Thread | None = None

    def new(self, folder: Path, name: str = "pc", empty: bool = False) -> str:
        """A new database: a SQLite path in `folder` (no file yet), or a PostgreSQL URL of a
        database with the schema and no rows, or with nothing at all when `empty`."""
        if not ON_POSTGRESQL:
            return str(Path(folder) / f"{name}.db")
        import psycopg

        if self._admin is None:
            self._admin = psycopg.connect(f"{TEST_PG}/postgres", autocommit=True)
            self._cleaner = threading.Thread(target=self._clean_loop, daemon=True)
            self._cleaner.start()
        if self._template is None:
            from server.storage import connect, migrate

            template = f"pc_template_{secrets.token_hex(6)}"
            self._admin.execute(f'CREATE DATABASE "{template}"')
            db = connect(f"{TEST_PG}/{template}")
            migrate(db)
            db.close()
            self._template = template
        if not empty:
            try:
                return self._ready.get_nowait()
            except queue.Empty:
                pass
        database = f"pc_test_{secrets.token_hex(6)}"
        template = "template0" if empty else self._template
        self._admin.execute(f'CREATE DATABASE "{database}" TEMPLATE "{template}"')
        return f"{TEST_PG}/{database}"

    def give_back(self, location: str, reuse: bool = True) -> None:
        if ON_POSTGRESQL:
            from server.storage import engine

            engine.close_pools(location)
            self._returned.put((location, reuse))

    def _clean_loop(self) -> None:
        import psycopg

        from server.storage import connect
        from server.storage.schema import STEPS

        with psycopg.connect(f"{TEST_PG}/postgres", autocommit=True) as admin:
            while (item := self._returned.get()) is not None:
                location, reuse = item
                database = location.rsplit("/", 1)[1]
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    [database],
                )
                if reuse:
                    db = connect(location)
                    try:
                        reuse = _emptied(db, len(STEPS))
                    finally:
                        db.close()
                if reuse:
                    self._ready.put(location)
                else:
                    admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    def close(self) -> None:
        """At the end of the run (both conftests call it: the second finds nothing to do)."""
        if self._cleaner is not None:
            self._returned.put(None)
            self._cleaner.join(timeout=120)
            self._cleaner = None
        if self._admin is not None:
            leftovers = [self._template] if self._template else []
            while not self._ready.empty():
                leftovers.append(self._ready.get().rsplit("/", 1)[1])
            for database in leftovers:
                self._admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            self._template = None
            self._admin.close()
            self._admin = None


def _emptied(db, version: int) -> bool:
    """Delete every row and restart every id of a test's database; False (to drop it) when
    its schema is not the template's."""
    if db.schema_version() != version or "decisions" not in db.table_names():
        return False
    db.begin_write([])
    for table in db.table_names():
        if table != "schema_version":
            db.execute(f'DELETE FROM "{table}"')
    for table, column in db.execute(
        "SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "WHERE a.attidentity <> '' AND c.relnamespace = current_schema()::regnamespace"
    ).fetchall():
        db.execute(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" RESTART')
    db.commit()
    return True


DATABASES = Databases()


def skip_sqlite_only(items) -> None:
    """On a PostgreSQL run, skip the tests marked `sqlite_only(reason=...)`: they look into
    SQLite itself (its files, pragmas, query plans, locks); everything else runs on both."""
    import pytest

    if not ON_POSTGRESQL:
        return
    for item in items:
        marker = item.get_closest_marker("sqlite_only")
        if marker is not None and not item.get_closest_marker("skip"):
            reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")
            item.add_marker(pytest.mark.skip(reason=f"SQLite only: {reason}"))


def record_decision(db, site_key="shop", *, at=None, user_agent="Browser/1.0", consent=None):
    """A decision accepting every category, recorded as the API records it (the service), then
    dated `at` (ISO) if given; `consent` adds to its body. Returns the API's answer."""
    from server.services import decisions as decision_service
    from server.storage import revisions as revision_store
    from server.storage.schema import write
    from server.storage.util import iso_to_ms

    revision = revision_store.get(db, site_key)
    body = {
        "revision": revision["number"],
        "action": "accept_all",
        "categories": {c["key"]: True for c in revision["content"]["categories"]},
        "language": "en",
        **(consent or {}),
    }
    answer = decision_service.record(
        db,
        "test-secret",
        site_key,
        body,
        lambda n: revision if n == revision["number"] else None,
        decision_service.Visitor(user_agent=user_agent, remote_addr="192.0.2.1"),
    )
    if at:
        with write(db):
            db.execute(
                "UPDATE decisions SET recorded_at = ? WHERE consent_id = ?",
                [iso_to_ms(at), answer["consent_id"]],
            )
    return answer


# Regional rules of the test site (docs/regions.md): Japan's notice, California's and the rest
# of the US's opt-out, opt-in elsewhere.
REGIMES = {"default": "opt_in", "regions": {"JP": "notice", "US-CA": "opt_out", "US": "opt_out"}}

# The app settings that read the visitor's region from Cloudflare's headers (docs/regions.md).
CDN_HEADERS = {"REGION_HEADER": "CF-IPCountry", "SUBDIVISION_HEADER": "CF-Region-Code"}


def cdn_app(db_path, **config):
    """A test app on `db_path` that reads the region from CDN_HEADERS."""
    from server import create_app

    return create_app(
        {"DATABASE": db_path, "SECRET_KEY": "test-secret", "TESTING": True, **CDN_HEADERS, **config}
    )


def wait_for(predicate, timeout=5.0, interval=0.05):
    """`predicate()`'s first truthy value, asked every `interval` s; AssertionError after
    `timeout` s (a browser test's wait for what the page or the server does next)."""
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")
