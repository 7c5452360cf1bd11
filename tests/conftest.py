"""Fixtures: an app on its own temporary SQLite file, its client, tokens and a small registry."""
from __future__ import annotations

import copy

import pytest

from server import create_app
from server.storage import accounts, connect, migrate
from server.storage import registry as registry_store
from server.storage import revisions as revision_store

ORIGIN = "https://shop.example.co.jp"

REGISTRY = {
    "organization": {"name": {"ja": "株式会社サンプル", "en": "Sample Inc."},
                     "privacy_policy_url": "https://www.example.co.jp/privacy/"},
    "vendors": [
        {"key": "google-analytics", "name": "Google Analytics", "recipient": "Google LLC",
         "country": "US", "privacy_policy_url": "https://policies.google.com/privacy",
         "opt_out_url": "https://tools.google.com/dlpage/gaoptout",
         "hosts": ["www.google-analytics.com"],
         "cookies": [{"name": "_ga", "duration_days": 400}],
         "data_sent": {"ja": "閲覧したページのURL", "en": "Page URLs visited"},
         "purpose": {"ja": "利用状況の分析", "en": "Analysing how the site is used"}},
        {"key": "ad-network", "name": "Ad Network", "recipient": "Ads Co.",
         "privacy_policy_url": "https://ads.example/privacy",
         "data_sent": {"ja": "Cookie ID", "en": "Cookie ID"},
         "purpose": {"ja": "広告配信", "en": "Showing ads"}},
        {"key": "video", "name": "Video Player", "recipient": "Video Co.",
         "privacy_policy_url": "https://video.example/privacy",
         "data_sent": {"ja": "再生状況", "en": "Playback"},
         "purpose": {"ja": "動画の再生", "en": "Playing videos"}},
    ],
    "sites": [{
        "key": "shop",
        "name": {"ja": "サンプルショップ", "en": "Sample Shop"},
        "origins": [ORIGIN],
        "languages": ["ja", "en"],
        "default_language": "ja",
        "consent_max_age_days": 180,
        "google_consent_mode": True,
        "honor_gpc": True,
        "categories": [
            {"key": "necessary", "required": True, "name": {"ja": "必須", "en": "Necessary"},
             "description": {"ja": "必須です", "en": "Always on"}},
            {"key": "functional", "name": {"ja": "機能", "en": "Functional"},
             "description": {"ja": "便利な機能", "en": "Convenience"}},
            {"key": "analytics", "name": {"ja": "分析", "en": "Analytics"},
             "description": {"ja": "分析します", "en": "We measure"}},
            {"key": "advertising", "name": {"ja": "広告", "en": "Advertising"},
             "description": {"ja": "広告です", "en": "Ads"}},
        ],
        "vendors": [{"vendor": "video", "category": "functional"},
                    {"vendor": "google-analytics", "category": "analytics"},
                    {"vendor": "ad-network", "category": "advertising"}],
    }],
}


@pytest.fixture
def registry_doc():
    return copy.deepcopy(REGISTRY)


@pytest.fixture
def db_path(tmp_path):
    return str(tmp_path / "pc.db")


@pytest.fixture
def db(db_path):
    database = connect(db_path)
    migrate(database)
    yield database
    database.conn.close()


@pytest.fixture
def app(db_path, db):
    return create_app({"DATABASE": db_path, "SECRET_KEY": "test-secret", "TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def published(db, registry_doc):
    """The test registry applied and published as revision 1 of 'shop'."""
    registry_store.apply(db, registry_doc, "test")
    revision, _ = revision_store.publish(db, "shop", "test")
    return revision


@pytest.fixture
def token(db):
    return accounts.create_token(db, "tests")


@pytest.fixture
def auth(token):
    return {"Authorization": f"Bearer {token}"}


def decision(**overrides):
    body = {"revision": 1, "action": "custom",
            "categories": {"functional": True, "analytics": True, "advertising": False},
            "language": "en", "page_url": "https://shop.example.co.jp/items/1?q=secret#top"}
    body.update(overrides)
    return body
