"""What every app machine of one deployment must agree on, kept in the database they share.

Today one thing: a fingerprint of the secret key. Receipts, admin sessions, client hashes,
erasure records and the rate limiter's namespace are all keyed with it, so two machines with
different keys behave as two deployments on one database (a visitor's receipt from one is
refused by the other, an admin is signed out at every other request). `serve` records the
fingerprint the first time and refuses to start with another key (docs/storage.md).
"""

from __future__ import annotations

import hashlib
import hmac

from .engine import Database
from .schema import write

KEY_CHECK = "secret_key_fingerprint"


def key_fingerprint(secret_key: str) -> str:
    """A keyed hash of a constant: it tells keys apart and gives nothing of the key away."""
    message = b"privacy-center: the deployment's secret key"
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def check_secret_key(db: Database, secret_key: str, replace: bool = False) -> bool:
    """Whether `secret_key` is the deployment's: recorded the first time (or, with `replace`,
    in place of the one before); False when the database was used with another key."""
    fingerprint = key_fingerprint(secret_key)
    with write(db, "deployment"):
        row = db.execute("SELECT value FROM deployment WHERE name = ?", [KEY_CHECK]).fetchone()
        if row is not None and not replace:
            return hmac.compare_digest(str(row[0]), fingerprint)
        db.execute(
            "INSERT INTO deployment (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            [KEY_CHECK, fingerprint],
        )
    return True
