"""The admin API's scans: who may start one, what is refused, and what a stored scan reads as.

Starting a real scan (a Chromium process on real pages) is in e2e/test_scanner_admin.py; the
refusals here never start one.
"""

from __future__ import annotations

import copy

import pytest

from server.storage import accounts
from server.storage import registry as registry_store
from server.storage import scans as scan_store

SCANS = "/api/v1/admin/sites/shop/scans"


def test_a_viewer_token_may_read_scans_but_not_start_one(client, db, published):
    viewer = {"Authorization": f"Bearer {accounts.create_token(db, 'v', 'viewer')}"}
    response = client.post(SCANS, json={}, headers=viewer)
    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"
    assert client.get(SCANS, headers=viewer).json == []
    assert client.post(SCANS, json={}).status_code == 401


def test_an_unknown_site_is_404(client, auth, published):
    for response in (
        client.post("/api/v1/admin/sites/nope/scans", json={}, headers=auth),
        client.get("/api/v1/admin/sites/nope/scans", headers=auth),
        client.get("/api/v1/admin/sites/nope/scans/1", headers=auth),
    ):
        assert response.status_code == 404
        assert response.json["error"]["code"] == "not_found"


def test_a_site_with_nothing_published_cannot_be_scanned(client, auth, db, registry_doc):
    registry_store.apply(db, registry_doc, "test")
    response = client.post(SCANS, json={}, headers=auth)
    assert response.status_code == 409
    assert response.json["error"]["code"] == "not_published"
    assert "publish it first" in response.json["error"]["message"]


@pytest.mark.parametrize(
    "body, message",
    [
        ({"urls": ["https://evil.example/"]}, "urls: 'https://evil.example/' is not on one of"),
        ({"urls": "https://shop.example.co.jp/"}, "urls: must be a list of URLs"),
        ({"urls": [1]}, "urls: must be a list of URLs"),
        ({"max_pages": 0}, "max_pages: must be a whole number from 1 to 100"),
        ({"max_pages": True}, "max_pages: must be a whole number from 1 to 100"),
        ({"depth": 3}, "depth: unknown field"),
    ],
)
def test_bad_options_are_400_naming_the_field(client, auth, published, body, message):
    response = client.post(SCANS, json=body, headers=auth)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid"
    assert response.json["error"]["message"].startswith(message)


def test_a_body_that_is_not_a_json_object_is_400(client, auth, published):
    response = client.post(SCANS, data="[1]", headers={**auth, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_json"


def test_one_scan_per_site_at_a_time(client, auth, db, published):
    running = scan_store.create(db, "shop", 1, {"urls": [], "max_pages": 20}, "test")
    response = client.post(SCANS, json={"urls": ["https://shop.example.co.jp/a"]}, headers=auth)
    assert response.status_code == 409
    assert response.json["error"]["code"] == "scan_running"
    assert [s["id"] for s in client.get(SCANS, headers=auth).json] == [running]


def test_a_finished_scan_reads_with_its_findings(client, auth, db, published):
    scan_id = scan_store.create(db, "shop", 1, {"urls": [], "max_pages": 20}, "token:ci")
    scan_store.claim(db, scan_id, 1)
    scan_store.progress(db, scan_id, 1, 1)
    finding = {
        "kind": "undisclosed_host",
        "page": "https://shop.example.co.jp/",
        "pass": "accept_all",
        "host": "static.hotjar.com",
    }
    result = {
        "site": "shop",
        "revision": 1,
        "scanned_at": "2026-12-04T00:00:00.000Z",
        "pages": [{"url": "https://shop.example.co.jp/", "passes": {}}],
        "findings": [finding],
        "counts": {"undisclosed_host": 1},
    }
    scan_store.finish(db, scan_id, copy.deepcopy(result), leaks=1)
    [listed] = client.get(SCANS, headers=auth).json
    assert listed["state"] == "done" and listed["leaks"] == 1 and listed["finding_count"] == 1
    assert "findings" not in listed
    one = client.get(f"{SCANS}/{scan_id}", headers=auth).json
    assert one["findings"] == [finding]
    assert one["revision"] == 1 and one["progress"] == {"pages_done": 1, "pages_total": 1}
    assert one["pages"] == result["pages"]
    assert client.get(f"{SCANS}/{scan_id + 1}", headers=auth).status_code == 404
    assert client.get(f"{SCANS}/{2**63}", headers=auth).status_code == 404
