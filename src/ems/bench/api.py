"""The few EMS calls a bench run makes to set up and clean up (not timed)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ems.bench.http import RawConnection
from ems.bench.options import Target


class SetupError(RuntimeError):
    """The server refused a call the run needs before it can start."""


class Api:
    def __init__(self, target: Target) -> None:
        self.target = target
        self.connection = RawConnection(target.host, target.port)

    def path(self, path: str) -> str:
        return self.target.prefix + path

    async def call(
        self, method: str, path: str, body: bytes = b"", *, expect: Sequence[int] = (200, 201, 204)
    ) -> Any:
        status, answer = await self.connection.request(method, self.path(path), body)
        if status not in expect:
            raise SetupError(f"{method} {path}: {status} {answer[:300].decode(errors='replace')}")
        return json.loads(answer) if answer else None

    async def create_queue(self, **attributes: Any) -> str:
        body = json.dumps(attributes).encode() if attributes else b""
        queue_id: str = (await self.call("POST", "/ems/queue", body))["queue_id"]
        return queue_id

    async def queue(self, queue_id: str) -> dict[str, Any]:
        info: dict[str, Any] = await self.call("GET", f"/ems/queue/{queue_id}")
        return info

    async def close(self) -> None:
        await self.connection.close()


async def in_parallel(
    target: Target, jobs: int, work: Callable[[Api, int], Awaitable[None]], connections: int = 16
) -> None:
    """Run ``work(api, n)`` for n in range(jobs) over a few connections."""
    next_job = iter(range(jobs))

    async def worker() -> None:
        api = Api(target)
        try:
            for n in next_job:
                await work(api, n)
        finally:
            await api.close()

    await asyncio.gather(*(worker() for _ in range(min(connections, max(jobs, 1)))))


async def create_queues(target: Target, count: int, **attributes: Any) -> list[str]:
    created: list[str] = [""] * count

    async def one(api: Api, n: int) -> None:
        created[n] = await api.create_queue(**attributes)

    await in_parallel(target, count, one)
    return created


async def delete_queues(target: Target, queue_ids: Sequence[str]) -> None:
    async def one(api: Api, n: int) -> None:
        await api.call("DELETE", f"/ems/queue/{queue_ids[n]}", expect=(204, 404))

    await in_parallel(target, len(queue_ids), one)


async def fill(target: Target, queue_id: str, count: int, size: int) -> None:
    """Put ``count`` messages of ``size`` bytes into the queue, in batches of 1000."""
    batches = [1000] * (count // 1000) + ([count % 1000] if count % 1000 else [])

    async def one(api: Api, n: int) -> None:
        entries = [{"body": "x" * size}] * batches[n]
        body = json.dumps({"messages": entries}).encode()
        await api.call("POST", f"/ems/queue/{queue_id}/messages", body, expect=(201,))

    await in_parallel(target, len(batches), one, connections=8)
