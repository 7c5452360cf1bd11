"""The public API through the Flask client: config, decisions, CORS, receipts, erasure."""

import json

import pytest

from server.storage import decisions as log
from support import ORIGIN, decision

HEADERS = {"Origin": ORIGIN, "User-Agent": "pytest-browser/1.0"}


def post(client, body, headers=HEADERS, site="shop", **kwargs):
    return client.post(f"/api/v1/sites/{site}/decisions", json=body, headers=headers, **kwargs)


def test_config_of_the_latest_revision(client, published):
    response = client.get("/api/v1/sites/shop/config", headers={"Origin": ORIGIN})
    assert response.status_code == 200
    config = response.json
    assert config["revision"] == 1 and config["consent_revision"] == 1
    assert [c["key"] for c in config["categories"]] == [
        "necessary",
        "functional",
        "analytics",
        "advertising",
    ]
    assert config["vendors"][1]["recipient"] == "Google LLC"
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    again = client.get(
        "/api/v1/sites/shop/config", headers={"If-None-Match": response.headers["ETag"]}
    )
    assert again.status_code == 304


def test_config_errors_are_json(client, db, registry_doc):
    response = client.get("/api/v1/sites/nope/config")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "unknown_site"
    from server.storage import registry as registry_store

    registry_store.apply(db, registry_doc, "test")
    response = client.get("/api/v1/sites/shop/config")
    assert response.status_code == 404 and response.json["error"]["code"] == "not_published"


def test_record_a_first_decision(client, db, published):
    response = post(client, decision())
    assert response.status_code == 201, response.json
    body = response.json
    assert body["revision"] == 1 and body["recorded_at"].endswith("Z")
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    stored = log.for_consent(db, body["consent_id"], "shop")
    assert len(stored) == 1
    record = stored[0]
    assert record["action"] == "custom"
    assert record["categories"] == {
        "necessary": True,
        "functional": True,
        "analytics": True,
        "advertising": False,
    }
    assert record["vendors"] == {"video": True, "google-analytics": True, "ad-network": False}
    assert record["page_url"] == "https://shop.example.co.jp/items/1"  # no query, no fragment
    assert record["user_agent"] == "pytest-browser/1.0"
    assert record["client_hash"] and "127.0.0.1" not in json.dumps(record)
    assert record["gpc"] is False and record["language"] == "en"


def test_new_consent_ids_begin_with_their_time_and_end_random(client, published):
    import base64
    import time

    before = time.time_ns() // 1_000_000
    ids = [
        client.post("/api/v1/sites/shop/decisions", json=decision(), headers=HEADERS).json[
            "consent_id"
        ]
        for _ in range(3)
    ]
    after = time.time_ns() // 1_000_000
    raws = [base64.urlsafe_b64decode(i + "==") for i in ids]
    assert all(len(i) == 22 and len(raw) == 16 for i, raw in zip(ids, raws, strict=True))
    stamps = [int.from_bytes(raw[:6], "big") for raw in raws]
    assert (
        before <= stamps[0] <= stamps[1] <= stamps[2] <= after
    )  # the log's index grows at one end
    assert len({raw[6:] for raw in raws}) == 3  # and 80 random bits follow


def test_later_decisions_need_the_receipt(client, db, published):
    first = post(client, decision()).json
    again = dict(
        decision(
            action="reject_all",
            categories={"functional": False, "analytics": False, "advertising": False},
        ),
        consent_id=first["consent_id"],
    )
    refused = post(client, again)
    assert refused.status_code == 403 and refused.json["error"]["code"] == "bad_receipt"
    accepted = post(client, dict(again, receipt=first["receipt"]))
    assert accepted.status_code == 201
    assert accepted.json["consent_id"] == first["consent_id"]
    assert [d["action"] for d in log.for_consent(db, first["consent_id"], "shop")] == [
        "custom",
        "reject_all",
    ]


def test_sendbeacon_text_plain_is_accepted(client, published):
    response = client.post(
        "/api/v1/sites/shop/decisions",
        data=json.dumps(decision()),
        content_type="text/plain;charset=UTF-8",
        headers=HEADERS,
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    "change, field",
    [
        (
            {
                "categories": {
                    "functional": True,
                    "analytics": True,
                    "advertising": False,
                    "marketing": True,
                }
            },
            "categories.marketing",
        ),
        (
            {
                "categories": {
                    "necessary": False,
                    "functional": True,
                    "analytics": True,
                    "advertising": False,
                }
            },
            "categories.necessary",
        ),
        (
            {"categories": {"functional": True, "analytics": "yes", "advertising": False}},
            "categories.analytics",
        ),
        ({"categories": {"functional": True, "analytics": True}}, "categories.advertising"),
        ({"vendors": {"nobody": True}}, "vendors.nobody"),
        ({"vendors": {"ad-network": True}}, "vendors.ad-network"),
        ({"revision": 7}, "revision"),
        ({"revision": "1"}, "revision"),
        ({"action": "maybe"}, "action"),
        ({"language": "fr"}, "language"),
        ({"page_url": "javascript:alert(1)"}, "page_url"),
        ({"action": "accept_all"}, "categories"),
    ],
)
def test_bad_decisions_are_refused_naming_the_field(client, db, published, change, field):
    response = post(client, decision(**change))
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_decision"
    assert response.json["error"]["message"].startswith(field + ":")
    assert db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 0


def test_missing_fields(client, published):
    for field in ("revision", "action", "categories"):
        body = decision()
        del body[field]
        response = post(client, body)
        assert response.status_code == 400
        assert response.json["error"]["message"] == f"{field}: missing"


def test_not_json_and_too_large(client, published):
    response = client.post(
        "/api/v1/sites/shop/decisions",
        data="{not json",
        content_type="application/json",
        headers=HEADERS,
    )
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_json"
    big = decision(page_url="https://shop.example.co.jp/" + "a" * 17000)
    response = post(client, big)
    assert response.status_code == 413 and response.json["error"]["code"] == "too_large"


def test_older_revision_is_recorded_as_such(client, db, published, registry_doc):
    from server.storage import registry as registry_store
    from server.storage import revisions as revision_store

    registry_doc["sites"][0]["vendors"].pop()
    registry_store.apply(db, registry_doc, "test")
    revision_store.publish(db, "shop", "test")
    response = post(client, decision(revision=1))
    assert response.status_code == 201 and response.json["revision"] == 1
    assert post(client, decision(revision=2, vendors={})).json["revision"] == 2
    # revision 2 has no ad-network vendor any more
    response = post(client, decision(revision=2, vendors={"ad-network": False}))
    assert response.status_code == 400


def test_cors_only_for_registered_origins(client, db, published):
    preflight = client.options(
        "/api/v1/sites/shop/decisions",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    evil = {"Origin": "https://evil.example"}
    preflight = client.options("/api/v1/sites/shop/decisions", headers=evil)
    assert preflight.status_code == 403 and "Access-Control-Allow-Origin" not in preflight.headers
    response = post(client, decision(), headers=evil)
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response.headers
    assert post(client, decision(), headers={}).status_code == 403
    assert db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 0


def test_gpc_keeps_advertising_refused(client, db, published):
    body = decision(
        action="accept_all", categories={"functional": True, "analytics": True, "advertising": True}
    )
    response = post(client, body, headers={**HEADERS, "Sec-GPC": "1"})
    assert response.status_code == 201
    record = log.for_consent(db, response.json["consent_id"], "shop")[0]
    assert record["gpc"] is True
    assert record["categories"]["advertising"] is False
    assert record["vendors"]["ad-network"] is False
    assert record["categories"]["analytics"] is True
    # the widget under GPC sends advertising refused with accept_all: also fine
    body["categories"]["advertising"] = False
    body["gpc"] = True
    assert post(client, body).status_code == 201


def test_read_and_erase_with_the_receipt(client, db, published):
    first = post(client, decision()).json
    cid, receipt = first["consent_id"], first["receipt"]
    assert client.get(f"/api/v1/consents/{cid}").status_code == 401
    assert (
        client.get(
            f"/api/v1/consents/{cid}", headers={"Authorization": "Bearer " + receipt[:-2] + "xx"}
        ).status_code
        == 403
    )
    other = post(client, decision()).json
    assert (
        client.get(
            f"/api/v1/consents/{cid}", headers={"Authorization": "Bearer " + other["receipt"]}
        ).status_code
        == 403
    )
    mine = client.get(f"/api/v1/consents/{cid}", headers={"Authorization": "Bearer " + receipt})
    assert mine.status_code == 200
    assert [d["action"] for d in mine.json["decisions"]] == ["custom"]
    assert "user_agent" not in mine.json["decisions"][0]
    assert (
        client.delete(
            f"/api/v1/consents/{cid}", headers={"Authorization": "Bearer bad"}
        ).status_code
        == 403
    )
    erased = client.delete(
        f"/api/v1/consents/{cid}", headers={"Authorization": "Bearer " + receipt}
    )
    assert erased.status_code == 200 and erased.json["decisions_erased"] == 1
    assert (
        db.execute("SELECT COUNT(*) FROM decisions WHERE consent_id = ?", [cid]).fetchone()[0] == 0
    )
    row = db.execute("SELECT * FROM erasures").fetchone()
    assert cid not in json.dumps(row)  # the erasure record holds no consent id, no choices
    after = client.get(f"/api/v1/consents/{cid}", headers={"Authorization": "Bearer " + receipt})
    assert after.json["decisions"] == [] and len(after.json["erasures"]) == 1
    # the other visitor's records are untouched
    assert len(log.for_consent(db, other["consent_id"], "shop")) == 1


def test_unknown_routes_and_methods_answer_json(client):
    assert client.get("/api/v1/nothing").json["error"]["code"] == "not_found"
    response = client.put("/api/v1/sites/shop/decisions")
    assert response.status_code == 405 and response.json["error"]["code"] == "method_not_allowed"


def test_healthz(client):
    assert client.get("/healthz").json == {"status": "ok"}


@pytest.mark.parametrize(
    "raw, code",
    [
        ("[" * 5000, "invalid_json"),
        (json.dumps(decision(revision=10**30)), "invalid_decision"),
        (json.dumps(decision(page_url="https://a.example:99999/x")), "invalid_decision"),
        (json.dumps(decision(page_url="https://[::1/x")), "invalid_decision"),
        (json.dumps(decision(page_url="https://a.example/\ud800")), "invalid_decision"),
        (json.dumps(decision(page_url="https://a.example/\u0000")), "invalid_decision"),
        (json.dumps(decision(language={})), "invalid_decision"),
        (json.dumps(decision(language="")), "invalid_decision"),
    ],
)
def test_hostile_bodies_get_a_400_not_a_500(client, db, published, raw, code):
    response = client.post(
        "/api/v1/sites/shop/decisions", data=raw, content_type="application/json", headers=HEADERS
    )
    assert response.status_code == 400 and response.json["error"]["code"] == code
    assert db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 0


def test_an_erased_consent_id_stays_erased(client, db, published):
    first = post(client, decision()).json
    auth = {"Authorization": "Bearer " + first["receipt"]}
    assert client.delete(f"/api/v1/consents/{first['consent_id']}", headers=auth).status_code == 200
    again = post(client, decision(consent_id=first["consent_id"], receipt=first["receipt"]))
    assert again.status_code == 403 and again.json["error"]["code"] == "bad_receipt"
    assert log.for_consent(db, first["consent_id"], "shop") == []
    # the visitor simply decides again, under a new consent id
    fresh = post(client, decision())
    assert fresh.status_code == 201 and fresh.json["consent_id"] != first["consent_id"]


def test_erasure_takes_a_rare_user_agent_with_it(client, db, published):
    rare = {**HEADERS, "User-Agent": "RareBrowser/0.1 (only-this-visitor)"}
    mine = post(client, decision(), headers=rare).json
    other = post(client, decision()).json  # the common pytest-browser/1.0
    post(client, decision(), headers=HEADERS)
    agents = lambda: {v for (v,) in db.execute("SELECT value FROM user_agents")}  # noqa: E731
    assert agents() == {"RareBrowser/0.1 (only-this-visitor)", "pytest-browser/1.0"}
    client.delete(
        f"/api/v1/consents/{mine['consent_id']}",
        headers={"Authorization": "Bearer " + mine["receipt"]},
    )
    assert agents() == {"pytest-browser/1.0"}
    client.delete(
        f"/api/v1/consents/{other['consent_id']}",
        headers={"Authorization": "Bearer " + other["receipt"]},
    )
    assert agents() == {"pytest-browser/1.0"}  # still used by the third decision
    assert db.execute("SELECT uses FROM user_agents").fetchone()[0] == 1
