from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from ems.client import AsyncClient, Client
from ems.config import Settings
from ems.server.app import EmsApp
from ems.storage.sqlite import SqliteStore
from tests.e2e.server import EmsServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmsServer]:
    """A real ``ems serve`` shared by a module's tests (each test makes its own queues)."""
    server = EmsServer(tmp_path_factory.mktemp("ems") / "data")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def client(server: EmsServer) -> Iterator[Client]:
    with Client(server.url) as client:
        yield client


@pytest.fixture
async def aclient(tmp_path: Path) -> AsyncIterator[AsyncClient]:
    """The async client on the app in-process (no network), on a real SQLite file."""
    app = EmsApp(SqliteStore(tmp_path / "ems.sqlite3"), Settings())
    await app.startup()
    try:
        transport = httpx.ASGITransport(app=app)
        async with AsyncClient("http://ems.test", transport=transport) as client:
            yield client
    finally:
        await app.shutdown()
