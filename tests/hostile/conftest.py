"""Real ``ems serve`` processes for the hostile-client tests, one per module and backend.

Starting a server costs about a second, and these tests only add queues and topics of their
own, so a module shares one server per backend.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import pg
from tests.e2e.server import EmsServer, running


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def any_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EmsServer]:
    """A server on each backend in turn."""
    directory = tmp_path_factory.mktemp(request.param)
    database = (
        (pg.database_url(), pg.schema_for(directory)) if request.param == "postgres" else None
    )
    with running(directory / "data", database=database) as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmsServer]:
    """A server on SQLite."""
    with running(tmp_path_factory.mktemp("sqlite") / "data") as server:
        yield server
