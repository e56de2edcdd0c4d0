"""The recipes in examples/ run as programs against a real ``ems serve`` and pass their checks."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import EmsServer, free_port

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RECIPES = [
    "shorten_response_time",
    "webhook_reply",
    "load_balancing",
    "process_manager",
    "broadcast",
    "secure_sharing",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmsServer]:
    """One server for the module; each recipe makes (and deletes) its own queues and topics."""
    server = EmsServer(tmp_path_factory.mktemp("ems") / "data")
    server.start("--webhook-allow-private")  # the webhook recipe's endpoint is on 127.0.0.1
    yield server
    server.stop()


def run_example(server: EmsServer, name: str, *args: str, env: dict[str, str] | None = None) -> str:
    """Run ``python examples/NAME.py --url <server> ARGS`` as a user would; return its output."""
    url = [] if env else ["--url", server.url]
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py"), *url, *args],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
        env={**os.environ, **(env or {})},
    )
    output = f"--- stdout:\n{result.stdout}\n--- stderr:\n{result.stderr}"
    assert result.returncode == 0, f"{name} exited with {result.returncode}\n{output}"
    assert "Traceback" not in result.stderr, output
    assert result.stdout.rstrip().endswith("OK"), output
    return result.stdout


def test_shorten_response_time(server: EmsServer) -> None:
    out = run_example(server, "shorten_response_time")
    assert "20/20 results fetched by ticket" in out
    assert "Client.request: 'thumbnail of avatar.png'" in out


def test_webhook_reply(server: EmsServer) -> None:
    out = run_example(server, "webhook_reply")
    assert "subscription confirmed" in out
    assert "10/10 results arrived by webhook" in out
    assert "an unsigned request to the webhook is refused: 401" in out


def test_load_balancing_survives_kill_9(server: EmsServer) -> None:
    out = run_example(server, "load_balancing")
    assert "killed the slow worker" in out
    assert "60/60 distinct jobs processed" in out


@pytest.mark.parametrize(("flags", "outcome"), [((), "committed"), (("--fail",), "rolled back")])
def test_process_manager(server: EmsServer, flags: tuple[str, ...], outcome: str) -> None:
    out = run_example(server, "process_manager", *flags)
    assert f"the trip was {outcome}" in out


def test_broadcast_finds_the_server_through_ems_url(server: EmsServer) -> None:
    out = run_example(server, "broadcast", env={"EMS_URL": server.url})
    assert "each stored in 5 queues" in out
    assert out.count("received 10 messages") == 5


def test_secure_sharing(server: EmsServer) -> None:
    out = run_example(server, "secure_sharing")
    assert "the key queue is deleted" in out
    assert "no plaintext on the server: True" in out


@pytest.mark.parametrize("name", RECIPES)
def test_main_reports_an_unreachable_server(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Imported, each recipe's ``main(argv)`` returns non-zero with a hint, not a traceback."""
    spec = importlib.util.spec_from_file_location(f"recipe_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--url", f"http://127.0.0.1:{free_port()}"]) == 2
    assert "start it with `ems serve`" in capsys.readouterr().out


def test_every_recipe_is_tested_and_listed() -> None:
    readme = (EXAMPLES / "README.md").read_text()
    assert sorted(path.stem for path in EXAMPLES.glob("*.py")) == sorted(RECIPES)
    for name in RECIPES:
        assert f"{name}.py" in readme
