"""CORS: off by default; with --cors-origin, preflights and response headers on the API routes
only, never credentials, never the admin routes."""

from __future__ import annotations

from pathlib import Path

import pytest

from ems.config import Settings, SettingsError
from tests.api.conftest import assert_problem, serving

APP = "https://app.example.com"
PREFLIGHT = {
    "origin": APP,
    "access-control-request-method": "POST",
    "access-control-request-headers": "Content-Type, EMS-Attribute-Kind, Idempotency-Key",
}


async def test_cors_is_off_by_default(tmp_path: Path) -> None:
    async with serving(tmp_path, Settings()) as (_, client):
        preflight = await client.options("/ems/queue", headers=PREFLIGHT)
        assert_problem(preflight, 405, "method-not-allowed")
        created = await client.post("/ems/queue", headers={"origin": APP})
        assert created.status_code == 201
        assert "access-control-allow-origin" not in created.headers


async def test_an_allowed_origin_gets_preflights_and_readable_answers(tmp_path: Path) -> None:
    settings = Settings().with_values({"cors_origins": APP + "/"})
    async with serving(tmp_path, settings) as (_, client):
        preflight = await client.options("/ems/queue/some-id/message", headers=PREFLIGHT)
        assert preflight.status_code == 204
        headers = preflight.headers
        assert headers["access-control-allow-origin"] == APP
        assert headers["access-control-allow-methods"] == "GET, HEAD, POST, PATCH, DELETE"
        allowed = {h.strip() for h in headers["access-control-allow-headers"].split(",")}
        assert {"content-type", "authorization", "idempotency-key", "last-event-id"} <= allowed
        assert "ems-attribute-kind" in allowed
        assert "access-control-allow-credentials" not in headers
        assert "Origin" in headers["vary"]

        created = await client.post("/ems/queue", headers={"origin": APP})
        assert created.status_code == 201
        assert created.headers["access-control-allow-origin"] == APP
        exposed = created.headers["access-control-expose-headers"]
        assert "Location" in exposed
        assert "Retry-After" in exposed
        assert "access-control-allow-credentials" not in created.headers
        # errors are readable by the page too
        missing = await client.get("/ems/queue/nope/message", headers={"origin": APP})
        assert_problem(missing, 404, "queue-not-found")
        assert missing.headers["access-control-allow-origin"] == APP


async def test_other_origins_admin_routes_and_probes_get_no_cors(tmp_path: Path) -> None:
    settings = Settings().with_values({"cors_origins": APP, "admin_token": "t" * 32})
    async with serving(tmp_path, settings) as (_, client):
        other = {**PREFLIGHT, "origin": "https://evil.example"}
        refused = await client.options("/ems/queue", headers=other)
        problem = assert_problem(refused, 403, "origin-not-allowed")
        assert "--cors-origin" in problem["detail"]
        assert "access-control-allow-origin" not in refused.headers
        answer = await client.post("/ems/queue", headers={"origin": "https://evil.example"})
        assert "access-control-allow-origin" not in answer.headers
        for path in ("/ems/admin/queues", "/metrics", "/healthz"):
            preflight = await client.options(path, headers=PREFLIGHT)
            assert preflight.status_code in (404, 405), path
            assert "access-control-allow-origin" not in preflight.headers
            plain = await client.get(path, headers={"origin": APP})
            assert "access-control-allow-origin" not in plain.headers, path


async def test_a_wildcard_allows_every_origin(tmp_path: Path) -> None:
    settings = Settings().with_values({"cors_origins": "*"})
    async with serving(tmp_path, settings) as (_, client):
        preflight = await client.options(
            "/ems/topic", headers={**PREFLIGHT, "origin": "http://localhost:3000"}
        )
        assert preflight.headers["access-control-allow-origin"] == "*"
        created = await client.post("/ems/topic", headers={"origin": "null"})
        assert created.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize("origin", ["app.example.com", "https://app.example.com/path", "ftp://x"])
def test_an_origin_that_is_not_one_is_refused_at_start(origin: str) -> None:
    with pytest.raises(SettingsError, match="EMS_CORS_ORIGINS"):
        Settings().with_values({"cors_origins": origin})
