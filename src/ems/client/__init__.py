"""The Python SDK: ``Client`` and ``AsyncClient`` over the native HTTP API, on httpx.

Also importable from the top level: ``from ems import Client, AsyncClient, Worker``.
"""

from ems.client import errors
from ems.client.aio import AsyncClient
from ems.client.errors import APIError, ClientError, NoReply, TransportError
from ems.client.models import (
    BatchResult,
    Message,
    OutgoingMessage,
    Published,
    Queue,
    QueueInfo,
    Subscription,
    Topic,
)
from ems.client.sync import Client
from ems.client.webhooks import verify_webhook
from ems.client.worker import AsyncWorker, Worker

__all__ = [
    "APIError",
    "AsyncClient",
    "AsyncWorker",
    "BatchResult",
    "Client",
    "ClientError",
    "Message",
    "NoReply",
    "OutgoingMessage",
    "Published",
    "Queue",
    "QueueInfo",
    "Subscription",
    "Topic",
    "TransportError",
    "Worker",
    "errors",
    "verify_webhook",
]
