"""What the sync and async clients share: where the server is, credentials, timeouts."""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from typing import Any

import httpx

from ems.client import errors
from ems.client.calls import Call
from ems.version import __version__

DEFAULT_URL = "http://127.0.0.1:8080"
REPLY_TO = "reply-to"


class BaseClient:
    """Settings shared by :class:`Client` and :class:`AsyncClient`.

    ``url`` defaults to ``EMS_URL``, then ``http://127.0.0.1:8080``; ``api_key`` (needed only where
    the server requires one to create queues and topics) defaults to ``EMS_API_KEY``. ``timeout``
    is the time allowed for an answer, on top of a long poll's own wait.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.url = (url or os.environ.get("EMS_URL") or DEFAULT_URL).rstrip("/")
        self.timeout = timeout
        self.headers = {"user-agent": f"ems-python/{__version__}", **(headers or {})}
        api_key = api_key or os.environ.get("EMS_API_KEY")
        if api_key:
            self.headers["authorization"] = f"Bearer {api_key}"

    def _timeout(self, call: Call[Any]) -> httpx.Timeout:
        return httpx.Timeout(self.timeout + call.wait_seconds, connect=self.timeout)

    @staticmethod
    def _new_correlation_id() -> str:
        return uuid.uuid4().hex

    @staticmethod
    def _request_attributes(attributes: Mapping[str, str] | None, reply_to: str) -> dict[str, str]:
        return {**(attributes or {}), REPLY_TO: reply_to}

    @staticmethod
    def _no_reply(timeout: float) -> errors.NoReply:
        return errors.NoReply(f"no reply arrived within {timeout:g} s")


def translate(error: httpx.HTTPError) -> errors.ClientError:
    """The client exception for a failure of httpx to get an answer."""
    if isinstance(error, httpx.TimeoutException):
        return errors.Timeout(str(error) or "the server did not answer in time")
    return errors.TransportError(str(error) or type(error).__name__)
