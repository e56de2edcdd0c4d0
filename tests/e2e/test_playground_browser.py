"""The playground in a real browser (Debian's Chromium, driven by Playwright) against a real
``ems serve``: create a queue, send, receive, delete, and run the curl and Python it shows.

Set EMS_PLAYGROUND_SCREENSHOT=path.png to also save the screenshot README.md shows.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Response,
    expect,
    sync_playwright,
)

from tests.e2e.server import EmsServer

pytestmark = pytest.mark.e2e


def chromium() -> str:
    found = os.environ.get("EMS_TEST_CHROMIUM") or shutil.which("chromium")
    # never a silent skip: scripts/test installs Debian's chromium
    assert found, "Chromium is needed: apt-get install chromium (or set EMS_TEST_CHROMIUM)"
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, server: EmsServer) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    problems: list[str] = []
    # a Content-Security-Policy violation or a script error shows up here
    opened.on("pageerror", lambda error: problems.append(str(error)))
    opened.on("console", lambda m: _console(m, problems))
    # the console errors left out above must not hide a page file that failed to load
    opened.on("response", lambda r: _page_file(r, problems))
    opened.goto(server.url + "/")
    yield opened
    context.close()
    assert problems == []


def _console(message: ConsoleMessage, problems: list[str]) -> None:
    # failed requests (a 404 the user asked for) are logged as errors too; only script
    # and policy errors count
    if message.type == "error" and "Failed to load resource" not in message.text:
        problems.append(message.text)


def _page_file(response: Response, problems: list[str]) -> None:
    path = urlsplit(response.url).path
    if response.status >= 400 and (path.startswith("/ems/static/") or path == "/"):
        problems.append(f"{path}: {response.status}")


def run_shell(command: str) -> str:
    done = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=30, check=True
    )
    return done.stdout


def queue_counts(server: EmsServer, queue_id: str) -> tuple[int, int]:
    info = httpx.get(f"{server.url}/ems/queue/{queue_id}").json()
    return info["messages_visible"], info["messages_in_flight"]


def test_create_send_receive_delete_and_the_shown_commands_work(
    page: Page, server: EmsServer
) -> None:
    status = page.locator("#status")
    page.get_by_label("Name in this browser (optional)").first.fill("orders")
    page.get_by_role("button", name="Create queue").click()
    expect(status).to_have_text("201 Created")
    queue_id = page.locator("#queue").input_value()
    assert queue_counts(server, queue_id) == (0, 0)

    send = page.locator("#send")
    send.get_by_label("Body").fill("hello from the browser")
    send.get_by_label("Attributes").fill("kind=test")
    send.get_by_role("button", name="Send").click()
    expect(status).to_have_text("201 Created")
    assert queue_counts(server, queue_id) == (1, 0)

    # the curl command shown for that send works when run: it sends another message
    curl = page.locator("#curl").text_content() or ""
    assert "EMS-Attribute-kind: test" in curl
    assert '"message_id"' in run_shell(curl)
    # and so does the Python snippet, with the EMS client
    snippet = page.locator("#python").text_content() or ""
    subprocess.run([sys.executable, "-c", snippet], check=True, timeout=30, capture_output=True)
    assert queue_counts(server, queue_id) == (3, 0)

    receive = page.locator("#receive")
    receive.get_by_label("Max messages").fill("1")
    receive.get_by_role("button", name="Receive").click()
    expect(status).to_have_text("200 OK")
    received = page.locator("#received li")
    expect(received).to_have_count(1)
    expect(received).to_contain_text("hello from the browser")
    expect(page.locator("#response")).to_contain_text('"kind": "test"')
    assert queue_counts(server, queue_id) == (2, 1)
    screenshot = os.environ.get("EMS_PLAYGROUND_SCREENSHOT")
    if screenshot:
        page.locator("#receive").scroll_into_view_if_needed()
        page.screenshot(path=screenshot)

    received.get_by_role("button", name="Delete").click()
    expect(status).to_have_text("204 No Content")
    expect(received).to_have_count(0)
    assert queue_counts(server, queue_id) == (2, 0)

    # the curl shown for the delete worked for the browser; run again it is idempotent (204)
    delete = page.locator("#curl").text_content() or ""
    assert "-X DELETE" in delete
    assert run_shell(delete + " -o /dev/null -w '%{http_code}'") == "204"

    # ids are remembered in the browser, not listed by the server
    page.reload()
    expect(page.locator("#queue")).to_have_value(queue_id)
    expect(page.locator("#queue option").first).to_contain_text("orders")


def test_redrive_a_dead_letter_queue(page: Page, server: EmsServer) -> None:
    status = page.locator("#status")
    dlq = httpx.post(f"{server.url}/ems/queue").json()["queue_id"]
    source = httpx.post(
        f"{server.url}/ems/queue",
        json={"visibility_timeout": 0, "dead_letter": {"queue_id": dlq, "max_receives": 1}},
    ).json()["queue_id"]
    httpx.post(f"{server.url}/ems/queue/{source}/message", content=b"poison")
    for _ in range(2):
        httpx.get(f"{server.url}/ems/queue/{source}/message")
    assert queue_counts(server, dlq) == (1, 0)
    # the playground knows queues made in it: add the dead-letter queue by its id
    page.evaluate(
        "([id]) => localStorage.setItem('ems.playground.v1', "
        "JSON.stringify({queues: [{id, label: 'dlq'}], topics: []}))",
        [dlq],
    )
    page.reload()
    page.locator("#queue").select_option(dlq)
    page.get_by_role("button", name="Redrive", exact=True).click()
    expect(status).to_have_text("201 Created")
    expect(page.locator("#response")).to_contain_text('"status": "RUNNING"')
    assert "start_redrive" in (page.locator("#python").text_content() or "")
    page.get_by_role("button", name="Redrive status").click()
    expect(status).to_have_text("200 OK")
    expect(page.locator("#response")).to_contain_text('"messages_moved": 1')
    assert queue_counts(server, source) == (1, 0)


def test_topics_and_crypto_round_trip(page: Page, server: EmsServer) -> None:
    status = page.locator("#status")
    page.get_by_role("button", name="Create queue").click()
    expect(status).to_have_text("201 Created")
    page.get_by_role("button", name="Create topic").click()
    expect(status).to_have_text("201 Created")
    page.locator("#subscribe").get_by_role("button", name="Subscribe").click()
    expect(status).to_have_text("201 Created")
    # the playground subscribes a queue by its send_id, and the answer shows only a reference
    ids = (page.locator("#queue-ids").text_content() or "").split()
    send_id = ids[ids.index("send_id") + 1]
    expect(page.locator("#curl")).to_contain_text(f"queue_id={send_id}")
    expect(page.locator("#response")).to_contain_text('"endpoint": "queue:')
    page.locator("#publish").get_by_role("button", name="Publish").click()
    expect(status).to_have_text("201 Created")
    expect(page.locator("#response")).to_contain_text('"queues": 1')
    page.get_by_role("button", name="Subscriptions and their status").click()
    expect(page.locator("#response")).to_contain_text('"status": "confirmed"')

    crypto = page.locator("#crypto-form")
    page.get_by_role("button", name="New random key").click()
    expect(status).to_have_text("200 OK")
    crypto.get_by_label("Plaintext").fill("Encrypt This")
    crypto.get_by_role("button", name="Encrypt").click()
    expect(crypto.get_by_label("Token")).not_to_have_value("")
    crypto.get_by_label("Plaintext").fill("")
    crypto.get_by_role("button", name="Decrypt").click()
    expect(crypto.get_by_label("Plaintext")).to_have_value("Encrypt This")
    # the decrypt curl command, run, gives the plaintext back
    assert run_shell(page.locator("#curl").text_content() or "") == "Encrypt This"


def test_every_control_has_a_label_and_the_keyboard_reaches_it(page: Page) -> None:
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
            .filter((e) => e.labels.length === 0).map((e) => e.name || e.id)"""
    )
    assert unlabelled == []
    # Tab from the top reaches the skip link, then the first form field
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to the playground")


def test_the_api_reference_renders_every_operation_offline(
    browser: Browser, server: EmsServer
) -> None:
    context = browser.new_context()
    page = context.new_page()
    outside: list[str] = []
    # any request to another host would fail on a network without internet
    page.on(
        "request",
        lambda r: None if r.url.startswith(server.url) else outside.append(r.url),
    )
    page.goto(server.url + "/ems/docs")
    spec = httpx.get(server.url + "/ems/openapi.json").json()
    count = sum(len(item) for item in spec["paths"].values())
    expect(page.locator("section.operation")).to_have_count(count)
    expect(page.locator("#sendMessage")).to_contain_text("/ems/queue/{queue_id}/message")
    context.close()
    assert outside == []
