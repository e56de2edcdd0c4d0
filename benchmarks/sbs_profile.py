"""A profile of a server process while load runs: py-spy samples, summarized by function.

py-spy (``pip install 'easy-message-service[bench]'``) samples the process's Python stacks from
outside, without slowing it much, and only the thread holding the GIL (``--gil``): one event
loop does all of EMS's Python work, so that is where its time goes. The summary lists where the
samples ended (self time) and which EMS and server functions they passed through (inclusive
time), as percentages of all samples, and how much of the time the GIL was held at all.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
RATE = 200  # samples per second
FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def py_spy() -> str | None:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return found if Path(found).exists() else None


def profiled(
    pid: int, seconds: float, output: Path, load: Callable[[], T]
) -> tuple[T, dict[str, Any]]:
    """Run ``load()`` while py-spy samples ``pid`` for ``seconds``; its result and a summary."""
    tool = py_spy()
    if tool is None:
        missing = "py-spy is not installed: pip install 'easy-message-service[bench]'"
        return load(), {"error": missing}
    command = [
        tool, "record", "--gil", "--pid", str(pid), "--duration", str(int(seconds)),
        "--rate", str(RATE),
        "--format", "raw", "--output", str(output), "--nonblocking",
    ]  # fmt: skip
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        result = load()
    finally:
        _, err = spy.communicate(timeout=seconds + 60)
    if spy.returncode != 0 or not output.exists():
        return result, {"error": f"py-spy failed: {err.decode(errors='replace')[-300:]}"}
    summary = summarize(output.read_text())
    summary["gil_held_fraction"] = round(summary["samples"] / (RATE * int(seconds)), 2)
    return result, {"command": " ".join(command), **summary}


RENAMED = {
    "Runner.run (asyncio/runners.py)": "the event loop itself (uvloop's C code: I/O, callbacks)",
}
INTERESTING = ("ems/", "uvicorn/protocols", "asyncpg/")
BORING = ("ems/cli.py", "ems/__main__.py")


def _short(frame: str) -> str:
    match = FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", "/src/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match['function']} ({path})"


def summarize(raw: str, top: int = 12) -> dict[str, Any]:
    own: Counter[str] = Counter()
    through: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [RENAMED.get(f, f) for f in (_short(f) for f in stack.split(";"))]
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            if any(m in frame for m in INTERESTING) and not any(b in frame for b in BORING):
                through[frame] += count

    def share(counter: Counter[str]) -> list[dict[str, Any]]:
        return [
            {"function": name, "percent": round(100 * n / total, 1)}
            for name, n in counter.most_common(top)
        ]

    return {"samples": total, "self": share(own), "inclusive": share(through)}
