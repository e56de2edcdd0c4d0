"""schemathesis against a real ``ems serve``: generated valid and invalid requests for every
documented operation; no server error, and every answer matches the OpenAPI document.

Random ids would only ever meet 404s, so most cases are pointed at a real queue and topic
(made afresh for each test) and given a real key.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from ems.server.openapi import document
from tests.e2e.server import EmsServer

pytestmark = pytest.mark.e2e

ADMIN_TOKEN = "schemathesis-admin-token"
EXAMPLES = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmsServer]:
    directory: Path = tmp_path_factory.mktemp("schemathesis")
    ems = EmsServer(directory / "data", env={"EMS_ADMIN_TOKEN": ADMIN_TOKEN})
    ems.start()
    yield ems
    ems.stop()


# loaded from the same code the server serves it from; the server's copy is compared in
# tests/api/test_openapi.py
SCHEMA = schemathesis.openapi.from_dict(document())
OPERATIONS = [(m.upper(), path) for path, item in document()["paths"].items() for m in item]


def _can_be_invalid(operation: dict[str, Any]) -> bool:
    """Whether any input of an operation has a constraint to break (a path of plain strings
    has none, so negative generation has nothing to generate)."""
    body = operation.get("requestBody", {}).get("content", {})
    return "application/json" in body or any(
        p["schema"] != {"type": "string"} or (p["in"] != "path" and p["required"])
        for p in operation.get("parameters", [])
    )


CASES = [(m, p, GenerationMode.POSITIVE) for m, p in OPERATIONS] + [
    (m, p, GenerationMode.NEGATIVE)
    for m, p in OPERATIONS
    if _can_be_invalid(document()["paths"][p][m.lower()])
]


def real_ids(server: EmsServer) -> dict[str, str]:
    with httpx.Client(base_url=server.url) as http:
        queue = http.post("/ems/queue").json()
        http.post(f"/ems/queue/{queue['queue_id']}/message", content=b"for schemathesis")
        topic = http.post("/ems/topic").json()
        subscribed = http.post(
            f"/ems/topic/{topic['topic_id']}/subscription", params={"queue_id": queue["queue_id"]}
        ).json()
        key = http.get("/ems/crypto/random-key").text
    return {
        "queue_id": queue["queue_id"],
        "topic_id": topic["topic_id"],
        "key": key,
        # the admin API names them by hash
        "queues": hashlib.sha256(queue["queue_id"].encode()).hexdigest(),
        "topics": hashlib.sha256(topic["topic_id"].encode()).hexdigest(),
        "subscription_id": subscribed["subscription_id"],
    }


def leaves_the_token_out(case: Case[Any]) -> bool:
    """Whether this negative case is about the admin token missing: adding it back would make
    the request valid, and its acceptance a false failure."""
    data = case.meta.phase.data if case.meta is not None else None
    return any(
        m.parameter_location is ParameterLocation.HEADER and m.original_value == "Authorization"
        for m in getattr(data, "mutations", None) or ()
    )


def aim(case: Case[Any], ids: dict[str, str]) -> None:
    """Point most cases at real resources; keep long polls short."""
    params = case.path_parameters or {}
    # deterministic for a given case, so that hypothesis can replay and shrink it
    seed = zlib.crc32(repr(sorted(params.items())).encode())
    if seed % 4 != 0:
        for name in ("queue_id", "topic_id", "subscription_id"):
            if name in params:
                params[name] = ids[name]
        if "hash" in params:
            params["hash"] = ids[case.path.split("/")[3]]
        if case.headers and "Crypto-Key" in case.headers:
            case.headers["Crypto-Key"] = ids["key"]
    if case.query and isinstance(case.query.get("wait_seconds"), int):
        case.query["wait_seconds"] = min(case.query["wait_seconds"], 1)


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_the_api_answers_as_documented(
    server: EmsServer, method: str, path: str, mode: GenerationMode
) -> None:
    operation = SCHEMA[path][method]
    ids = real_ids(server)
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"} if path.startswith("/ems/admin") else None

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Case[Any]) -> None:
        aim(case, ids)
        token = admin if admin and not leaves_the_token_out(case) else None
        case.call_and_validate(base_url=server.url, headers=token, checks=CHECKS, timeout=30)

    check()
