"""The webhook HTTP client against a real server on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ems.core.errors import ForbiddenWebhookUrl
from ems.delivery.client import MAX_RESPONSE_BYTES, WebhookClient
from ems.delivery.ssrf import AddressPolicy
from tests.webhooks import Receiver, Reply


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


async def test_keep_alive_connections_are_reused(receiver: Receiver) -> None:
    client = WebhookClient(AddressPolicy(allow_private=True))
    for i in range(3):
        response = await client.post(receiver.url + "/a", {"X-N": str(i)}, b"body", seconds=5)
        assert (response.status, response.body) == (200, b"ok")
    assert len({r.client_port for r in receiver.requests}) == 1
    receiver.script = [Reply(200, b"bye", headers={"Connection": "close"})]
    await client.post(receiver.url, {}, b"", seconds=5)
    await client.post(receiver.url, {}, b"", seconds=5)
    assert len({r.client_port for r in receiver.requests}) == 2
    await client.close()


async def test_requests_carry_host_length_and_basic_auth(receiver: Receiver) -> None:
    client = WebhookClient(AddressPolicy(allow_private=True), user_agent="EMS-Test")
    url = receiver.url.replace("http://", "http://ems:s%3Acret@") + "/p?q=1"
    await client.post(url, {"Content-Type": "text/plain"}, b"hello", seconds=5)
    (request,) = receiver.requests
    assert request.path == "/p?q=1"
    assert request.headers["host"] == receiver.url.removeprefix("http://")
    assert request.headers["content-length"] == "5"
    assert request.headers["user-agent"] == "EMS-Test"
    assert request.headers["authorization"] == "Basic ZW1zOnM6Y3JldA=="
    assert request.body == b"hello"
    await client.close()


async def test_only_the_start_of_a_large_answer_is_read(receiver: Receiver) -> None:
    client = WebhookClient(AddressPolicy(allow_private=True))
    receiver.script = [Reply(200, b"x" * (MAX_RESPONSE_BYTES * 4))]
    response = await client.post(receiver.url, {}, b"", seconds=5)
    assert len(response.body) == MAX_RESPONSE_BYTES
    await client.close()


async def test_redirects_are_returned_not_followed(receiver: Receiver) -> None:
    client = WebhookClient(AddressPolicy(allow_private=True))
    receiver.script = [Reply(307, b"", headers={"Location": receiver.url + "/elsewhere"})]
    response = await client.post(receiver.url, {}, b"", seconds=5)
    assert response.status == 307
    assert [r.path for r in receiver.requests] == ["/"]
    await client.close()


async def test_forbidden_destinations_are_never_contacted(receiver: Receiver) -> None:
    client = WebhookClient(AddressPolicy())
    with pytest.raises(ForbiddenWebhookUrl):
        await client.post(receiver.url, {}, b"", seconds=5)
    assert receiver.requests == []


async def test_a_hanging_server_times_out(receiver: Receiver) -> None:
    client = WebhookClient(AddressPolicy(allow_private=True))
    receiver.script = [Reply(200, delay=2)]
    with pytest.raises(TimeoutError):
        await client.post(receiver.url, {}, b"", seconds=0.3)
    await client.close()
