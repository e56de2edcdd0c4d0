"""The embedded store: one SQLite file, a single writer thread with group commit."""

from ems.storage.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
