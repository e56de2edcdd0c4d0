"""The PostgreSQL backend (``pip install 'ems[postgres]'``): see :mod:`.store`.

Importing this package imports the asyncpg driver; ``ems serve`` does so only when given a
database URL.
"""

from ems.storage.migrations import SchemaTooNew
from ems.storage.postgres.store import PostgresStore

__all__ = ["PostgresStore", "SchemaTooNew"]
