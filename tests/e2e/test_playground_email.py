"""The playground's email subscribe control, in real Chromium, on an ``ems serve`` that mails
through a real SMTP server (STARTTLS, AUTH); the confirmation link opened in the browser."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.server import EmsServer, free_port
from tests.e2e.test_playground_browser import browser, page
from tests.smtp import SmtpServer

__all__ = ["browser", "page"]  # the browser fixtures, shared with the playground's other tests


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    server = SmtpServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def server(tmp_path: Path, smtp: SmtpServer) -> Iterator[EmsServer]:
    port = free_port()
    server = EmsServer(
        tmp_path / "data",
        port=port,
        env={
            "EMS_SMTP_URL": smtp.url,
            "EMS_SMTP_FROM": "alerts@ems.example.com",
            "EMS_SMTP_CA_FILE": str(smtp.certificate),
            "EMS_SMTP_ALLOW_PRIVATE": "1",
            "EMS_PUBLIC_URL": f"http://127.0.0.1:{port}",
        },
    )
    server.start()
    yield server
    server.stop()


def test_subscribe_an_email_address_confirm_and_get_a_mail(
    page: Page, server: EmsServer, smtp: SmtpServer
) -> None:
    status = page.locator("#status")
    page.get_by_role("button", name="Create topic").click()
    expect(status).to_have_text("201 Created")
    form = page.locator("#subscribe")
    form.get_by_label("an email address").check()
    form.get_by_role("textbox", name="Email address").fill("ada@example.com")
    form.get_by_role("button", name="Subscribe").click()
    expect(status).to_have_text("201 Created")
    expect(page.locator("#response")).to_contain_text('"status": "pending_confirmation"')
    expect(page.locator("#curl")).to_contain_text("email=ada%40example.com")
    expect(page.locator("#python")).to_contain_text("subscribe_email")

    (confirmation,) = smtp.wait_for(1)
    link = next(line.strip() for line in confirmation.text.splitlines() if "/confirm/" in line)
    playground = page.url
    page.goto(link)
    expect(page.get_by_role("heading")).to_have_text("Confirm your subscription")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading")).to_have_text("Subscription confirmed")
    page.goto(playground)

    page.locator("#publish").get_by_role("button", name="Publish").click()
    expect(status).to_have_text("201 Created")
    expect(page.locator("#response")).to_contain_text('"emails": 1')
    mails = smtp.wait_for(2)
    assert mails[1].text.startswith("CS 61A, seat 14")
