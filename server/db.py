"""The database connection of a request: taken at its first query, given back at its end.

Which connection (SQLite: the worker thread's own, kept between requests; PostgreSQL: one from
the worker process's pool) is the engine's business (storage/engine.py). A connection holds no
data between requests (every write commits before the response), so nothing here is state
another worker would need.
"""

from __future__ import annotations

from flask import Flask, current_app, g

from .storage import Database, engine


def get_db() -> Database:
    db: Database | None = g.get("_privacy_center_db")
    if db is None:
        db = g._privacy_center_db = engine.acquire(current_app.config["DATABASE"])
    return db


def init_app(app: Flask) -> None:
    @app.teardown_appcontext
    def _release(_error: BaseException | None = None) -> None:
        db = g.pop("_privacy_center_db", None)
        if db is not None:
            engine.release(db)
