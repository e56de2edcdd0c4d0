"""Each ``ems bench`` scenario, run briefly against a real ``ems serve``: the JSON result's shape
and sane values. Never a speed: only that the run worked and its figures are consistent."""

from __future__ import annotations

import pytest

from tests.bench.conftest import assert_sane, bench
from tests.e2e.server import EmsServer

pytestmark = pytest.mark.e2e


def test_send(server: EmsServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, result = bench(
        capsys, "send", "--url", server.url, "--count", "300", "--connections", "8"
    )
    assert code == 0
    assert_sane(result)
    assert result["scenario"] == "send"
    assert result["operations"] == result["requests"] == 300
    assert result["latency_ms"]["count"] == 300
    assert result["options"]["connections"] == 8
    assert result["unit"] == "msgs"


def test_send_batch(server: EmsServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, result = bench(
        capsys, "send-batch", "--url", server.url, "--count", "1050", "--connections", "4"
    )
    assert code == 0
    assert_sane(result)
    assert result["options"]["batch"] == 100
    assert result["operations"] == 1050
    assert result["requests"] == 11  # ten full batches and one of 50


@pytest.mark.parametrize(("batch", "requests"), [(1, 400), (10, 40)])
def test_receive_deletes_what_it_received(
    server: EmsServer, capsys: pytest.CaptureFixture[str], batch: int, requests: int
) -> None:
    code, result = bench(
        capsys,
        "receive",
        "--url",
        server.url,
        "--count",
        "200",
        "--batch",
        str(batch),
        "--connections",
        "4",
    )
    assert code == 0
    assert_sane(result)
    assert result["operations"] == 200
    assert result["prefill"] == 200
    assert result["requests"] == requests  # a receive and a delete per batch
    assert result["notes"] == []


def test_receive_says_when_the_queue_ran_empty(
    server: EmsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, result = bench(
        capsys, "receive", "--url", server.url, "--duration", "0.5", "--prefill", "30"
    )
    assert code == 0
    assert result["operations"] == 30
    assert any("ran empty" in note for note in result["notes"])


def test_e2e(server: EmsServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, result = bench(
        capsys, "e2e", "--url", server.url, "--count", "300", "--rate", "600", "--connections", "4"
    )
    assert code == 0
    assert_sane(result)
    assert result["sent"] == result["received"] == result["operations"] == 300
    assert result["target_rate_per_s"] == 600
    assert result["send_ack_latency_ms"]["count"] == 300
    # every message reached a consumer, and none before it was due to be sent (the latency runs
    # from the intended send time, which the message carries: zero or less would be a clock bug)
    assert result["latency_ms"]["count"] == 300
    assert result["latency_ms"]["p50"] > 0


def test_e2e_in_two_processes(server: EmsServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, result = bench(
        capsys, "e2e", "--url", server.url, "--count", "201", "--rate", "400", "--processes", "2"
    )
    assert code == 0
    assert_sane(result)
    assert result["sent"] == result["received"] == 201
    assert result["client_cpu"]["processes"] == 2


def test_send_in_two_processes(server: EmsServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, result = bench(
        capsys,
        "send",
        "--url",
        server.url,
        "--count",
        "301",
        "--processes",
        "2",
        "--connections",
        "4",
    )
    assert code == 0
    assert_sane(result)
    assert result["operations"] == 301


def test_fanout(server: EmsServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, result = bench(
        capsys,
        "fanout",
        "--url",
        server.url,
        "--count",
        "40",
        "--queues",
        "2",
        "--webhooks",
        "3",
        "--connections",
        "4",
    )
    assert code == 0
    assert_sane(result)
    assert result["unit"] == "publishes"
    assert result["operations"] == 40
    assert result["webhook_subscribers"] == 3
    assert result["pushes"] == 120
    assert result["pushes_not_arrived"] == 0
    assert result["push_latency_ms"]["count"] == 120
    assert result["queue_messages_written"] == 80
    assert result["options"]["drain"] == 10.0


def test_fanout_says_when_loopback_webhooks_are_refused(
    tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    strict = EmsServer(tmp_path_factory.mktemp("strict") / "data").start()
    try:
        code, result = bench(
            capsys, "fanout", "--url", strict.url, "--count", "10", "--webhooks", "2"
        )
    finally:
        strict.stop()
    assert code == 0
    assert result["webhook_subscribers"] == 0
    assert result["pushes"] == 0
    assert any("--webhook-allow-private" in note for note in result["notes"])
    assert "EMS_WEBHOOK_ALLOW_PRIVATE=1" in capsys.readouterr().err + "".join(result["notes"])


def test_longpoll(server: EmsServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, result = bench(capsys, "longpoll", "--url", server.url, "--count", "15", "--polls", "40")
    assert code == 0
    assert_sane(result)
    assert result["unit"] == "wake-ups"
    assert result["operations"] == 15
    assert result["polls"] == 40
    assert result["after_ack_latency_ms"]["count"] == 15
    # from the send's start includes the send itself: never below the time from its ack
    assert result["latency_ms"]["p50"] >= result["after_ack_latency_ms"]["p50"]


def test_the_table_without_json(server: EmsServer, capsys: pytest.CaptureFixture[str]) -> None:
    from ems.cli import main

    assert main(["bench", "send", "--url", server.url, "--count", "50"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"ems bench send against {server.url}: 50 msgs, 64 connections")
    for label in ("throughput", "latency (per request)", "errors", "client CPU"):
        assert label in out
