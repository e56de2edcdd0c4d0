"""The playground and API reference pages: served by EMS itself, nothing from elsewhere."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path

import httpx
import pytest

from ems.config import Settings
from tests.api.conftest import serving

# src=, href= and url() in the pages, and any absolute URL in their scripts and styles
REFERENCE = re.compile(r"""(?:src|href)="([^"#]+)"|url\(([^)]+)\)""")
ABSOLUTE = re.compile(r"""["'(]\s*(?:https?:)?//""")


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(tmp_path, Settings()) as (_, http):
        yield http


@pytest.mark.parametrize("path", ["/", "/ems/playground", "/ems/docs", "/ems/docs/", "//"])
async def test_pages_are_html_with_a_strict_content_security_policy(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self'" in policy
    assert "connect-src 'self'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_every_asset_a_page_uses_is_served_by_ems(client: httpx.AsyncClient) -> None:
    for page in ("/", "/ems/docs"):
        html = (await client.get(page)).text
        references = {a or b for a, b in REFERENCE.findall(html)}
        assert references, page
        for reference in references:
            assert reference.startswith("/"), f"{page} loads {reference} from elsewhere"
            response = await client.get(reference)
            assert response.status_code == 200, reference


def test_no_page_script_or_style_refers_to_another_host() -> None:
    """The service runs on networks without internet: no CDN, no font service, nothing."""
    web = resources.files("ems.server").joinpath("web")
    names = [entry.name for entry in web.iterdir()]
    assert {"playground.html", "docs.html", "playground.js", "docs.js", "ems.css"} <= set(names)
    for name in names:
        text = web.joinpath(name).read_text()
        # an example URL shown in a form field, and the SVG namespace, are not loaded
        text = re.sub(r'placeholder="[^"]*"', "", text)
        text = text.replace('xmlns="http://www.w3.org/2000/svg"', "")
        text = text.replace('SVG = "http://www.w3.org/2000/svg"', "")  # charts.js, the same name
        assert not ABSOLUTE.search(text), f"{name} refers to another host"


async def test_assets_have_types_and_etags(client: httpx.AsyncClient) -> None:
    script = await client.get("/ems/static/playground.js")
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    etag = script.headers["etag"]
    again = await client.get("/ems/static/playground.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert (await client.get("/ems/static/ems.css")).headers["content-type"].startswith("text/css")


@pytest.mark.parametrize(
    "path",
    [
        "/ems/static/nope.js",
        "/ems/static/playground.html",
        "/ems/static/..%2Fapp.py",
        "/ems/static/x/ems.css",
    ],
)
async def test_unknown_assets_are_problems_not_files(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_pages_answer_only_get(client: httpx.AsyncClient) -> None:
    response = await client.post("/ems/docs")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


async def test_the_pages_can_be_turned_off_but_the_api_description_stays(tmp_path: Path) -> None:
    async with serving(tmp_path, Settings(playground=False)) as (_, http):
        for path in ("/", "/ems/playground", "/ems/docs", "/ems/static/ems.css"):
            assert (await http.get(path)).status_code == 404
        assert (await http.get("/ems/openapi.json")).status_code == 200
        assert (await http.post("/ems/queue")).status_code == 201
