"""The fenced code blocks of the documentation, named, with their docs-test markers.

A block is named by its file and the heading it sits under (GitHub's anchor for it), with
``.2``, ``.3`` for further blocks under the same heading: ``docs/topics.md#api``. Names survive
edits elsewhere in a file, so a skip is tied to a block rather than to a line number.

Which blocks run is decided by the fence's language: ``sh`` (also bash, shell, console) runs in
bash, ``python`` in Python, ``nginx`` in nginx. Other fences (json, plain text, usage synopses)
show output or syntax; json blocks must parse. A block that cannot run where the tests run is
marked by an HTML comment right before its fence, which readers of the rendered page never see::

    <!-- docs-test: skip (needs a TLS certificate from a CA) -->

The reason in parentheses is required and is printed with the test's skip. Any other
``docs-test:`` comment, or one that no fence follows, is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNNERS = {
    "sh": "shell",
    "bash": "shell",
    "shell": "shell",
    "console": "shell",
    "python": "python",
    "py": "python",
    "nginx": "nginx",
}
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>```+|~~~+)\s*(?P<info>[^`]*)$")
_HEADING = re.compile(r"^#{1,6}\s+(?P<title>.+?)\s*#*\s*$")
_MARKER = re.compile(r"^\s*<!--\s*docs-test:(?P<body>.*?)-->\s*$")
_SKIP = re.compile(r"^\s*skip\s+\((?P<reason>[^()]+(?:\([^()]*\)[^()]*)*)\)\s*$")


class MarkerError(ValueError):
    """A docs-test marker that is malformed, unknown, or not followed by a fence."""


@dataclass(frozen=True)
class Block:
    path: str  # relative to the repository root
    name: str
    language: str
    code: str
    line: int  # of the opening fence, 1-based
    skip: str | None = None  # the reason given by a skip marker

    @property
    def runner(self) -> str | None:
        return RUNNERS.get(self.language)


def documents() -> list[Path]:
    """README.md, docs/*.md and examples/README.md: what a new user reads and copies from."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "examples/README.md"]


def anchor(title: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|<[^>]+>", "", title).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def parse(path: Path, root: Path = ROOT) -> list[Block]:
    relative = path.relative_to(root).as_posix()
    lines = path.read_text().splitlines()
    blocks: list[Block] = []
    section = ""
    seen: dict[str, int] = {}
    pending: tuple[str | None, int] | None = None  # a marker waiting for its fence
    index = 0
    while index < len(lines):
        line = lines[index]
        fence = _FENCE.match(line)
        if fence:
            end = _closing(lines, index, fence.group("fence"))
            language = fence.group("info").strip().split(" ")[0].lower()
            seen[section] = seen.get(section, 0) + 1
            name = f"{relative}#{section}" + (f".{seen[section]}" if seen[section] > 1 else "")
            indent = len(fence.group("indent"))
            code = "\n".join(text[indent:] for text in lines[index + 1 : end]) + "\n"
            blocks.append(
                Block(relative, name, language, code, index + 1, pending[0] if pending else None)
            )
            pending = None
            index = end + 1
            continue
        marker = _MARKER.match(line)
        if marker:
            if pending is not None:
                raise MarkerError(f"{relative}:{pending[1]}: a docs-test marker without a fence")
            pending = (_skip_reason(marker.group("body"), f"{relative}:{index + 1}"), index + 1)
        elif line.strip() and pending is not None:
            raise MarkerError(f"{relative}:{pending[1]}: a docs-test marker must precede a fence")
        heading = _HEADING.match(line)
        if heading:
            section = anchor(heading.group("title"))
        index += 1
    if pending is not None:
        raise MarkerError(f"{relative}:{pending[1]}: a docs-test marker without a fence")
    return blocks


def _closing(lines: list[str], start: int, fence: str) -> int:
    for index in range(start + 1, len(lines)):
        if lines[index].strip().startswith(fence[0] * len(fence)) and not lines[index].strip(
            fence[0]
        ):
            return index
    raise MarkerError(f"unclosed fence at line {start + 1}")


def _skip_reason(body: str, where: str) -> str:
    skip = _SKIP.match(body)
    if skip is None:
        raise MarkerError(
            f"{where}: unknown docs-test marker {body.strip()!r}; the one marker is "
            "'docs-test: skip (reason)'"
        )
    return skip.group("reason").strip()


def all_blocks() -> list[Block]:
    return [block for path in documents() for block in parse(path)]
