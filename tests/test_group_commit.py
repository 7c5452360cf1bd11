"""Decisions stored in batches under granian on SQLite (server/fastpath.py, group commit), the
writers' queue on the database's lock file, and the WAL checkpointed beside the writers
(server/storage/engine.py)."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import threading
import time

import pytest
from test_fastpath import UA, Protocol, Scope

from server import create_app
from server.rsgi import RSGIApp
from server.services import decisions as service
from server.storage import decisions as log
from server.storage import engine
from server.storage.schema import write
from support import ORIGIN, decision

pytestmark = pytest.mark.sqlite_only(
    reason="the batches and the lock file's queue are SQLite's; PostgreSQL writes side by side"
)

HEADERS = [("content-type", "application/json"), ("origin", ORIGIN), ("user-agent", UA)]


def adapter(db_path, **config):
    app = create_app({"DATABASE": db_path, "SECRET_KEY": "test-secret", "TESTING": True, **config})
    return RSGIApp(app)


def post_together(rsgi, bodies):
    """Post `bodies` at once, as granian hands the loop requests that arrived together:
    their answers, in order, and how many transactions stored them."""
    transactions = []
    store = rsgi.fast._transaction

    def counting(steps, at, answers, **options):  # the real method, counted
        transactions.append(len([index for index in at if answers[index] is None]))
        store(steps, at, answers, **options)

    rsgi.fast._transaction = counting

    async def post_all():
        protocols = []
        for body in bodies:
            raw = json.dumps(body).encode()
            protocol = Protocol(raw)
            protocols.append(protocol)
            scope = Scope("/api/v1/sites/shop/decisions", HEADERS, raw)
            asyncio.get_running_loop().create_task(rsgi.__rsgi__(scope, protocol))
        while not all(hasattr(protocol, "answer") for protocol in protocols):
            await asyncio.sleep(0.001)
        return [protocol.answer for protocol in protocols]

    try:
        return asyncio.run(post_all()), transactions
    finally:
        rsgi.fast._transaction = store


def stored(db, answer):
    return log.for_consent(db, json.loads(answer[2])["consent_id"], "shop")


def test_decisions_that_arrive_together_are_stored_in_one_transaction(db_path, db, published):
    rsgi = adapter(db_path)
    assert rsgi.fast.grouped
    answers, transactions = post_together(rsgi, [decision() for _ in range(5)])
    assert [status for status, _, _ in answers] == [201] * 5
    assert transactions == [5]
    consent_ids = {json.loads(body)["consent_id"] for _, _, body in answers}
    assert len(consent_ids) == 5
    for answer in answers:
        assert len(stored(db, answer)) == 1
    # Each answer is the one for its own post, receipt included.
    for _, _, body in answers:
        answer = json.loads(body)
        assert answer["receipt"].startswith(answer["consent_id"])


def test_a_refused_decision_changes_nothing_of_the_others_in_its_batch(db_path, db, published):
    rsgi = adapter(db_path)
    (first,), _ = post_together(rsgi, [decision()])
    earlier = json.loads(first[2])
    # Its consent id erased: a decision that names it is refused inside the batch's
    # transaction, after the one before it was written there.
    assert service.erase(db, "test-secret", "shop", earlier["consent_id"]) == 1
    again = {**decision(), "consent_id": earlier["consent_id"], "receipt": earlier["receipt"]}
    replayed = {**decision(), "request_id": "batch-retry-1"}
    reused = {
        **replayed,
        "action": "reject_all",
        "categories": {"functional": False, "analytics": False, "advertising": False},
    }
    answers, transactions = post_together(rsgi, [decision(), again, replayed, replayed, reused])
    assert transactions == [5]
    statuses = [status for status, _, _ in answers]
    assert statuses == [201, 403, 201, 201, 409]
    assert json.loads(answers[1][2])["error"]["code"] == "bad_receipt"
    assert json.loads(answers[4][2])["error"]["code"] == "request_id_reused"
    # The replay inside the batch gave the first answer again and stored nothing more.
    assert json.loads(answers[2][2])["consent_id"] == json.loads(answers[3][2])["consent_id"]
    assert len(stored(db, answers[2])) == 1
    assert len(stored(db, answers[0])) == 1
    assert log.for_consent(db, earlier["consent_id"], "shop") == []
    total = db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]
    assert total == 2  # the first and the replayed one; the erased id's record is gone


def test_every_post_of_a_batch_counts_against_the_rate_limits(db_path, db, published):
    rsgi = adapter(db_path, RATE_LIMIT="decisions.client=3/minute")
    invalid = decision()
    invalid.pop("categories")
    answers, _ = post_together(rsgi, [invalid, decision(), decision(), decision(), decision()])
    statuses = [status for status, _, _ in answers]
    # The invalid post is counted too, as the Flask view counts it: three admitted in all.
    assert statuses == [400, 201, 201, 429, 429]
    refusal = answers[3]
    assert json.loads(refusal[2])["error"]["code"] == "rate_limited"
    assert ("Access-Control-Allow-Origin", ORIGIN) in refusal[1]
    assert 1 <= int(dict(refusal[1])["Retry-After"]) <= 60
    assert db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 2


def test_a_writer_waits_in_the_lock_files_queue_and_goes_on_when_it_is_free(db_path, db):
    db.execute("CREATE TABLE queued (what TEXT)")
    queue = os.open(db_path + ".lock", os.O_RDWR)
    fcntl.flock(queue, fcntl.LOCK_EX)  # as another process's writer holding its turn
    done = threading.Event()

    def writer():
        other = engine.SQLiteDatabase(db_path)
        with write(other):
            other.execute("INSERT INTO queued (what) VALUES ('queue')")
        other.close()
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    assert not done.wait(0.3), "the writer did not wait for its turn"
    released = time.monotonic()
    fcntl.flock(queue, fcntl.LOCK_UN)
    assert done.wait(5)
    # Woken by the kernel at once, not after one of SQLite's busy-handler sleeps.
    assert time.monotonic() - released < 0.05
    thread.join()
    os.close(queue)
    assert db.execute("SELECT what FROM queued").fetchall() == [("queue",)]


def test_the_wal_is_checkpointed_and_started_over_under_a_steady_load(db_path, db):
    wal = db_path + "-wal"
    db.execute("CREATE TABLE load (number INTEGER, padding TEXT)")
    sizes = []
    for number in range(2000):
        with write(db):
            db.execute("INSERT INTO load VALUES (?, ?)", [number, "x" * 2000])
        time.sleep(0.0005)  # as requests come: the checkpointer gets its turn in the queue
        if number % 250 == 249:
            sizes.append(os.path.getsize(wal))
    # 2,000 commits of a 2 kB row each: about 4,000 pages without a checkpoint (16 MB), and
    # SQLite's own backstop would not start before 10,000. The WAL is started over again and
    # again, so it never holds more than a few hundred commits.
    assert max(sizes) < 4 * 1024 * 1024, sizes
    assert db.execute("SELECT COUNT(*) FROM load").fetchone()[0] == 2000


def test_a_fault_of_a_batch_answers_each_of_its_posts_with_a_500(db_path, db, published):
    rsgi = adapter(db_path)

    def broken(steps):
        raise RuntimeError("the disk is gone")

    rsgi.fast.store = broken
    answers, _ = post_together(rsgi, [decision() for _ in range(3)])
    assert [status for status, _, _ in answers] == [500] * 3
    assert json.loads(answers[0][2])["error"]["code"] == "internal_server_error"
    assert db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 0
