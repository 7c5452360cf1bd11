"""The typed errors a service raises; each surface translates them, none re-checks the rule."""

from __future__ import annotations


class ServiceError(Exception):
    """A refused command: `code` is stable and machine-readable, `message` is for people."""

    status = 400

    def __init__(self, code: str, message: str, *, field: str | None = None, **details: object):
        super().__init__(message)
        self.code, self.message, self.field = code, message, field
        # What a surface needs to say it in its own words and language (what, key, sites, ...).
        self.details = details


class NotFound(ServiceError):
    """The thing named does not exist."""

    status = 404

    def __init__(self, what: str, key: object):
        super().__init__("not_found", f"No {what} '{key}'.", what=what, key=key)
        self.what, self.key = what, key


class Conflict(ServiceError):
    """The command is well formed, but what is stored forbids it (exists, in use, published)."""

    status = 409


class Invalid(ServiceError):
    """The command's content is wrong: every problem as 'path: message'.

    `prefix` is the path of the object the command was about ("vendors[2]"), so that a surface
    can report each problem next to its field.
    """

    status = 400

    def __init__(self, problems: list[str], prefix: str = "", code: str = "invalid"):
        super().__init__(code, "; ".join(problems))
        self.problems, self.prefix = problems, prefix

    def relative_problems(self) -> list[str]:
        """The problems with the object's own path cut off ("name.en: missing")."""
        cut = self.prefix + "." if self.prefix else None
        return [p[len(cut) :] if cut and p.startswith(cut) else p for p in self.problems]


class Refused(ServiceError):
    """Not allowed for this caller or this record (a bad or spent receipt)."""

    status = 403
