from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from ems.cli import main
from tests.e2e.server import EmsServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmsServer]:
    """One server for a module's runs (each run makes and deletes its own queues)."""
    server = EmsServer(tmp_path_factory.mktemp("bench") / "data")
    server.start("--webhook-allow-private")
    yield server
    server.stop()


def bench(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    """Run ``ems bench ... --json``; its exit code and result."""
    capsys.readouterr()
    code = main(["bench", *args, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def assert_sane(result: dict[str, Any]) -> None:
    assert result["errors"] == 0, result["error_kinds"]
    assert result["error_kinds"] == {}
    assert result["operations"] > 0
    assert result["throughput_per_s"] > 0
    for key in [k for k in result if k.endswith("latency_ms")]:
        latency = result[key]
        assert set(latency) == {"p50", "p90", "p99", "max", "mean", "count"}
        assert 0 <= latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["max"], key
    cpu = result["client_cpu"]
    assert cpu["seconds"] >= 0
    assert cpu["busiest_process_fraction_of_core"] >= 0
    assert isinstance(cpu["cpu_bound"], bool)
    assert isinstance(result["notes"], list)
