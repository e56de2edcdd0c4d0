from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ems.config import Settings
from ems.core.clock import Clock
from ems.server.app import EmsApp
from ems.storage.sqlite import SqliteStore
from tests.backends import BACKENDS, StoreFactory


@pytest.fixture
def settings() -> Settings:
    """The server's settings; a test module overrides this fixture to change them."""
    return Settings()


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest) -> StoreFactory:
    """Every API test runs on every storage backend."""
    return BACKENDS[request.param]


@pytest.fixture
async def app(
    tmp_path: Path, clock: Clock, settings: Settings, backend: StoreFactory
) -> AsyncIterator[EmsApp]:
    app = EmsApp(backend(tmp_path, clock), settings)
    await app.startup()
    yield app
    await app.shutdown()


@pytest.fixture
async def client(app: EmsApp) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ems.test") as client:
        yield client


@contextlib.asynccontextmanager
async def serving(
    directory: Path, settings: Settings, client: tuple[str, int] = ("127.0.0.1", 50000)
) -> AsyncIterator[tuple[EmsApp, httpx.AsyncClient]]:
    """An app with these settings, and a client that connects from ``client``."""
    app = EmsApp(SqliteStore(directory / "ems.sqlite3"), settings)
    await app.startup()
    try:
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://ems.test") as http:
            yield app, http
    finally:
        await app.shutdown()


async def create_queue(client: httpx.AsyncClient, **attributes: Any) -> str:
    response = await client.post("/ems/queue", json=attributes or None)
    assert response.status_code == 201, response.text
    queue_id: str = response.json()["queue_id"]
    return queue_id


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.content.endswith(b"}\n"), "JSON answers end with a newline"
    problem: dict[str, Any] = response.json()
    assert problem["type"] == f"/ems/problems/{slug}"
    assert problem["status"] == status
    assert problem["title"]
    assert problem["detail"]
    return problem
