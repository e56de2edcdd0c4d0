from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import EmsServer

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmsServer]:
    server = EmsServer(tmp_path / "data")
    server.start()
    yield server
    server.stop()
