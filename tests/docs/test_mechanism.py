"""The docs test's own machinery fails when a block is wrong: markers, the runners' claims,
the checked commands and the nginx composition, each on a small block of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.docs import blocks, nginx, reader
from tests.docs.placeholders import Site, substitute
from tests.docs.runners import Shell
from tests.e2e.server import EmsServer

pytestmark = pytest.mark.e2e


def parse(tmp_path: Path, text: str) -> list[blocks.Block]:
    path = tmp_path / "docs" / "page.md"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return blocks.parse(path, tmp_path)


def test_blocks_are_named_by_heading_and_marked_by_comment(tmp_path: Path) -> None:
    found = parse(
        tmp_path,
        "# Title\n\n## Use it: with `curl`!\n\n```sh\necho one\n```\n\n"
        "<!-- docs-test: skip (needs a CA (a real one)) -->\n```sh\necho two\n```\n\n"
        "```json\n{}\n```\n",
    )
    assert [(b.name.split("#")[1], b.language, b.skip) for b in found] == [
        ("use-it-with-curl", "sh", None),
        ("use-it-with-curl.2", "sh", "needs a CA (a real one)"),
        ("use-it-with-curl.3", "json", None),
    ]
    assert found[0].code == "echo one\n"


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("<!-- docs-test: skip -->\n```sh\ntrue\n```\n", "unknown docs-test marker"),
        ("<!-- docs-test: skip (no fence) -->\n\nText.\n", "must precede a fence"),
        ("<!-- docs-test: run (x) -->\n```sh\ntrue\n```\n", "unknown docs-test marker"),
        ("Text.\n<!-- docs-test: skip (at the end) -->\n", "without a fence"),
    ],
)
def test_a_bad_marker_is_an_error(tmp_path: Path, text: str, complaint: str) -> None:
    with pytest.raises(blocks.MarkerError, match=complaint):
        parse(tmp_path, text)


@pytest.fixture(scope="module")
def shell(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shell]:
    where = tmp_path_factory.mktemp("mechanism")
    (where / "server").mkdir()
    server = EmsServer(where / "server" / "data").start()
    directory = where / "reader"
    directory.mkdir()
    yield Shell(directory, reader.make(directory, server.url) | {"B": server.url})
    server.stop()


def test_state_carries_from_block_to_block(shell: Shell) -> None:
    assert shell.run("X=carried\nmkdir -p sub && cd sub\n").ok
    outcome = shell.run('echo "$X in $(basename "$PWD")"   # prints: carried in sub\n')
    assert outcome.ok, outcome.output
    assert shell.run("cd ..\n").ok


def test_a_failing_command_fails_the_block(shell: Shell) -> None:
    outcome = shell.run("true\nfalse\necho never\n")
    assert not outcome.ok
    assert "never" not in outcome.output


def test_an_error_answer_fails_the_block_unless_it_says_so(shell: Shell) -> None:
    refused = shell.run('curl -s "$B/ems/nothing-here"\n')
    assert not refused.ok
    assert "curl got [404]" in refused.problem
    assert shell.run('curl -s "$B/ems/nothing-here"   # answers 404\n').ok


def test_what_a_block_says_it_prints_must_appear(shell: Shell) -> None:
    assert shell.run("echo hello   # prints: hello\n").ok
    wrong = shell.run("echo hello   # prints: goodbye\n")
    assert not wrong.ok
    assert "goodbye" in wrong.problem


@pytest.mark.parametrize(
    ("command", "ok"),
    [
        ("pip install easy-message-service", True),
        ("pip install 'easy-message-service[postgres]'", True),
        ("pip install -e '.[test,bench]'", True),
        ("pip install awscli", True),
        ("pip install ems", False),
        ("pip install 'ems[postgres]'", False),
        ("pip install 'easy-message-service[nope]'", False),
        ("pip install no-such-package-here", False),
        ("aws sqs list-queues", False),
        ("aws sqs list-queues --endpoint-url https://sqs.us-east-1.amazonaws.com", False),
    ],
)
def test_checked_commands(shell: Shell, command: str, ok: bool) -> None:
    outcome = shell.run(command + "\n")
    assert outcome.ok is ok, outcome.output


def test_placeholders_stand_in_for_the_readers_world() -> None:
    site = Site(port=1234, webhook="http://127.0.0.1:99", home="/h", database_url=lambda: "pg")
    code = (
        "curl http://127.0.0.1:8080/x https://hooks.example.com/ems\n"
        'curl -d \'{"receipt_handles": ["h1", "h2"]}\' .../message/<receipt_handle>\n'
    )
    assert substitute(code, site) == (
        "curl http://127.0.0.1:1234/x http://127.0.0.1:99/ems\n"
        'curl -d \'{"receipt_handles": ["\'"$(__docs_receipt_handle 2)"\'", '
        '"\'"$(__docs_receipt_handle 1)"\'"]}\' .../message/$(__docs_receipt_handle 1)\n'
    )
    assert "pg" not in substitute("no database here", site)


def test_a_change_to_the_nginx_block_above_replaces_its_directives() -> None:
    above = (
        "upstream ems { server a:1; }\n\nserver {\n    listen 1;\n\n    location / {\n"
        "        proxy_pass http://ems;\n        proxy_read_timeout 65s;\n    }\n}\n"
    )
    change = (
        "map $uri $x { default ems; }\n\nserver {\n    # ... as above ...\n    location / {\n"
        "        proxy_pass http://$x;\n        # ... the settings above ...\n    }\n}\n"
    )
    assert nginx.is_change(change)
    assert not nginx.is_change(above)
    composed = nginx.compose(change, above)
    assert composed.startswith("map $uri $x")
    assert "proxy_pass http://$x;" in composed
    assert "proxy_pass http://ems;" not in composed
    assert "proxy_read_timeout 65s;" in composed
