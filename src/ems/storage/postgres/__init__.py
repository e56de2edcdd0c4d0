"""The PostgreSQL backend (``pip install 'easy-message-service[postgres]'``): see :mod:`.store`.

Importing this package imports the asyncpg driver; ``ems serve`` does so only when given a
database URL.
"""

from ems.storage.migrations import SchemaTooNew
from ems.storage.postgres.store import PostgresStore

__all__ = ["PostgresStore", "SchemaTooNew"]
