"""Docs that run: every runnable block of README.md, docs/*.md and examples/README.md, run
against real servers, in each document's order, as a new user would paste them.

How it works (the modules beside this one):

- blocks.py finds the fenced blocks and names them (``docs/topics.md#api``); sh, python and
  nginx blocks run, json blocks must parse, other fences are displays.
- placeholders.py is the one place that says what a block may not run as written and what
  stands in for it (the server's port, a webhook on the internet, a receipt handle the reader
  just received, ...).
- reader.py lays out the reader's directory and venv after README's quick start; shims.py
  checks ``pip install``, ``ems serve`` and ``aws`` instead of running them blindly.
- runners.py runs the blocks and reads what they must show from the blocks themselves:
  ``# prints: TEXT`` and ``# answers NNN`` comments.
- nginx.py runs docs/deploy.md's nginx configurations in front of real EMS servers (two
  shards for the sharding map).

To keep a block out, because it needs what the tests cannot have, put this right before its
fence (the reason is printed with the skip, and ``-ra`` lists every one)::

    <!-- docs-test: skip (needs a TLS certificate from a CA) -->

An unmarked block that does not run as written fails.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests import pg
from tests.docs import nginx, reader
from tests.docs.blocks import Block, all_blocks
from tests.docs.placeholders import PYTHON_PRELUDE, SERVER_FLAGS, Site, substitute
from tests.docs.runners import Outcome, Python, Shell
from tests.e2e.server import EmsServer, free_port
from tests.tls import self_signed
from tests.webhooks import Receiver

pytestmark = pytest.mark.e2e

BLOCKS = all_blocks()
RUNNABLE = [block for block in BLOCKS if block.runner]


@dataclass
class Machine:
    """The servers the docs talk to, shared by every document of this module."""

    site: Site
    server: EmsServer
    webhooks: Receiver
    context: dict[str, object]
    workdir: Path
    shard_servers: dict[str, EmsServer] = field(default_factory=dict)


@pytest.fixture(scope="module")
def machine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Machine]:
    workdir = tmp_path_factory.mktemp("docs")
    for name in ("server", "shard-s1", "shard-s2"):
        (workdir / name).mkdir()
    server = EmsServer(workdir / "server" / "data").start(*SERVER_FLAGS)
    webhooks = Receiver()
    cert, key = self_signed(workdir)
    shards = {prefix: EmsServer(workdir / f"shard-{prefix}" / "data") for prefix in ("s1", "s2")}
    site = Site(
        port=server.port,
        webhook=webhooks.url,
        home=str(workdir / "home"),
        database_url=pg.database_url,
        shards={prefix: shard.port for prefix, shard in shards.items()},
        nginx_port=free_port(),
        certificate=(str(cert), str(key)),
    )
    try:
        yield Machine(site, server, webhooks, received_push(server, webhooks), workdir, shards)
    finally:
        for shard in shards.values():
            shard.stop()
        webhooks.close()
        server.stop()


def received_push(server: EmsServer, webhooks: Receiver) -> dict[str, object]:
    """A real push, of a raw (non-JSON) body, as the reader's endpoint would have received it."""
    base = server.url
    topic = httpx.post(f"{base}/ems/topic").json()["topic_id"]
    subscribed = httpx.post(f"{base}/ems/topic/{topic}/subscription?url={webhooks.url}/ems")
    assert subscribed.status_code == 201, subscribed.text
    webhooks.wait_for(1, kind="SubscriptionConfirmation")
    for _ in range(100):
        if httpx.get(f"{base}/ems/topic/{topic}").json()["subscriptions"]["http_confirmed"]:
            break
        time.sleep(0.05)
    published = httpx.post(f"{base}/ems/topic/{topic}/message", content=b"CS 61A, seat 14")
    assert published.json()["webhooks"] == 1
    (push,) = [
        r
        for r in webhooks.wait_for(1)
        if r.headers.get("ems-message-id") == published.json()["message_id"]
    ]
    return {
        "signing_secret": subscribed.json()["signing_secret"],
        "headers": push.headers,
        "body": base64.b64encode(push.body).decode(),
    }


class Document:
    """One document's blocks, run in order; each test runs the blocks up to its own."""

    def __init__(self, path: str, machine: Machine) -> None:
        self.machine = machine
        self.blocks = [block for block in RUNNABLE if block.path == path]
        self.outcomes: dict[str, Outcome] = {}
        self.directory = machine.workdir / "readers" / path.replace("/", "_")
        self.directory.mkdir(parents=True)
        self.env = reader.make(self.directory, machine.server.url)
        self.shell = Shell(self.directory, self.env)
        self.python: Python | None = None
        self.nginx_blocks: list[str] = []
        self.failed: str | None = None

    def outcome(self, block: Block) -> Outcome:
        for earlier in self.blocks[: self.blocks.index(block) + 1]:
            if earlier.name not in self.outcomes:
                self.outcomes[earlier.name] = self._run(earlier)
        return self.outcomes[block.name]

    def _run(self, block: Block) -> Outcome:
        if block.skip:
            return Outcome(True, "", "skipped")
        if self.failed:
            return Outcome(False, "", f"not run: {self.failed} failed before it")
        code = substitute(block.code, self.machine.site)
        if block.runner == "shell":
            outcome = self.shell.run(code)
        elif block.runner == "python":
            if self.python is None:
                self.python = Python(self.directory, self.env, self.machine.context, PYTHON_PRELUDE)
            outcome = self.python.run(code, block.name)
        else:
            outcome = self._nginx(code)
        if not outcome.ok:
            self.failed = block.name
        return outcome

    def _nginx(self, code: str) -> Outcome:
        config = nginx.compose(code, self.nginx_blocks[-1]) if nginx.is_change(code) else code
        self.nginx_blocks.append(config)
        sharded = "$ems_shard" in config
        if sharded:
            for prefix, shard in self.machine.shard_servers.items():
                if shard.process is None:
                    shard.start("--id-prefix", prefix, *SERVER_FLAGS)
        where = self.directory / f"nginx-{len(self.nginx_blocks)}"
        port = self.machine.site.nginx_port
        with nginx.Nginx(where, config, port):
            balancer = httpx.Client(
                base_url=f"https://127.0.0.1:{port}",
                verify=ssl.create_default_context(cafile=self.machine.site.certificate[0]),
                timeout=30,
            )
            with balancer:
                if sharded:
                    check_shards(balancer, self.machine.site.shards)
                else:
                    check_balancer(balancer)
        return Outcome(True, "")

    def close(self) -> None:
        if self.python is not None:
            self.python.close()


@pytest.fixture(scope="module")
def documents(machine: Machine) -> Iterator[dict[str, Document]]:
    opened: dict[str, Document] = {}
    yield opened
    for document in opened.values():
        document.close()


@pytest.mark.parametrize("block", RUNNABLE, ids=[block.name for block in RUNNABLE])
def test_block(block: Block, machine: Machine, documents: dict[str, Document]) -> None:
    if block.skip:
        pytest.skip(f"{block.name}: {block.skip}")
    document = documents.get(block.path)
    if document is None:
        document = documents[block.path] = Document(block.path, machine)
    outcome = document.outcome(block)
    assert outcome.ok, f"{block.path}:{block.line} {block.name}: " + outcome.describe(
        substitute(block.code, machine.site)
    )


def test_json_blocks_parse() -> None:
    for block in BLOCKS:
        if block.language == "json":
            try:
                json.loads(block.code)
            except ValueError as error:
                pytest.fail(f"{block.path}:{block.line} {block.name}: not JSON: {error}")


def test_only_runnable_blocks_are_marked() -> None:
    """A skip marker says a block that should run cannot: on a display, it means nothing."""
    pointless = [block.name for block in BLOCKS if block.skip and not block.runner]
    assert not pointless, f"skip markers on blocks that never run: {pointless}"
    names = [block.name for block in BLOCKS]
    assert len(names) == len(set(names))


def check_balancer(balancer: httpx.Client) -> None:
    """docs/deploy.md: the balancer passes every call through, long polls included."""
    assert balancer.get("/healthz").status_code == 200
    assert balancer.get("/readyz").json() == {"ready": True}
    queue = balancer.post("/ems/queue").json()["queue_id"]
    assert balancer.post(f"/ems/queue/{queue}/message", content=b"through nginx").status_code == 201
    received = balancer.get(f"/ems/queue/{queue}/message?wait_seconds=2").json()["messages"]
    assert [m["body"] for m in received] == ["through nginx"]
    handle = received[0]["receipt_handle"]
    assert balancer.delete(f"/ems/queue/{queue}/message/{handle}").status_code == 204


def check_shards(balancer: httpx.Client, ports: dict[str, int]) -> None:
    """docs/deploy.md: creates go to any shard; everything naming an id, confirmation links
    included, reaches the shard in the id."""

    def routed(answer: httpx.Response, prefix: str) -> httpx.Response:
        """The request went to the shard's own upstream (not the catch-all), and its node."""
        upstream = answer.headers["x-docs-test-upstream"]
        assert upstream == f"ems_{prefix} 127.0.0.1:{ports[prefix]}", (
            f"{answer.request.url.path} went to {upstream}, not to shard {prefix}"
        )
        return answer

    queues: dict[str, str] = {}
    topics: dict[str, str] = {}
    for _ in range(6):  # round robin: alternate creates of one kind land on each shard
        queue = balancer.post("/ems/queue").json()
        queues.setdefault(queue["queue_id"].split("_", 1)[0], queue["send_id"])
    for _ in range(6):
        topic = balancer.post("/ems/topic").json()["topic_id"]
        topics.setdefault(topic.split("_", 1)[0], topic)
    assert set(queues) == set(topics) == {"s1", "s2"}, "creates reach both shards"
    for prefix, send_id in queues.items():
        sent = routed(balancer.post(f"/ems/queue/{send_id}/message", content=b"x"), prefix)
        assert sent.status_code == 201, f"{prefix}: {sent.text}"
    silent = Receiver(echo_challenge=False)  # confirmation by link, as an operator would
    try:
        for prefix, topic in topics.items():
            subscribed = routed(
                balancer.post(f"/ems/topic/{topic}/subscription?url={silent.url}/{prefix}"), prefix
            )
            assert subscribed.status_code == 201, subscribed.text
        confirmations = silent.wait_for(2, kind="SubscriptionConfirmation", timeout=15)
        for confirmation in confirmations:
            link = confirmation.json()["confirm_url"]
            path = re.sub(r"^https?://[^/]+", "", link)
            prefix = confirmation.path.rsplit("/", 1)[1]
            assert path.startswith(f"/ems/topic/confirm/{prefix}_"), "the link names its shard"
            confirmed = routed(balancer.get(path), prefix)
            assert confirmed.status_code == 200, f"{link}: {confirmed.text}"
            assert confirmed.json()["status"] == "confirmed"
    finally:
        silent.close()
