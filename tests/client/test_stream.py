"""``Client.stream``, ``AsyncClient.stream`` and ``ems receive --follow`` against real servers."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ems.client import AsyncClient, Client, errors
from tests.e2e.server import EmsServer


def test_a_stream_yields_messages_and_ack_deletes_them(client: Client) -> None:
    queue = client.create_queue(visibility_timeout=60).queue_id
    for body in (b"one", b"two", b"three"):
        client.send(queue, body)
    seen = []
    with client.stream(queue, max_in_flight=5) as stream:
        for message in stream:
            seen.append(message.text)
            if message.text != "three":
                stream.ack(message)
            if len(seen) == 3:
                break
    assert seen == ["one", "two", "three"]
    info = client.get_queue(queue)
    assert (info.raw["messages_visible"], info.raw["messages_in_flight"]) == (0, 1)


def test_delete_and_correlation_id_reach_the_server(client: Client) -> None:
    queue = client.create_queue().queue_id
    client.send(queue, b"not mine", correlation_id="other")
    client.send(queue, b"mine", correlation_id="me")
    with client.stream(queue, correlation_id="me", delete=True) as stream:
        message = next(iter(stream))
    assert (message.text, message.correlation_id) == ("mine", "me")
    time.sleep(0.2)
    info = client.get_queue(queue).raw
    assert (info["messages_visible"], info["messages_in_flight"], info["stored_messages"]) == (
        1,
        0,
        1,
    )


def test_a_deleted_queue_ends_the_stream_with_its_problem(
    client: Client, server: EmsServer
) -> None:
    queue = client.create_queue().queue_id

    # on a client of its own, and joined before the test ends: the stream can end before the
    # delete's answer is read, and closing the client under that call failed the thread
    def delete() -> None:
        with Client(server.url) as other:
            other.delete_queue(queue)

    deleting = threading.Timer(0.5, delete)
    deleting.start()
    try:
        with client.stream(queue) as stream, pytest.raises(errors.QueueNotFound):
            for _ in stream:
                pass
    finally:
        deleting.join(30)


def test_a_refused_stream_raises_the_problem(client: Client) -> None:
    queue = client.create_queue()
    with pytest.raises(errors.WrongCapability):
        next(iter(client.stream(queue.send_id)))


def test_the_stream_reconnects_when_the_server_restarts(tmp_path: Path) -> None:
    server = EmsServer(tmp_path / "data").start()
    try:
        with Client(server.url) as client:
            queue = client.create_queue().queue_id
            client.send(queue, b"before")
            with client.stream(queue) as stream:
                messages = iter(stream)
                assert next(messages).text == "before"
                server.stop()
                server.start()
                client.send(queue, b"after")
                # the retry hint is 3 s; the stream comes back on its own
                message = next(messages)
                assert message.text == "after"
                stream.ack(message)
    finally:
        server.stop()


async def test_the_async_client_streams_too(server: EmsServer) -> None:
    async with AsyncClient(server.url) as client:
        queue = (await client.create_queue()).queue_id
        await client.send(queue, b"async")
        async with client.stream(queue) as stream:
            async for message in stream:
                assert message.text == "async"
                await stream.ack(message)
                break
        info = (await client.get_queue(queue)).raw
        assert info["stored_messages"] == 0


async def test_the_async_stream_raises_a_refusal_too(server: EmsServer) -> None:
    async with AsyncClient(server.url) as client:
        queue = await client.create_queue()
        with pytest.raises(errors.WrongCapability):
            async for _ in client.stream(queue.send_id):
                pass


def test_receive_follow_prints_messages_as_they_arrive(server: EmsServer) -> None:
    with Client(server.url) as client:
        queue = client.create_queue().queue_id
        with subprocess.Popen(
            [sys.executable, "-m", "ems", "receive", queue, "--follow", "--delete"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "EMS_URL": server.url},
        ) as follower:
            try:
                assert follower.stdout is not None
                lines = []
                for i in range(3):
                    client.send(queue, f"live {i}".encode())
                    lines.append(follower.stdout.readline().decode().strip())
                assert lines == ["live 0", "live 1", "live 2"]
                # each is deleted once printed (the last one just after its line)
                for _ in range(50):
                    if client.get_queue(queue).raw["stored_messages"] == 0:
                        break
                    time.sleep(0.1)
                assert client.get_queue(queue).raw["stored_messages"] == 0
            finally:
                follower.terminate()
