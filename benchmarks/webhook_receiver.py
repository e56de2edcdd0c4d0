"""A fast webhook endpoint for benchmarks: echoes confirmation challenges, timestamps pushes.

POST /hook/<anything>: a push (recorded with the wall-clock time it arrived, by EMS-Message-Id)
or a confirmation request (answered with its challenge). GET /arrivals: the recorded pushes as
JSON ``{message_id: [seconds, ...]}``; DELETE /arrivals forgets them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]
arrivals: dict[str, list[float]] = {}


async def app(
    scope: Message,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    now = time.time()
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    headers = dict(scope["headers"])
    answer = b"ok"
    if scope["method"] == "GET":
        answer = json.dumps(arrivals).encode()
    elif scope["method"] == "DELETE":
        arrivals.clear()
    elif headers.get(b"ems-message-type") == b"SubscriptionConfirmation":
        answer = json.loads(body)["challenge"].encode()
    else:
        arrivals.setdefault(headers[b"ems-message-id"].decode(), []).append(now)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", b"%d" % len(answer))],
        }
    )
    await send({"type": "http.response.body", "body": answer})
