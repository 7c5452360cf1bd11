"""The database connection of a request: one per worker thread, opened once and reused.

Opening SQLite and setting its pragmas costs more than most queries, so each thread keeps its
connection between requests. It holds no data between requests (every write commits before
the response), so nothing here is state another worker would need.
"""
from __future__ import annotations

import threading

from flask import current_app

from .storage import connect

_local = threading.local()


def get_db():
    path = current_app.config["DATABASE"]
    if getattr(_local, "path", None) != path:
        if getattr(_local, "db", None) is not None:
            _local.db.conn.close()
        _local.db, _local.path = connect(path), path
    db = _local.db
    if db.conn.in_transaction:  # a request that failed mid-write must not leak its transaction
        db.conn.rollback()
    return db


def init_app(app):
    @app.teardown_request
    def _end_transaction(_error=None):
        db = getattr(_local, "db", None)
        if db is not None and db.conn.in_transaction:
            db.conn.rollback()
