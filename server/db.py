"""The per-request database connection, opened on first use and closed on teardown."""
from __future__ import annotations

from flask import current_app, g

from .storage import connect, migrate


def get_db():
    if "db" not in g:
        g.db = connect(current_app.config["DATABASE"])
    return g.db


def close_db(_error=None):
    db = g.pop("db", None)
    if db is not None:
        db.conn.close()


def init_db(path: str) -> tuple[int, int]:
    db = connect(path)
    try:
        return migrate(db)
    finally:
        db.conn.close()


def init_app(app):
    app.teardown_appcontext(close_db)
