from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import pg
from tests.e2e.server import EmsServer

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmsServer]:
    server = EmsServer(tmp_path / "data")
    server.start()
    yield server
    server.stop()


def database(backend: str, directory: Path) -> tuple[str, str] | None:
    """What EmsServer(database=...) needs to serve ``backend``; None for SQLite."""
    if backend != "postgres":
        return None
    return pg.patient(pg.database_url()), pg.schema_for(directory)


@pytest.fixture(params=["sqlite", "postgres"])
def any_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EmsServer]:
    """A server on each backend in turn."""
    server = EmsServer(tmp_path / "data", database=database(request.param, tmp_path))
    server.start()
    yield server
    server.stop()
