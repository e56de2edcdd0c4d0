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


# Tests whose runs slow down past their own bounds when other workers load the two cores: the
# model-based tests run hundreds of store operations per hypothesis example within its deadline
LOAD_SENSITIVE = ("tests/model/",)

# Fixture scopes that outlive one test: tests sharing one must stay on one xdist worker
SHARED_SCOPES = {"module", "class", "package"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Say which tests must run together when the suite runs on several workers (pytest-xdist
    with ``--dist loadgroup``, as scripts/test runs it).

    - A test marked ``timing`` asserts wall-clock bounds: every such test joins one group, so
      they run one at a time on one worker instead of racing each other for the two cores.
    - A test that uses a fixture of module (or class) scope, such as a module's shared
      ``ems serve`` or the docs' machine, stays with its module: one server per module, as
      without xdist, and the docs' blocks run in their documents' order.
    - Any other test may run on any worker.

    Without xdist the marks mean nothing. A test already in an ``xdist_group`` keeps it.
    """
    for item in items:
        if item.nodeid.startswith(LOAD_SENSITIVE):
            item.add_marker(pytest.mark.timing)
        if item.get_closest_marker("xdist_group"):
            continue
        if item.get_closest_marker("timing"):
            item.add_marker(pytest.mark.xdist_group("timing"))
        elif _uses_shared_fixtures(item):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


def _uses_shared_fixtures(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(
        definition.scope in SHARED_SCOPES
        for definitions in info.name2fixturedefs.values()
        for definition in definitions
    )
