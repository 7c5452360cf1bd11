"""Duplicate-free retries: a decision re-sent with its request_id is recorded once."""

import copy
import json
import threading
import urllib.error
import urllib.request

import pytest

from server.storage import connect, migrate
from server.storage import decisions as log
from server.storage import registry as registry_store
from server.storage import revisions as revision_store
from support import ORIGIN, REGISTRY, decision

HEADERS = {"Origin": ORIGIN}
REQUEST_ID = "k3J9-x_Qa81mZ0"


def post(client, body, site="shop", **kwargs):
    return client.post(f"/api/v1/sites/{site}/decisions", json=body, headers=HEADERS, **kwargs)


def decisions_stored(db, site="shop"):
    return db.execute("SELECT COUNT(*) FROM decisions WHERE site_key = ?", [site]).fetchone()[0]


def test_a_retry_gets_the_first_answer_and_records_nothing_new(client, db, published):
    first = post(client, decision(request_id=REQUEST_ID))
    assert first.status_code == 201, first.json
    again = post(client, decision(request_id=REQUEST_ID))
    assert again.status_code == 201
    assert again.data == first.data  # same consent id, receipt, time and choice, byte for byte
    assert decisions_stored(db) == 1
    # The answer's receipt works: it is the real one, re-signed, not a copy from the database.
    read = client.get(
        f"/api/v1/consents/{first.json['consent_id']}",
        headers={"Authorization": f"Bearer {again.json['receipt']}"},
    )
    assert read.status_code == 200 and len(read.json["decisions"]) == 1


def test_a_retry_sent_as_text_plain_by_sendbeacon_is_the_same_request(client, db, published):
    body = decision(request_id=REQUEST_ID)
    first = post(client, body)
    again = client.post(
        "/api/v1/sites/shop/decisions",
        data=json.dumps(body, indent=2),  # another spelling of the same JSON
        headers={**HEADERS, "Content-Type": "text/plain;charset=UTF-8"},
    )
    assert again.status_code == 201 and again.data == first.data
    assert decisions_stored(db) == 1


def test_decisions_without_a_request_id_are_each_recorded(client, db, published):
    assert post(client, decision()).status_code == 201
    assert post(client, decision()).status_code == 201
    assert decisions_stored(db) == 2


def test_a_request_id_reused_for_another_decision_is_a_conflict(client, db, published):
    assert post(client, decision(request_id=REQUEST_ID)).status_code == 201
    other = post(client, decision(request_id=REQUEST_ID, language="ja"))
    assert other.status_code == 409
    assert other.json["error"]["code"] == "request_id_reused"
    assert "request_id" in other.json["error"]["message"]
    assert other.headers["Access-Control-Allow-Origin"] == ORIGIN  # the widget can read why
    assert decisions_stored(db) == 1


def test_the_same_request_id_on_another_site_is_another_request(client, db, published):
    doc = copy.deepcopy(REGISTRY)
    other = copy.deepcopy(doc["sites"][0])
    other["key"] = "blog"
    doc["sites"].append(other)
    registry_store.apply(db, doc, "test")
    revision_store.publish(db, "blog", "test")
    shop = post(client, decision(request_id=REQUEST_ID))
    blog = post(client, decision(request_id=REQUEST_ID), site="blog")
    assert shop.status_code == blog.status_code == 201
    assert shop.json["consent_id"] != blog.json["consent_id"]
    assert decisions_stored(db, "shop") == decisions_stored(db, "blog") == 1


def test_a_request_id_is_remembered_for_a_day_only(client, db, published):
    first = post(client, decision(request_id=REQUEST_ID))
    day_and_a_second = 24 * 3600 * 1000 + 1000
    db.execute("UPDATE decision_requests SET created_at = created_at - ?", [day_and_a_second])
    # A day later the id is free again, even for another body: it is a new decision.
    later = post(client, decision(request_id=REQUEST_ID, language="ja"))
    assert later.status_code == 201
    assert later.json["consent_id"] != first.json["consent_id"]
    assert decisions_stored(db) == 2
    assert post(client, decision(request_id=REQUEST_ID, language="ja")).data == later.data
    assert decisions_stored(db) == 2


def test_a_retry_of_a_refused_decision_is_checked_again(client, db, published):
    body = decision(request_id=REQUEST_ID, categories={"functional": True})
    assert post(client, body).status_code == 400  # only a recorded decision is remembered
    body["categories"] = decision()["categories"]
    assert post(client, body).status_code == 201
    assert decisions_stored(db) == 1


def test_a_retry_after_the_consent_was_erased_still_gets_its_first_answer(client, db, published):
    first = post(client, decision(request_id=REQUEST_ID)).json
    erased = client.delete(
        f"/api/v1/consents/{first['consent_id']}",
        headers={"Authorization": f"Bearer {first['receipt']}"},
    )
    assert erased.status_code == 200
    again = post(client, decision(request_id=REQUEST_ID))
    assert again.status_code == 201 and again.json == first
    assert decisions_stored(db) == 0  # nothing was recorded again behind the erasure


@pytest.mark.parametrize(
    "bad",
    ["short", "x" * 65, "has space ok", "dots.are.not.ok", "ends-in-newline\n", 12345678, True, []],
)
def test_a_malformed_request_id_is_refused(client, db, published, bad):
    response = post(client, decision(request_id=bad))
    assert response.status_code == 400
    error = response.json["error"]
    assert error["code"] == "invalid_decision"
    assert error["message"].startswith("request_id: must be 8 to 64 characters")
    assert decisions_stored(db) == 0


def test_the_receipt_is_not_kept_with_the_remembered_answer(client, db, published):
    answer = post(client, decision(request_id=REQUEST_ID)).json
    (stored,) = db.execute("SELECT body FROM decision_requests").fetchone()
    assert answer["receipt"] not in stored
    assert json.loads(stored)["consent_id"] == answer["consent_id"]


def test_purge_request_ids_deletes_only_older_ones(client, db, published):
    for n in range(5):
        assert post(client, decision(request_id=f"{REQUEST_ID}-{n}")).status_code == 201
    db.execute(
        "UPDATE decision_requests SET created_at = 0 WHERE request_id IN (?, ?, ?)",
        [f"{REQUEST_ID}-0", f"{REQUEST_ID}-1", f"{REQUEST_ID}-2"],
    )
    assert log.purge_request_ids(db, "1971-01-01T00:00:00Z", batch_size=2) == 3
    left = {row[0] for row in db.execute("SELECT request_id FROM decision_requests")}
    assert left == {f"{REQUEST_ID}-3", f"{REQUEST_ID}-4"}
    assert decisions_stored(db) == 5  # the decisions themselves stay


def test_concurrent_posts_with_one_request_id_record_once(db_path, served):
    """Against the real server (two worker processes), many threads send one post at once."""
    db = connect(db_path)
    migrate(db)
    registry_store.apply(db, copy.deepcopy(REGISTRY), "test")
    revision_store.publish(db, "shop", "test")
    db.close()
    url = served(db_path, workers=2, PRIVACY_CENTER_RATE_LIMIT="off")

    body = json.dumps(decision(request_id=REQUEST_ID)).encode()
    start, answers, failures = threading.Barrier(12), [], []

    def send():
        request = urllib.request.Request(
            f"{url}/api/v1/sites/shop/decisions",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", **HEADERS},
        )
        start.wait()
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                answers.append((response.status, response.read()))
        except (urllib.error.URLError, OSError) as error:
            failures.append(error)

    threads = [threading.Thread(target=send) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert failures == []
    assert len(answers) == 12
    assert {status for status, _ in answers} == {201}
    assert len({data for _, data in answers}) == 1  # one answer, given twelve times
    db = connect(db_path)
    try:
        assert decisions_stored(db) == 1
        assert db.execute("SELECT COUNT(*) FROM decision_requests").fetchone()[0] == 1
    finally:
        db.close()
