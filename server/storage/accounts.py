"""Admin users (hashed passwords) and API tokens (stored only as hashes)."""

from __future__ import annotations

import hashlib
import secrets

from werkzeug.security import check_password_hash, generate_password_hash

from .audit import record as audit
from .schema import write
from .util import now_iso

ROLES = ("admin", "editor", "viewer")


def _token_hash(token: str) -> str:
    # Tokens carry 256 random bits, so a plain SHA-256 is enough to make the stored copy useless.
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(db, name: str, role: str = "admin", actor: str = "cli") -> str:
    token = "pc_" + secrets.token_urlsafe(32)
    with write(db):
        db.execute(
            "INSERT INTO tokens (name, token_hash, role, created_at) VALUES (?, ?, ?, ?)",
            [name, _token_hash(token), role, now_iso()],
        )
        audit(db, actor, "create", "token", name, after={"name": name, "role": role})
    return token


def check_token(db, token: str) -> dict | None:
    row = db.execute(
        "SELECT id, name, role FROM tokens WHERE token_hash = ? AND revoked_at IS NULL",
        [_token_hash(token)],
    ).fetchone()
    return {"id": row[0], "name": row[1], "role": row[2]} if row else None


def revoke_token(db, token_id: int, actor: str) -> bool:
    with write(db):
        done = db.execute(
            "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            [now_iso(), token_id],
        ).rowcount
        if done:
            audit(db, actor, "revoke", "token", str(token_id))
    return bool(done)


def user_count(db) -> int:
    return db.execute("SELECT COUNT(*) FROM users").fetchone()[0]


def create_user(
    db,
    email: str,
    password: str,
    role: str = "admin",
    actor: str = "cli",
    must_change_password: bool = False,
) -> int:
    """A new login. `must_change_password` for a password that someone else has seen (a
    generated, printed one): the admin UI then asks for a new one at the first sign-in."""
    email = email.strip().lower()
    with write(db, "accounts"):
        if db.execute("SELECT 1 FROM users WHERE email = ?", [email]).fetchone():
            raise ValueError(f"a user with the email {email} already exists")
        user_id = db.execute(
            "INSERT INTO users (email, password_hash, role, created_at, must_change_password) "
            "VALUES (?, ?, ?, ?, ?) RETURNING id",
            [email, generate_password_hash(password), role, now_iso(), int(must_change_password)],
        ).fetchone()[0]
        audit(db, actor, "create", "user", email, after={"email": email, "role": role})
    return user_id


def check_password(db, email: str, password: str) -> dict | None:
    row = db.execute(
        "SELECT id, email, password_hash, role FROM users WHERE email = ? AND active = 1",
        [email.strip().lower()],
    ).fetchone()
    if row and check_password_hash(row[2], password):
        return {"id": row[0], "email": row[1], "role": row[3]}
    return None


USER_COLUMNS = (
    "id",
    "email",
    "role",
    "active",
    "created_at",
    "must_change_password",
    "session_epoch",
)


def get_user(db, user_id: int) -> dict | None:
    row = db.execute(
        f"SELECT {', '.join(USER_COLUMNS)} FROM users WHERE id = ?", [user_id]
    ).fetchone()
    return _user(row) if row else None


def end_sessions(db, user_id: int) -> None:
    """Every session of this login ends now, in every browser and on every app machine: a
    session cookie only counts for the epoch it began in."""
    with write(db):
        db.execute("UPDATE users SET session_epoch = session_epoch + 1 WHERE id = ?", [user_id])


def _user(row) -> dict:
    out = dict(zip(USER_COLUMNS, row, strict=True))
    out["active"] = bool(out["active"])
    out["must_change_password"] = bool(out["must_change_password"])
    return out


def list_users(db) -> list[dict]:
    return [
        _user(row)
        for row in db.execute(f"SELECT {', '.join(USER_COLUMNS)} FROM users ORDER BY email")
    ]


def active_admins(db) -> int:
    return db.execute("SELECT COUNT(*) FROM users WHERE role = 'admin' AND active = 1").fetchone()[
        0
    ]


def update_user(
    db, user_id: int, actor: str, role: str | None = None, active: bool | None = None
) -> bool:
    """Change a user's role and/or activity, refusing to leave no active admin."""
    if role is not None and role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    with write(db, "accounts"):
        before = get_user(db, user_id)
        if before is None:
            return False
        after = {
            **before,
            **({} if role is None else {"role": role}),
            **({} if active is None else {"active": bool(active)}),
        }
        if after == before:
            return True
        if (
            before["role"] == "admin"
            and before["active"]
            and not (after["role"] == "admin" and after["active"])
            and active_admins(db) <= 1
        ):
            raise ValueError("the last active admin cannot be demoted or deactivated")
        # A deactivation ends the user's sessions, so that reactivating the login later does
        # not revive a cookie from before (a role change applies at the next request anyway).
        db.execute(
            "UPDATE users SET role = ?, active = ?, session_epoch = session_epoch + ? WHERE id = ?",
            [after["role"], int(after["active"]), int(not after["active"]), user_id],
        )
        keep = ("role", "active")
        audit(
            db,
            actor,
            "update",
            "user",
            before["email"],
            before={k: before[k] for k in keep},
            after={k: after[k] for k in keep},
        )
    return True


def set_password(
    db, user_id: int, password: str, actor: str, must_change_password: bool = False
) -> int:
    """A new password; the user's own clears `must_change_password`, one set for them sets it.

    Every session of the user ends with the old password (a stolen cookie too); the new session
    epoch is returned so that the browser that changed it can stay signed in.
    """
    with write(db):
        email = db.execute("SELECT email FROM users WHERE id = ?", [user_id]).fetchone()[0]
        db.execute(
            "UPDATE users SET password_hash = ?, must_change_password = ?,"
            " session_epoch = session_epoch + 1 WHERE id = ?",
            [generate_password_hash(password), int(must_change_password), user_id],
        )
        audit(db, actor, "update", "user", email, after={"password": "changed"})
        epoch = db.execute("SELECT session_epoch FROM users WHERE id = ?", [user_id]).fetchone()
    return int(epoch[0])


def is_password(db, user_id: int, password: str) -> bool:
    """Whether `password` is the user's current one (to refuse keeping a printed password)."""
    row = db.execute("SELECT password_hash FROM users WHERE id = ?", [user_id]).fetchone()
    return bool(row) and check_password_hash(row[0], password)


def list_tokens(db) -> list[dict]:
    cols = ("id", "name", "role", "created_at", "revoked_at")
    return [
        dict(zip(cols, row, strict=True))
        for row in db.execute(
            f"SELECT {', '.join(cols)} FROM tokens ORDER BY revoked_at IS NOT NULL, id DESC"
        )
    ]
