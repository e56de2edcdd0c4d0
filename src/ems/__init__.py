"""EMS, the Easy Message Service: durable queues over plain HTTP.

The client (``ems.Client``, ``ems.AsyncClient``, ``ems.Worker``, ...) is imported on first use,
so ``import ems`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ems.version import DISTRIBUTION, __version__

_CLIENT_NAMES = frozenset(
    {"AsyncClient", "AsyncWorker", "Client", "ClientError", "APIError", "InvalidSignature",
     "Message", "NoReply", "OutgoingMessage", "TransportError", "Worker",
     "verify_webhook"}
)  # fmt: skip

if TYPE_CHECKING:
    from ems import errors as errors
    from ems.client import (
        APIError as APIError,
    )
    from ems.client import (
        AsyncClient as AsyncClient,
    )
    from ems.client import (
        AsyncWorker as AsyncWorker,
    )
    from ems.client import (
        Client as Client,
    )
    from ems.client import (
        ClientError as ClientError,
    )
    from ems.client import (
        InvalidSignature as InvalidSignature,
    )
    from ems.client import (
        Message as Message,
    )
    from ems.client import (
        NoReply as NoReply,
    )
    from ems.client import (
        OutgoingMessage as OutgoingMessage,
    )
    from ems.client import (
        TransportError as TransportError,
    )
    from ems.client import (
        Worker as Worker,
    )
    from ems.client import (
        verify_webhook as verify_webhook,
    )


def __getattr__(name: str) -> Any:
    if name == "errors":
        import ems.errors  # noqa: PLC0415 (loaded on first use, like the client)

        return ems.errors
    if name in _CLIENT_NAMES:
        import ems.client  # noqa: PLC0415 (loaded on first use: the server never needs it)

        return getattr(ems.client, name)
    raise AttributeError(f"module 'ems' has no attribute {name!r}")


__all__ = [
    "DISTRIBUTION",
    "APIError",
    "AsyncClient",
    "AsyncWorker",
    "Client",
    "ClientError",
    "InvalidSignature",
    "Message",
    "NoReply",
    "OutgoingMessage",
    "TransportError",
    "Worker",
    "__version__",
    "errors",
    "verify_webhook",
]
