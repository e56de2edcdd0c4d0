"""The operator console in a real browser (Debian's Chromium, driven by Playwright) against a
real ``ems serve``: sign in, watch a queue's counts, peek, purge, delete, page through 100,000
queues, see a failing webhook's error; and never see a queue id, in the page or on the wire.

Set EMS_CONSOLE_SCREENSHOTS=directory to also save the screenshots docs/admin.md shows.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, Request, Response, expect

from tests.e2e.conftest import database
from tests.e2e.server import EmsServer
from tests.e2e.test_playground_browser import _console, browser, chromium
from tests.webhooks import Receiver, Reply

pytestmark = pytest.mark.e2e
__all__ = ["browser", "chromium"]

TOKEN = "console-admin-token-of-32-characters"
ADMIN_ENV = {
    "EMS_ADMIN_TOKEN": TOKEN,
    # the failing webhook test pushes to a receiver on loopback, at once
    "EMS_WEBHOOK_ALLOW_PRIVATE": "1",
    "EMS_WEBHOOK_SKIP_CONFIRMATION": "1",
}


class Wire:
    """Everything the page sent and got, to search for ids afterwards."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.problems: list[str] = []

    def request(self, request: Request) -> None:
        self.texts += [request.url, request.post_data or "", str(request.headers)]

    def response(self, response: Response) -> None:
        self.texts.append(str(response.headers))
        path = urlsplit(response.url).path
        if response.status >= 400 and path.startswith("/ems/admin/console"):
            self.problems.append(f"{path}: {response.status}")
        if "json" in response.headers.get("content-type", ""):
            self.texts.append(response.text())


@pytest.fixture(params=["sqlite", "postgres"])
def admin_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EmsServer]:
    server = EmsServer(tmp_path / "data", env=ADMIN_ENV, database=database(request.param, tmp_path))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sqlite_admin_server(tmp_path: Path) -> Iterator[EmsServer]:
    server = EmsServer(tmp_path / "data", env=ADMIN_ENV)
    server.start()
    yield server
    server.stop()


def open_console(browser: Browser, server: EmsServer, wire: Wire) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    # a Content-Security-Policy violation or a script error shows up here
    page.on("pageerror", lambda error: wire.problems.append(str(error)))
    page.on("console", lambda m: _console(m, wire.problems))
    page.on("request", wire.request)
    page.on("response", wire.response)
    page.goto(server.url + "/ems/admin/console")
    yield page
    context.close()
    assert wire.problems == []


@pytest.fixture
def wire() -> Wire:
    return Wire()


@pytest.fixture
def console(browser: Browser, admin_server: EmsServer, wire: Wire) -> Iterator[Page]:
    yield from open_console(browser, admin_server, wire)


def sign_in(page: Page, token: str = TOKEN) -> None:
    page.get_by_label("Admin token").fill(token)
    page.get_by_role("button", name="Sign in").click()


def screenshot(page: Page, name: str) -> None:
    directory = os.environ.get("EMS_CONSOLE_SCREENSHOTS")
    if directory:
        page.screenshot(path=str(Path(directory) / name), full_page=True)


def test_the_console_is_absent_without_an_admin_token(server: EmsServer) -> None:
    for path in ("/ems/admin/console", "/ems/admin/console/console.js", "/ems/admin/overview"):
        assert httpx.get(server.url + path).status_code == 404


def test_a_wrong_token_is_refused_and_the_right_one_kept_for_the_tab(
    console: Page, admin_server: EmsServer
) -> None:
    sign_in(console, "not-the-token")
    expect(console.locator("#login-error")).to_contain_text("refused")
    sign_in(console)
    expect(console.get_by_role("heading", name="Overview")).to_be_visible()
    expect(console.locator("#facts")).to_contain_text("Backend")
    # the charts fill in as readings arrive
    expect(console.locator("[data-chart=requests] svg")).to_have_attribute(
        "aria-label", re.compile(r"now: requests/s \d")
    )
    console.reload()
    expect(console.get_by_role("heading", name="Overview")).to_be_visible()
    console.get_by_role("button", name="Sign out").click()
    expect(console.get_by_label("Admin token")).to_be_visible()


def test_queue_counts_peek_purge_and_delete_without_ever_showing_an_id(
    console: Page, admin_server: EmsServer, wire: Wire
) -> None:
    base = admin_server.url
    created = httpx.post(f"{base}/ems/queue", json={"label": "orders"}).json()
    dead = httpx.post(f"{base}/ems/queue", json={"label": "orders-dead"}).json()
    queue_id = created["queue_id"]
    httpx.patch(
        f"{base}/ems/queue/{queue_id}",
        json={"dead_letter": {"queue_id": dead["queue_id"], "max_receives": 5}},
    )
    for body in ("first order", "second order", "third order"):
        httpx.post(f"{base}/ems/queue/{queue_id}/message", content=body)
    httpx.get(f"{base}/ems/queue/{queue_id}/message")
    secrets = [created[k] for k in ("queue_id", "send_id", "receive_id")]
    secrets += [dead[k] for k in ("queue_id", "send_id", "receive_id")]

    sign_in(console)
    expect(console.locator("#facts")).to_contain_text("Messages stored")
    if "postgres" in (admin_server.env.get("EMS_DATABASE_URL") or ""):
        expect(console.locator("#facts")).to_contain_text("PostgreSQL at")
    console.get_by_role("link", name="Queues").click()
    row = console.locator("#queue-table tbody tr", has_text="orders").first
    cells = row.locator("td")
    expect(cells.nth(0)).to_have_text("orders")
    expect(cells.nth(2)).to_have_text("3")  # stored
    expect(cells.nth(3)).to_have_text("2")  # visible
    expect(cells.nth(4)).to_have_text("1")  # in flight
    expect(cells.nth(5)).to_have_text("0")  # delayed
    expect(cells.nth(10)).not_to_have_text("\N{EN DASH}")  # its dead-letter queue
    screenshot(console, "console-queues.png")

    row.get_by_role("link", name="orders").click()
    expect(console.get_by_role("heading", name="Queue orders")).to_be_visible()
    console.get_by_role("button", name="Peek at messages").click()
    expect(console.locator("#peeked li")).to_have_count(3)
    expect(console.locator("#peeked")).to_contain_text("first order")
    screenshot(console, "console-queue.png")
    # a peek changes nothing
    info = httpx.get(f"{base}/ems/queue/{queue_id}").json()
    assert (info["messages_visible"], info["messages_in_flight"]) == (2, 1)

    console.get_by_role("button", name="Purge").click()
    console.get_by_role("button", name="Purge now").click()
    expect(console.locator("#notice")).to_have_text("Queue purged.")
    assert httpx.get(f"{base}/ems/queue/{queue_id}").json()["stored_messages"] == 0

    console.get_by_role("button", name="Delete queue").click()
    console.get_by_role("button", name="Delete now").click()
    expect(console.locator("#notice")).to_have_text("Queue deleted.")
    expect(console.locator("#queue-table tbody tr", has_text="orders-dead")).to_have_count(1)
    expect(console.get_by_role("link", name="orders", exact=True)).to_have_count(0)
    assert httpx.get(f"{base}/ems/queue/{queue_id}").status_code == 404

    seen = "\n".join([*wire.texts, console.content()])
    leaked = [s for s in secrets if s in seen]
    assert leaked == [], "the console never sees a queue id"
    assert "/ems/admin/queues/" in seen  # (the search did look at the admin API's traffic)


def test_a_failing_webhook_shows_its_last_error_and_can_be_retried_and_removed(
    console: Page, admin_server: EmsServer
) -> None:
    receiver = Receiver()
    receiver.default = Reply(status=503, body=b"down for maintenance")
    try:
        base = admin_server.url
        topic_id = httpx.post(f"{base}/ems/topic").json()["topic_id"]
        url = f"{base}/ems/topic/{topic_id}/subscription"
        assert httpx.post(url, params={"url": receiver.url + "/hook"}).status_code == 201
        httpx.post(f"{base}/ems/topic/{topic_id}/message", content="hello")
        sign_in(console)
        console.get_by_role("link", name="Topics").click()
        # the listing shows which topics have failing endpoints (once the first push failed)
        listed = console.locator("#topic-table tbody tr").first
        expect(listed.locator("td").nth(2)).to_have_text("1")
        deadline = time.monotonic() + 15
        while listed.locator("td").nth(4).text_content() != "1":
            assert time.monotonic() < deadline, "the failing webhook was never listed"
            console.reload()  # the listing does not refresh itself
            console.wait_for_timeout(200)
        expect(listed.locator("td").nth(3)).to_have_text("1")  # the backlog
        console.locator("#topic-table tbody a").first.click()
        row = console.locator("#subscription-table tbody tr").first
        expect(row).to_contain_text(receiver.url + "/hook")
        # the page refreshes itself until the first attempt has failed
        expect(row.locator("td.error")).to_contain_text("503", timeout=15_000)
        expect(row.locator("td").nth(6)).not_to_have_text("\N{EN DASH}")  # its next attempt
        expect(console.locator("#topic-facts")).to_contain_text("Webhook backlog")
        screenshot(console, "console-topic.png")
        row.get_by_role("button", name="Retry now").click()
        expect(console.locator("#notice")).to_contain_text("due now")
        row.get_by_role("button", name="Remove").click()
        row.get_by_role("button", name="Confirm remove").click()
        expect(console.locator("#subscription-table tbody tr")).to_have_count(0)
    finally:
        receiver.close()
    assert topic_id not in console.content()


def test_the_overview_charts_move_with_the_traffic(console: Page, admin_server: EmsServer) -> None:
    base = admin_server.url
    sign_in(console)
    expect(console.locator("#facts")).to_contain_text("Messages stored")
    queue_id = httpx.post(f"{base}/ems/queue", json={"label": "traffic"}).json()["queue_id"]
    sent = console.locator("[data-chart=messages] .series-0")
    with httpx.Client(base_url=base) as client:
        deadline = time.monotonic() + 20
        # about 100 sends a second, with receives and a few errors, until the chart shows them
        while not re.fullmatch(r"sent/s [1-9][0-9,.]*", sent.text_content() or ""):
            assert time.monotonic() < deadline, sent.text_content()
            for _ in range(10):
                client.post(f"/ems/queue/{queue_id}/message", content=b"tick")
            client.get(f"/ems/queue/{queue_id}/message?max_messages=5")
            client.get("/ems/queue/no-such-queue-id-xxxxxxxx")
            console.wait_for_timeout(100)
        if os.environ.get("EMS_CONSOLE_SCREENSHOTS"):
            # half a minute of uneven traffic, so that the screenshot's charts have a shape
            for step in range(300):
                for _ in range(1 + step % 40 // 4):
                    client.post(f"/ems/queue/{queue_id}/message", content=b"tick")
                client.get(f"/ems/queue/{queue_id}/message?max_messages=8")
                console.wait_for_timeout(80)
    expect(console.locator("#problems")).to_contain_text("queue-not-found")
    expect(console.locator("[data-chart=batch] svg polyline")).to_have_attribute(
        "points", re.compile(r"\d")
    )
    screenshot(console, "console-overview.png")


def test_a_dead_letter_queue_is_redriven_from_its_page(
    console: Page, admin_server: EmsServer
) -> None:
    base = admin_server.url
    dead = httpx.post(f"{base}/ems/queue", json={"label": "payments-dead"}).json()["queue_id"]
    rule = {"dead_letter": {"queue_id": dead, "max_receives": 1}, "label": "payments"}
    source = httpx.post(f"{base}/ems/queue", json=rule).json()["queue_id"]
    httpx.post(f"{base}/ems/queue/{source}/message", content="declined card")
    for _ in range(2):  # the second receive dead-letters it
        httpx.get(f"{base}/ems/queue/{source}/message?visibility_timeout=0")
    sign_in(console)
    console.get_by_role("link", name="Queues").click()
    console.get_by_role("link", name="payments-dead").click()
    expect(console.locator("#redrive-status")).to_contain_text("No redrive yet")
    console.get_by_role("button", name="Redrive to source queues").click()
    expect(console.locator("#redrive-status")).to_contain_text("completed: 1 of 1", timeout=15_000)
    assert httpx.get(f"{base}/ems/queue/{source}").json()["messages_visible"] == 1
    # a queue nothing dead-letters into says so
    console.get_by_role("link", name="All queues").click()
    console.get_by_role("link", name="payments", exact=True).click()
    console.get_by_role("button", name="Redrive to source queues").click()
    expect(console.locator("#notice")).to_contain_text("Dead Letter Queue")


def add_queues(data_dir: Path, count: int) -> None:
    """``count`` labelled queues straight into the SQLite file (100,000 HTTP calls would take
    minutes), as the store writes them: a partition each, random id hashes."""
    conn = sqlite3.connect(data_dir / "ems.sqlite3")
    now = int(time.time() * 1000)
    with conn:
        first = conn.execute("SELECT coalesce(max(id), 0) FROM partitions").fetchone()[0] + 1
        conn.executemany(
            "INSERT INTO partitions (id) VALUES (?)", ((first + i,) for i in range(count))
        )
        conn.executemany(
            "INSERT INTO queues (id_hash, partition, visibility_timeout, retention_seconds, "
            "max_message_bytes, delay_seconds, receive_wait_seconds, created_at, label) "
            "VALUES (?, ?, 30, 345600, 262144, 0, 0, ?, ?)",
            ((os.urandom(32), first + i, now, f"bulk-{i:06d}") for i in range(count)),
        )
    conn.close()


def test_paging_sorting_and_filtering_100000_queues(
    browser: Browser, sqlite_admin_server: EmsServer, wire: Wire
) -> None:
    server = sqlite_admin_server
    server.stop()
    add_queues(server.data_dir, 100_000)
    server.start()
    for page in open_console(browser, server, wire):
        sign_in(page)
        page.get_by_role("link", name="Queues").click()
        expect(page.locator("#queue-count")).to_have_text("100,000 queues")
        expect(page.locator("#queue-table tbody tr")).to_have_count(50)
        expect(page.locator("#queues-page")).to_have_text("Page 1 of 2,000")
        page.get_by_role("button", name="Next").click()
        expect(page.locator("#queues-page")).to_have_text("Page 2 of 2,000")
        expect(page.locator("#queue-table tbody tr").first).to_contain_text("bulk-000050")
        page.get_by_role("button", name="Last").click()
        expect(page.locator("#queues-page")).to_have_text("Page 2,000 of 2,000")
        expect(page.locator("#queue-table tbody tr").last).to_contain_text("bulk-099999")

        # a column header sorts; a second click reverses, and says so
        header = page.locator("#queue-table th", has_text="Label")
        header.get_by_role("button").click()
        expect(header).to_have_attribute("aria-sort", "ascending")
        expect(page.locator("#queue-table tbody tr").first).to_contain_text("bulk-000000")
        header.get_by_role("button").click()
        expect(header).to_have_attribute("aria-sort", "descending")
        expect(page.locator("#queues-page")).to_have_text("Page 1 of 2,000")
        expect(page.locator("#queue-table tbody tr").first).to_contain_text("bulk-099999")
        form = page.locator("#queue-filter")
        expect(form.get_by_label("Order")).to_have_value("desc")
        form.get_by_label("Sort by").select_option("created")
        form.get_by_label("Order").select_option("asc")
        form.get_by_role("button", name="Apply").click()
        expect(page.locator("#queue-table tbody tr").first).to_contain_text("bulk-000000")
        form.get_by_label("Filter by label or id hash").fill("BULK-0420")
        form.get_by_role("button", name="Apply").click()
        expect(page.locator("#queue-count")).to_have_text("100 queues")
        expect(page.locator("#queues-page")).to_have_text("Page 1 of 2")
        # only pages travel: no answer carries more than one page of queues
        largest = max(len(t) for t in wire.texts)
        assert largest < 100_000, largest


def test_every_control_has_a_label_and_the_keyboard_reaches_it(console: Page) -> None:
    sign_in(console)
    console.get_by_role("link", name="Queues").click()
    unlabelled = console.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
            .filter((e) => e.labels.length === 0).map((e) => e.name || e.id)"""
    )
    assert unlabelled == []
    # from the top of a fresh page, Tab reaches the skip link first
    console.reload()
    console.keyboard.press("Tab")
    expect(console.locator(":focus")).to_have_text("Skip to the console")
    # the filter form works from the keyboard: type, Enter
    console.get_by_label("Filter by label or id hash").focus()
    console.keyboard.type("nothing-matches-this")
    console.keyboard.press("Enter")
    expect(console.locator("#queue-count")).to_have_text("0 queues")
