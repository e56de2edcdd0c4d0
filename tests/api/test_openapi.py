"""The OpenAPI document is true: every route is in it, every documented route exists.

schemathesis then checks the server's answers against it (tests/e2e/test_schemathesis.py).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from ems.config import Settings
from ems.server import problems
from ems.server.app import EmsApp
from tests.api.conftest import serving

PARAMETER = re.compile(r"\{[^}]+\}")
# a sample value for each path parameter when driving the real router
SAMPLES = {
    "queue_id": "q",
    "topic_id": "t",
    "receipt_handle": "h",
    "subscription_id": "s",
    "token": "k",
    "hash": "ab",
    "type": "invalid-request",
    "name": "ems.css",
}


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[EmsApp, httpx.AsyncClient]]:
    async with serving(tmp_path, Settings(admin_token="admin-token-for-tests")) as pair:
        yield pair


async def spec_of(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/ems/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    document: dict[str, Any] = response.json()
    return document


def operations(spec: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in spec["paths"].items() for method in item}


def shape(template: str) -> str:
    return PARAMETER.sub("{}", template)


async def test_the_document_is_valid_openapi_3_1(served: tuple[EmsApp, httpx.AsyncClient]) -> None:
    spec = await spec_of(served[1])
    assert spec["openapi"] == "3.1.0"
    validate(spec)
    ids = [op["operationId"] for item in spec["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids)), "operation ids are unique"


async def test_every_served_route_is_documented_and_nothing_else(
    served: tuple[EmsApp, httpx.AsyncClient],
) -> None:
    app, client = served
    spec = await spec_of(client)
    documented = {(method, shape(path)) for method, path in operations(spec)}
    served_routes = {(method, shape(path)) for method, path in app.route_templates()}
    assert served_routes - documented == set(), "served but not documented"
    assert documented - served_routes == set(), "documented but not served"


async def test_every_documented_route_reaches_its_handler_through_the_router(
    served: tuple[EmsApp, httpx.AsyncClient],
) -> None:
    app, client = served
    spec = await spec_of(client)
    for method, template in operations(spec):
        path = PARAMETER.sub(lambda m: SAMPLES[m.group()[1:-1]], template)
        parts = path.strip("/").split("/")
        _, route, _ = app._route(method, parts, path)
        assert shape(route) == shape(template), (method, template, route)


async def test_every_problem_type_and_status_is_described(
    served: tuple[EmsApp, httpx.AsyncClient],
) -> None:
    spec = await spec_of(served[1])
    types = spec["components"]["schemas"]["Problem"]["properties"]["type"]["enum"]
    assert sorted(types) == sorted(problems.PROBLEM_BASE + s for s in problems.catalogue())
    statuses = {problems.STATUS[cls] for cls in problems.catalogue().values()} - {405, 500}
    for status in statuses:
        assert f"Problem{status}" in spec["components"]["responses"]


async def test_bounds_in_the_document_are_the_ones_enforced(
    served: tuple[EmsApp, httpx.AsyncClient],
) -> None:
    _, client = served
    spec = await spec_of(client)
    settings = spec["components"]["schemas"]["QueueSettings"]["properties"]
    high = settings["visibility_timeout"]["maximum"]
    assert (await client.post("/ems/queue", json={"visibility_timeout": high})).status_code == 201
    refused = await client.post("/ems/queue", json={"visibility_timeout": high + 1})
    assert refused.status_code == 400
    assert refused.json()["type"] == "/ems/problems/invalid-attribute"
