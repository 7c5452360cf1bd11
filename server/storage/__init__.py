"""The storage layer: every SQL statement of the application lives in this package."""

from .schema import connect, migrate, write

__all__ = ["connect", "migrate", "write"]
