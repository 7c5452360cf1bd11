"""Scanning per region, for real: `privacy-center scan --region` drives Chromium against a
privacy center that reads the visitor's country from a CDN's header (`CF-IPCountry`).

The site is opt-in by default and a notice (Japan's 外部送信規律) in Japan. Its page runs the
vendor's tag before any decision and stops it once the visitor has decided, as a tag does
under a notice: a leak for a visitor from nowhere in particular (opt-in), expected for one from
Japan.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import threading

import pytest
from werkzeug.serving import make_server

from server import create_app
from server.storage import connect, migrate
from server.storage import decisions as decision_log
from server.storage import registry as registry_store
from server.storage import revisions as revision_store
from support import DATABASES, E2E_REGISTRY

SITE = "notice-jp"
VENDOR = {
    "key": "scan-analytics",
    "name": "Scan Analytics",
    "recipient": "Scan Analytics LLC",
    "country": "US",
    "privacy_policy_url": "https://scan-analytics.example/privacy",
    "hosts": ["127.0.0.3"],
    "data_sent": {"ja": "閲覧したページのURL", "en": "Page URLs visited"},
    "purpose": {"ja": "利用状況の分析", "en": "Analysing how the site is used"},
}
HEADERS = {
    "PRIVACY_CENTER_REGION_HEADER": "CF-IPCountry",
    "PRIVACY_CENTER_SUBDIVISION_HEADER": "CF-Region-Code",
}


class CdnServer:
    """The privacy center on 127.0.0.1, configured as behind a CDN, with its own database."""

    def __init__(self, db_path: str):
        self.db_path = db_path
        app = create_app(
            {
                "DATABASE": db_path,
                "SECRET_KEY": "e2e-secret",
                "REGION_HEADER": HEADERS["PRIVACY_CENTER_REGION_HEADER"],
                "SUBDIVISION_HEADER": HEADERS["PRIVACY_CENTER_SUBDIVISION_HEADER"],
            }
        )
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def decisions(self) -> list[dict]:
        db = connect(self.db_path)
        try:
            return list(decision_log.export(db, SITE))
        finally:
            db.close()


@pytest.fixture(scope="module")
def cdn(tmp_path_factory, publisher):
    db_path = DATABASES.new(tmp_path_factory.mktemp("scan-regions"))
    server = CdnServer(db_path)
    doc = copy.deepcopy(E2E_REGISTRY)
    site = doc["sites"][0]
    site.update(
        key=SITE,
        origins=[publisher.origin, server.url],
        regimes={"default": "opt_in", "regions": {"JP": "notice"}},
        vendors=[{"vendor": VENDOR["key"], "category": "analytics"}],
    )
    doc["sites"] = [site]
    doc["vendors"] = [*doc["vendors"], VENDOR]
    db = connect(db_path)
    try:
        migrate(db)
        registry_store.apply(db, doc, "e2e")
        revision_store.publish(db, SITE, "e2e")
    finally:
        db.close()
    yield server
    server.server.shutdown()
    DATABASES.give_back(db_path)


def page_with_an_early_tag(publisher, cdn, vendor) -> str:
    """A page whose tag runs until the visitor decides (the widget's cookie is set), then no
    more: what a notice lets a site do."""
    tag = (
        "<script>if (!/(^|; )pc_consent=/.test(document.cookie)) {"
        "var s = document.createElement('script');"
        f"s.src = {json.dumps(vendor.url('/early.js'))}; document.head.appendChild(s);"
        "}</script>"
    )
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<script src="{cdn.url}/w/{SITE}.js"></script><title>News</title></head>'
        f"<body><main><h1>News</h1><p>Article text.</p>{tag}</main></body></html>"
    )
    return publisher.page(html)


def scan(cdn, *args, env=None):
    done = subprocess.run(
        [sys.executable, "-m", "server", "--database", cdn.db_path, "scan", SITE, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})},
    )
    return done.returncode, done.stdout, done.stderr


def test_a_tag_before_the_decision_is_a_leak_by_default_and_expected_in_japan(
    cdn, publisher, vendor
):
    url = page_with_an_early_tag(publisher, cdn, vendor)

    status, out, err = scan(cdn, "--url", url, "--format", "json", env=HEADERS)
    assert status == 1, err
    anywhere = json.loads(out)
    assert (anywhere["region"], anywhere["regime"]) == (None, "opt_in")
    assert [(f["kind"], f["host"]) for f in anywhere["findings"]] == [
        ("before_decision", "127.0.0.3")
    ]
    passes = anywhere["pages"][0]["passes"]
    assert "127.0.0.3" in passes["no_decision"]["hosts"]
    assert "127.0.0.3" not in passes["reject_all"]["hosts"]

    status, out, err = scan(cdn, "--url", url, "--region", "JP", "--format", "json", env=HEADERS)
    assert status == 0, err
    japan = json.loads(out)
    assert (japan["region"], japan["regime"]) == ("JP", "notice")
    assert japan["findings"] == []
    assert "127.0.0.3" in japan["pages"][0]["passes"]["no_decision"]["hosts"]

    status, out, _ = scan(cdn, "--url", url, "--region", "jp", env=HEADERS)
    assert status == 0
    assert "region JP, regime notice: tags may run before a decision" in out

    # The header reached the privacy center: the scan's clicks are recorded as decisions made
    # in Japan, under the notice; those of the scan without a region, under the default.
    recorded = {(row["action"], row["region"], row["regime"]) for row in cdn.decisions()}
    assert ("reject_all", "JP", "notice") in recorded
    assert ("reject_all", None, "opt_in") in recorded


def test_a_region_the_deployment_names_no_header_for_is_refused(cdn):
    without = dict.fromkeys(HEADERS, "")
    status, out, err = scan(cdn, "--region", "JP", env=without)
    assert status == 2 and out == ""
    assert "--region: the region JP needs PRIVACY_CENTER_REGION_HEADER" in err
    status, _, err = scan(cdn, "--region", "EU", env=HEADERS)
    assert status == 2 and "EU is a group, not a visitor's region" in err
    assert "Traceback" not in err


def test_accept_all_is_found_in_the_preferences_when_the_notice_has_none(cdn, publisher, vendor):
    """A notice may offer only Reject all and Customize: the Accept all pass opens the
    preferences and clicks Accept all there."""
    load = (
        "var s = document.createElement('script');"
        f"s.src = '{vendor.url('/accepted.js')}'; document.head.appendChild(s);"
    )
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Notice</title>'
        "</head><body><main><h1>News</h1>"
        '<div role="region" aria-label="Notice"><button type="button">Reject all</button>'
        '<button type="button" onclick="document.getElementById(\'prefs\').showModal()">'
        "Customize</button></div>"
        '<dialog id="prefs"><button type="button" onclick="'
        "document.cookie = 'accepted=1; path=/'; this.closest('dialog').close();"
        f'{load}">Accept all</button></dialog>'
        f"<script>if (/accepted=1/.test(document.cookie)) {{ {load} }}</script>"
        "</main></body></html>"
    )
    url = publisher.page(html)
    status, out, err = scan(cdn, "--url", url, "--format", "json", env=HEADERS)
    assert status in (0, 1), err
    passes = json.loads(out)["pages"][0]["passes"]
    assert passes["accept_all"]["banner"] is True
    assert "127.0.0.3" in passes["accept_all"]["hosts"]
    assert passes["reject_all"]["banner"] is True
    assert "127.0.0.3" not in passes["reject_all"]["hosts"]
