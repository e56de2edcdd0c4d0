"""A batch body is bounded, and parsing one never holds the server.

A 16 MiB batch of a million tiny entries used to be parsed whole, on the event loop, before its
1000 entries were counted: two such clients kept /healthz waiting about half a second per
request and took the server's peak memory up by some 300 MiB. Now the parser stops at entry 1001
and lets the loop run between slices (benchmarks/batch_flood.py measures the latency).
"""

from __future__ import annotations

import threading

import httpx
import pytest

from tests.e2e.server import EmsServer

pytestmark = pytest.mark.e2e
ENTRY = b'{"body":"x"},'
# as many tiny entries as the 16 MiB request limit holds: about 1.3 million
FLOOD = b'{"messages":[' + ENTRY * ((16 * 1024 * 1024 - 40) // len(ENTRY)) + b'{"body":"x"}]}'


def peak_rss_mib(server: EmsServer) -> int:
    assert server.process is not None
    with open(f"/proc/{server.process.pid}/status") as status:
        (line,) = [line for line in status if line.startswith("VmHWM")]
    return int(line.split()[1]) // 1024


def test_a_flood_of_tiny_entries_is_refused_without_holding_the_server(
    server: EmsServer,
) -> None:
    assert len(FLOOD) <= 16 * 1024 * 1024
    with httpx.Client(base_url=server.url, timeout=60) as http:
        queue = http.post("/ems/queue").json()
        before = peak_rss_mib(server)
        answers: list[httpx.Response] = []

        def flood() -> None:
            with httpx.Client(base_url=server.url, timeout=60) as attacker:
                for _ in range(3):
                    answers.append(
                        attacker.post(f"/ems/queue/{queue['send_id']}/messages", content=FLOOD)
                    )

        attackers = [threading.Thread(target=flood) for _ in range(2)]
        for attacker in attackers:
            attacker.start()
        healthy = 0
        while any(attacker.is_alive() for attacker in attackers):
            healthy += http.get("/healthz").status_code == 200
        for attacker in attackers:
            attacker.join()
        assert healthy > 0, "the server answered others while the floods were parsed"
        # two 16 MiB bodies, held as bytes and as text while they are read: bounded by the
        # request limit, not by what the entries would become as Python objects
        assert peak_rss_mib(server) - before < 200
        assert len(answers) == 6
        for answer in answers:
            assert answer.status_code == 400
            assert answer.json()["type"] == "/ems/problems/too-many-entries"
            assert "more than 1000" in answer.json()["detail"]
        peeked = http.get(f"/ems/queue/{queue['queue_id']}/peek").json()
        assert peeked["messages"] == []
        # a full-sized batch of 1000 entries still goes through
        full = b'{"messages":[' + ENTRY * 999 + b'{"body":"x"}]}'
        sent = http.post(f"/ems/queue/{queue['send_id']}/messages", content=full)
        assert sent.status_code == 201
        assert len(sent.json()["message_ids"]) == 1000
