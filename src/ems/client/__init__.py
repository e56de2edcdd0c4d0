"""The Python SDK: ``Client`` and ``AsyncClient`` over the native HTTP API, on httpx.

Also importable from the top level: ``from ems import Client, AsyncClient, Worker``.
"""

from ems.client import errors
from ems.client.aio import AsyncClient
from ems.client.base import REPLY_TO
from ems.client.errors import APIError, ClientError, NoReply, TransportError
from ems.client.models import (
    BatchResult,
    Message,
    OutgoingMessage,
    Published,
    Queue,
    QueueInfo,
    Redrive,
    Subscription,
    Topic,
)
from ems.client.sync import Client
from ems.client.webhooks import InvalidSignature, verify_webhook
from ems.client.worker import AsyncWorker, Worker

__all__ = [
    "REPLY_TO",
    "APIError",
    "AsyncClient",
    "AsyncWorker",
    "BatchResult",
    "Client",
    "ClientError",
    "InvalidSignature",
    "Message",
    "NoReply",
    "OutgoingMessage",
    "Published",
    "Queue",
    "QueueInfo",
    "Redrive",
    "Subscription",
    "Topic",
    "TransportError",
    "Worker",
    "errors",
    "verify_webhook",
]
