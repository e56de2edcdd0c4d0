"""examples/web_response in real Chromium: a page on its own origin gets its result from EMS on
another origin, over a live stream; a worker killed mid-job has the job redone, and the page
still shows exactly one result."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.e2e.server import EmsServer, free_port
from tests.e2e.test_playground_browser import chromium

pytestmark = pytest.mark.e2e

RECIPE = Path(__file__).resolve().parents[2] / "examples" / "web_response"


def read_line(stream: IO[str], prefix: str, seconds: float = 20) -> str:
    """The next line that starts with ``prefix`` (what follows it), within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            raise AssertionError(f"the process ended before printing {prefix!r}")
        if line.startswith(prefix):
            return line[len(prefix) :].strip()
    raise AssertionError(f"no {prefix!r} line in time")


class Recipe:
    """EMS with CORS for the app's origin, the app, and its workers: all real processes."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.ems = EmsServer(directory / "ems").start("--cors-origin", self.origin)
        self.app = subprocess.Popen(
            [
                sys.executable,
                str(RECIPE / "app.py"),
                "--url",
                self.ems.url,
                "--port",
                str(self.port),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.app.stdout is not None
        assert read_line(self.app.stdout, "page: ") == self.origin + "/"
        self.worker_command = read_line(self.app.stdout, "worker: ").split()
        self.workers: list[subprocess.Popen[str]] = []

    def worker(self, seconds: float) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [*self.worker_command, "--seconds", str(seconds)], stdout=subprocess.PIPE, text=True
        )
        self.workers.append(process)
        return process

    def close(self) -> None:
        for process in [*self.workers, self.app]:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
            process.wait(10)
            if process.stdout is not None:
                process.stdout.close()
        self.ems.stop()


@pytest.fixture
def recipe(tmp_path: Path) -> Iterator[Recipe]:
    running = Recipe(tmp_path)
    yield running
    running.close()


@pytest.fixture
def page(recipe: Recipe) -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser: Browser = playwright.chromium.launch(
            executable_path=chromium(), args=["--no-sandbox"]
        )
        context = browser.new_context()
        opened = context.new_page()
        errors: list[str] = []
        opened.on("pageerror", lambda error: errors.append(str(error)))
        opened.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        opened.goto(recipe.origin + "/")
        yield opened
        browser.close()
        assert errors == []


def test_the_page_gets_its_result_pushed_from_ems_on_another_origin(
    recipe: Recipe, page: Page
) -> None:
    recipe.worker(seconds=0.5)
    page.get_by_label("Photo").fill("avatar.png")
    started = time.monotonic()
    page.get_by_role("button", name="Make thumbnail").click()
    results = page.locator("#results li")
    expect(results).to_have_text(["thumbnail of avatar.png"], timeout=10_000)
    expect(page.locator("#state")).to_have_text("Done.")
    assert time.monotonic() - started < 5


def test_a_worker_killed_mid_job_has_the_job_redone_and_one_result_shown(
    recipe: Recipe, page: Page
) -> None:
    doomed = recipe.worker(seconds=30)
    page.get_by_label("Photo").fill("holiday.jpg")
    page.get_by_role("button", name="Make thumbnail").click()
    assert doomed.stdout is not None
    ticket = read_line(doomed.stdout, "started ")
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(10)
    expect(page.locator("#state")).to_have_text("Working on holiday.jpg…")

    survivor = recipe.worker(seconds=0.5)
    assert survivor.stdout is not None
    # the job comes back after the jobs queue's 3 s visibility timeout, and is redone
    assert read_line(survivor.stdout, "started ") == ticket
    results = page.locator("#results li")
    expect(results).to_have_text(["thumbnail of holiday.jpg"], timeout=10_000)
    # and stays one result, well past another visibility timeout
    page.wait_for_timeout(4000)
    expect(results).to_have_count(1)
    assert results.first.get_attribute("data-ticket") == ticket
