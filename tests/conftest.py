"""Fixtures shared by every suite."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator

import pytest

import ems.core.topics
from ems.core import capabilities, crypto
from ems.core.clock import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(autouse=True)
def no_secrets_in_logs(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> Iterator[list[str]]:
    """Every test checks that the logs never contain an id or a key the server made.

    Queue and topic ids, signing secrets and crypto keys are recorded as they are minted; at the
    end of the test, none may appear in anything logged (messages and tracebacks alike).
    """
    minted: list[str] = []

    def recording(make: Callable[..., str]) -> Callable[..., str]:
        def make_and_record(*args: str) -> str:
            value = make(*args)
            minted.append(value)
            return value

        return make_and_record

    monkeypatch.setattr(capabilities, "new_id", recording(capabilities.new_id))
    monkeypatch.setattr(crypto, "new_key", recording(crypto.new_key))
    monkeypatch.setattr(
        ems.core.topics, "new_signing_secret", recording(ems.core.topics.new_signing_secret)
    )
    caplog.set_level(logging.INFO)
    yield minted
    # in teardown, caplog.text holds only this phase: gather the test's records too
    records = [
        record
        for record in (*caplog.get_records("setup"), *caplog.get_records("call"), *caplog.records)
        # the server's logs: the test's own HTTP client logs the URLs it requests
        if record.name.split(".")[0] in ("ems", "uvicorn")
    ]
    formatter = logging.Formatter("%(name)s %(message)s")
    logged = "\n".join(formatter.format(record) for record in records)
    leaked = [value for value in minted if value in logged]
    assert not leaked, f"{len(leaked)} ids or keys appear in the logs"
    assert not re.search(r"whsec_[A-Za-z0-9+/=]{20,}", logged), "a signing secret was logged"
