"""The storage layer: every SQL statement of the application lives in this package."""

from .engine import Database, is_postgresql
from .schema import connect, migrate, write

__all__ = ["Database", "connect", "is_postgresql", "migrate", "write"]
