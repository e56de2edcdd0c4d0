"""The pieces of ``ems bench`` that need no server."""

from __future__ import annotations

import io
import time
from collections import Counter

import pytest

from ems.bench import report, runner
from ems.bench.load import Send
from ems.bench.options import Budget, Options, Target
from ems.bench.progress import Progress
from ems.bench.stats import Tally, percentiles
from ems.cli import main


def test_percentiles_are_nearest_rank() -> None:
    figures = percentiles([float(n) for n in range(100, 0, -1)])
    assert figures == {
        "p50": 50.0,
        "p90": 90.0,
        "p99": 99.0,
        "max": 100.0,
        "mean": 50.5,
        "count": 100,
    }
    assert percentiles([])["count"] == 0
    assert percentiles([3.0])["p99"] == 3.0


def test_a_count_budget_is_shared_and_split_between_processes() -> None:
    options = Options("send", count=10, processes=3)
    assert [options.for_worker(n).count for n in range(3)] == [4, 3, 3]
    budget = Budget(Options("send-batch", count=250))
    budget.start()
    assert [budget.take(100), budget.take(100), budget.take(100), budget.take(100)] == [
        100,
        100,
        50,
        0,
    ]
    budget.give_back(20)
    assert budget.take(100) == 20


def test_a_duration_budget_ends_at_its_deadline() -> None:
    budget = Budget(Options("send", duration=0.05))
    budget.start()
    assert budget.take(5) == 5
    time.sleep(0.06)
    assert budget.take(5) == 0


def test_targets() -> None:
    assert Target.parse("http://example.com:9000/ems-behind/") == Target(
        "example.com", 9000, "/ems-behind"
    )
    assert Target.parse("http://127.0.0.1") == Target("127.0.0.1", 80, "")
    with pytest.raises(ValueError, match="plain http"):
        Target.parse("https://example.com")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["longpoll", "--processes", "2"], "runs in one process"),
        (["send", "--connections", "0"], "--connections must be at least 1"),
        (["receive", "--batch", "101"], "at most 100"),
        (["send", "--url", "https://localhost"], "plain http"),
        (["e2e", "--size", "8"], "at least 32 bytes"),
    ],
)
def test_bad_options_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", *args]) == 2
    assert message in capsys.readouterr().err


def test_an_unreachable_server_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.e2e.server import free_port

    assert main(["bench", "send", "--url", f"http://127.0.0.1:{free_port()}", "--count", "1"]) == 1
    assert "ems bench: http://127.0.0.1:" in capsys.readouterr().err


def test_a_busy_client_is_called_cpu_bound() -> None:
    tally = Tally(
        operations=1000, requests=1000, latencies_ms=[1.0] * 1000, cpu_seconds=1.9, wall_seconds=2.0
    )
    result = runner.summarize(Send(), Options("send"), {}, tally, [0.95])
    assert result["client_cpu"]["cpu_bound"] is True
    assert result["notes"][0].startswith("client was CPU-bound (95% of one core)")
    assert "--processes N" in result["notes"][0]
    relaxed = runner.summarize(Send(), Options("send"), {}, tally, [0.5])
    assert relaxed["client_cpu"]["cpu_bound"] is False
    assert relaxed["notes"] == []
    assert "note: client was CPU-bound" in report.table(result)


def test_tallies_merge() -> None:
    one = Tally(operations=1, requests=2, errors=Counter({"HTTP 500": 1}), latencies_ms=[1.0])
    one.sample("push", 3.0)
    other = Tally.from_dict(
        Tally(operations=2, requests=2, latencies_ms=[2.0], notes=["n"]).as_dict()
    )
    other.sample("push", 4.0)
    one.merge(other)
    assert (one.operations, one.requests, one.latencies_ms) == (3, 4, [1.0, 2.0])
    assert one.errors == Counter({"HTTP 500": 1})
    assert one.extra_latencies_ms == {"push": [3.0, 4.0]}
    assert one.notes == ["n"]


def test_progress_prints_lines_when_not_a_terminal() -> None:
    stream = io.StringIO()
    count = [0]
    with Progress("send", "msgs", lambda: count[0], stream, interval=0.01):
        count[0] = 100
        time.sleep(0.1)
    lines = stream.getvalue().splitlines()
    assert lines
    assert lines[-1].startswith("send:")
    assert "100 msgs" in lines[-1]


def test_progress_shows_what_a_run_waits_for_instead_of_a_rate() -> None:
    stream = io.StringIO()
    phase: list[str | None] = [None]
    with Progress("fanout", "publishes", lambda: 5, stream, interval=0.01, phase=lambda: phase[0]):
        time.sleep(0.05)
        phase[0] = "publishing done; waiting for pushes: 3 of 10 arrived (9 s left)"
        time.sleep(0.05)
    lines = stream.getvalue().splitlines()
    assert "publishes/s" in lines[0]
    assert lines[-1].endswith("waiting for pushes: 3 of 10 arrived (9 s left)")
    assert "/s" not in lines[-1], "no rate while nothing is being counted"
