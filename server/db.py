"""The database connection of a request: one per worker thread, opened once and reused.

Opening SQLite and setting its pragmas costs more than most queries, so each thread keeps its
connection between requests. It holds no data between requests (every write commits before
the response), so nothing here is state another worker would need.
"""

from __future__ import annotations

import threading

import sqlite_utils
from flask import Flask, current_app

from .storage import connect

_local = threading.local()


def get_db() -> sqlite_utils.Database:
    path = current_app.config["DATABASE"]
    if getattr(_local, "path", None) != path:
        if getattr(_local, "db", None) is not None:
            _local.db.conn.close()
        _local.db, _local.path = connect(path), path
    return _local.db


def init_app(app: Flask) -> None:
    @app.teardown_request
    def _end_transaction(_error: BaseException | None = None) -> None:
        # A request that failed mid-write must not leave its transaction to the next one.
        db = getattr(_local, "db", None)
        if db is not None and db.conn.in_transaction:
            db.conn.rollback()
