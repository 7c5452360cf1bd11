"""Scanning as a visitor from a region: the option on every surface, its refusals, and the
report naming the region and the regime its findings were judged under.

The app here reads Cloudflare's headers (`CF-IPCountry`, `CF-Region-Code`), as a deployment
behind a CDN does. A real scan per region, in Chromium, is in e2e/test_scanner_regions_e2e.py.
"""

from __future__ import annotations

import copy
import time

import pytest

from server import create_app
from server.scanner import run
from server.storage import accounts
from server.storage import registry as registry_store
from server.storage import revisions as revision_store
from server.storage import scans as scan_store
from support import ADMIN_PASSWORD, AdminClient, cdn_app

SCANS = "/api/v1/admin/sites/shop/scans"
PAGE = "https://shop.example.co.jp/"
REGIMES = {"default": "opt_in", "regions": {"JP": "notice", "US-CA": "opt_out"}}


@pytest.fixture
def app(db_path, db):
    return cdn_app(db_path)


@pytest.fixture
def regional(db, registry_doc):
    """Site `shop` published with a notice in Japan and opt-out in California."""
    doc = copy.deepcopy(registry_doc)
    doc["sites"][0]["regimes"] = copy.deepcopy(REGIMES)
    registry_store.apply(db, doc, "test")
    revision, _ = revision_store.publish(db, "shop", "test")
    return revision


def wait_until_finished(db, scan_id, seconds=60):
    deadline = time.monotonic() + seconds
    while True:
        found = scan_store.get(db, "shop", scan_id)
        if found["state"] not in scan_store.ACTIVE or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_the_report_names_the_region_and_judges_by_its_regime(regional):
    early = {
        "page": PAGE,
        "pass": "no_decision",
        "hosts": {"www.google-analytics.com": "https://www.google-analytics.com/g/collect"},
        "server_hosts": [],
        "cookies": [],
        "local_storage": [],
        "released": [],
        "banner": None,
        "seconds": 1.0,
    }
    pages = [{"url": PAGE, "passes": {"no_decision": early}}]
    anywhere = run.report(regional, pages, "2026-12-04T00:00:00.000Z")
    assert (anywhere["region"], anywhere["regime"]) == (None, "opt_in")
    assert [f["kind"] for f in anywhere["findings"]] == ["before_decision"]
    japan = run.report(regional, pages, "2026-12-04T00:00:00.000Z", region="JP")
    assert (japan["region"], japan["regime"]) == ("JP", "notice")
    assert japan["findings"] == []
    lines = run.text_report(japan, "leaks").splitlines()
    assert lines[1] == "region JP, regime notice: tags may run before a decision"
    lines = run.text_report(anywhere, "leaks").splitlines()
    assert lines[1] == "no region given: the site's default regime, opt_in"
    assert lines[-1] == "FAIL: 1 finding(s) at or above --fail-on leaks"


def test_the_visitor_of_a_scan_needs_a_header_that_can_carry_the_region(regional):
    names = ("CF-IPCountry", "CF-Region-Code")
    assert run.visitor(regional, None, names) == (None, "opt_in", {})
    assert run.visitor(regional, "jp", names) == ("JP", "notice", {"CF-IPCountry": "JP"})
    assert run.visitor(regional, "US-CA", names) == (
        "US-CA",
        "opt_out",
        {"CF-IPCountry": "US", "CF-Region-Code": "CA"},
    )
    for region, given, message in [
        ("EU", names, "--region: EU is a group"),
        ("JP", (None, None), "--region: the region JP needs PRIVACY_CENTER_REGION_HEADER"),
        ("US-CA", ("CF-IPCountry", None), "needs PRIVACY_CENTER_SUBDIVISION_HEADER"),
    ]:
        with pytest.raises(run.ScanRefused, match=message):
            run.visitor(regional, region, given)


@pytest.mark.parametrize(
    "region, message",
    [
        ("EU", "region: EU is a group, not a visitor's region"),
        ("XX", "region: 'XX' is not an ISO 3166-1 alpha-2 country code"),
        (7, "region: must be a country (JP) or a subdivision (US-CA)"),
    ],
)
def test_the_admin_api_refuses_a_region_that_is_no_visitors(
    client, auth, regional, region, message
):
    response = client.post(SCANS, json={"region": region}, headers=auth)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid"
    assert response.json["error"]["message"].startswith(message)
    assert client.get(SCANS, headers=auth).json == []


def test_a_server_that_reads_no_region_header_cannot_scan_a_region(
    db_path, db, auth, regional, monkeypatch
):
    monkeypatch.delenv("PRIVACY_CENTER_REGION_HEADER", raising=False)
    plain = create_app({"DATABASE": db_path, "SECRET_KEY": "k", "REGION_HEADER": None})
    response = plain.test_client().post(SCANS, json={"region": "JP"}, headers=auth)
    assert response.status_code == 400
    assert "needs PRIVACY_CENTER_REGION_HEADER" in response.json["error"]["message"]


def test_the_admin_api_starts_a_scan_of_a_region_and_keeps_it_in_its_options(
    client, auth, db, regional, monkeypatch
):
    # The scan's own process really starts; with no browser it fails at once instead of
    # loading the site's (unreachable) pages.
    monkeypatch.setenv("CHROMIUM", "/nonexistent/chromium")
    response = client.post(SCANS, json={"region": "us-ca", "max_pages": 1}, headers=auth)
    assert response.status_code == 202, response.json
    assert response.json["options"] == {"urls": [], "max_pages": 1, "region": "US-CA"}
    assert response.json["regime"] is None  # until it is done
    finished = wait_until_finished(db, response.json["id"])
    assert finished["state"] == "failed" and "no Chromium" in finished["error"]
    # No region: null in the options, as for every scan started without one.
    response = client.post(SCANS, json={"max_pages": 1}, headers=auth)
    assert response.status_code == 202
    assert response.json["options"]["region"] is None
    wait_until_finished(db, response.json["id"])


def test_the_scan_tab_offers_the_region_where_the_server_reads_one(
    admin_client, db, regional, monkeypatch
):
    monkeypatch.setenv("CHROMIUM", "/nonexistent/chromium")
    editor = admin_client("editor")
    page = editor.get("/admin/sites/shop/scans").get_data(as_text=True)
    assert 'name="region"' in page and "CF-IPCountry" in page
    response = editor.post("/admin/sites/shop/scans", data={"region": "EU", "max_pages": "1"})
    assert response.status_code == 302
    page = editor.get("/admin/sites/shop/scans").get_data(as_text=True)
    assert "The scan was not started: region: EU is a group" in page
    response = editor.post("/admin/sites/shop/scans", data={"region": "JP", "max_pages": "1"})
    assert response.status_code == 302
    [scan] = scan_store.history(db, "shop")
    assert scan["options"]["region"] == "JP"
    wait_until_finished(db, scan["id"])


def test_a_finished_scan_shows_its_region_and_regime(admin_client, db, regional):
    scan_id = scan_store.create(
        db, "shop", 1, {"urls": [], "max_pages": 20, "region": "JP"}, "test"
    )
    scan_store.claim(db, scan_id, 1)
    result = {
        "site": "shop",
        "revision": 1,
        "region": "JP",
        "regime": "notice",
        "scanned_at": "2026-12-04T00:00:00.000Z",
        "pages": [{"url": PAGE, "passes": {}}],
        "findings": [],
    }
    scan_store.finish(db, scan_id, result, 0)
    editor = admin_client("editor")
    page = editor.get(f"/admin/sites/shop/scans/{scan_id}").get_data(as_text=True)
    assert '<p id="scan-regime">Region: <code>JP</code> · Regime: Notice</p>' in page


def test_without_a_region_header_the_scan_tab_has_no_region_field(db_path, db, regional):
    plain = create_app({"DATABASE": db_path, "SECRET_KEY": "k", "REGION_HEADER": None})
    accounts.create_user(db, "plain@example.com", ADMIN_PASSWORD, "editor")
    editor = AdminClient(plain.test_client(), "plain@example.com")
    page = editor.get("/admin/sites/shop/scans").get_data(as_text=True)
    assert "Start a scan" in page and 'name="region"' not in page
