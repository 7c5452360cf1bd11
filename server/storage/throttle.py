"""Failed sign-ins, stored so that every worker process slows down the same guesser."""

from __future__ import annotations

import time

from .engine import Database
from .schema import write

WINDOW = 15 * 60  # failures older than this are forgotten
FREE_TRIES = {"account": 5, "address": 20}
MAX_WAIT = 15 * 60


def _scope(kind: str, value: str) -> str:
    return f"{kind}:{value}"


def wait_seconds(db: Database, account: str, address: str, now: float | None = None) -> int:
    # `address` is whatever identifies the client: the admin passes a keyed hash, never an IP.
    """How long the next attempt for this account or from this address must wait (0: go ahead).

    After the free tries the wait doubles with every further failure (1 s, 2 s, 4 s, ...),
    up to 15 minutes, so a guesser gets a few hundred tries a day instead of millions.
    """
    now = time.time() if now is None else now
    longest = 0.0
    for kind, value in (("account", account), ("address", address)):
        count, last = db.execute(
            "SELECT COUNT(*), MAX(at) FROM login_failures WHERE scope = ? AND at > ?",
            [_scope(kind, value), now - WINDOW],
        ).fetchone()
        over = count - FREE_TRIES[kind]
        if over >= 0:
            longest = max(longest, last + min(2**over, MAX_WAIT) - now)
    return max(0, int(longest + 0.999))


def failed(db: Database, account: str, address: str, now: float | None = None) -> None:
    now = time.time() if now is None else now
    with write(db):
        db.executemany(
            "INSERT INTO login_failures (scope, at) VALUES (?, ?)",
            [(_scope("account", account), now), (_scope("address", address), now)],
        )
        db.execute("DELETE FROM login_failures WHERE at < ?", [now - 24 * 3600])


def succeeded(db: Database, account: str, now: float | None = None) -> None:
    now = time.time() if now is None else now
    with write(db):
        db.execute(
            "DELETE FROM login_failures WHERE scope = ? OR at < ?",
            [_scope("account", account), now - 24 * 3600],
        )
