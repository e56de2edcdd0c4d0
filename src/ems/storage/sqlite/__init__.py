"""The embedded store: one SQLite file, written in group-committed batches (statements on the
event loop, each COMMIT on a thread of its own; see writer.py)."""

from ems.storage.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
