"""Stored scans, and the database shared by a web worker and a scanning process."""

from __future__ import annotations

import subprocess
import sys

import pytest

from server.storage import connect
from server.storage import scans as scan_store


@pytest.mark.sqlite_only(reason="SQLite's POSIX locks and WAL file across processes")
def test_a_second_process_closing_the_database_loses_no_write_of_this_one(db_path, db):
    """A worker opens a connection per thread; the scanning process opens and closes its own.
    Opening a connection must not drop the worker's locks, or the other process, closing
    last, deletes the WAL that the worker still writes to."""
    db.execute("CREATE TABLE notes (text TEXT)")
    db.execute("INSERT INTO notes VALUES ('before')")
    second = connect(db_path)  # another thread's connection in the same process
    try:
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys, sqlite3; c = sqlite3.connect(sys.argv[1]);"
                "c.execute('SELECT count(*) FROM notes').fetchone(); c.close()",
                db_path,
            ],
            check=True,
        )
        db.execute("INSERT INTO notes VALUES ('after')")
        seen = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys, sqlite3; c = sqlite3.connect(sys.argv[1]);"
                "print(c.execute('SELECT count(*) FROM notes').fetchone()[0]); c.close()",
                db_path,
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    finally:
        second.close()
    assert seen == "2"


def test_only_one_scan_of_a_site_is_queued_or_running_at_a_time(db, published):
    first = scan_store.create(db, "shop", 1, {"urls": [], "max_pages": 5}, "test")
    assert first is not None
    assert scan_store.create(db, "shop", 1, {"urls": [], "max_pages": 5}, "test") is None
    scan_store.claim(db, first, 123)
    scan_store.progress(db, first, 2, 5)
    found = scan_store.get(db, "shop", first)
    assert (found["state"], found["pages_done"], found["pages_total"]) == ("running", 2, 5)
    result = {"site": "shop", "revision": 1, "findings": [{"kind": "not_seen"}], "pages": []}
    scan_store.finish(db, first, result, leaks=0)
    assert scan_store.get(db, "shop", first)["result"] == result
    second = scan_store.create(db, "shop", 1, {"urls": [], "max_pages": 5}, "test")
    assert second == first + 1
    assert [s["id"] for s in scan_store.history(db, "shop")] == [second, first]
    assert scan_store.get(db, "other", first) is None


def test_a_scan_whose_process_went_silent_no_longer_blocks_the_next(db, published):
    stuck = scan_store.create(db, "shop", 1, {"urls": [], "max_pages": 5}, "test")
    db.execute("UPDATE scans SET heartbeat_at = '2020-01-01T00:00:00.000Z' WHERE id = ?", [stuck])
    assert scan_store.create(db, "shop", 1, {"urls": [], "max_pages": 5}, "test") is not None
    found = scan_store.get(db, "shop", stuck)
    assert found["state"] == "failed" and "stopped" in found["error"]
