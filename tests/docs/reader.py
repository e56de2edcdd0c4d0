"""A new user's machine, as the docs assume it after README's quick start.

A directory (the clone they work in) holding ``.venv`` with ``ems``, ``python``, ``pip`` and
``aws`` (wrappers around the test venv's, some checked by tests/docs/shims.py), ``examples/``
and ``benchmarks/`` (links to the repository's), and the files the blocks read
(placeholders.FILES). The environment is the one of a shell with that venv activated: its
``bin`` first on PATH, no AWS credentials or EMS settings inherited from whoever runs the tests,
a home of its own, and EMS_URL naming the test's server (see placeholders.SERVER_FLAGS).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from tests.docs.blocks import ROOT
from tests.docs.placeholders import FILES

SHIMS = Path(__file__).with_name("shims.py")
CHECKED = ("ems", "pip", "aws")  # through shims.py
PASSED_ON = ("python", "python3")
CURL_WRAPPER = """\
#!/bin/bash
# curl as the reader runs it, with each answer's status noted on stderr for the docs test and
# its body kept, so that a placeholder can stand for a receipt handle the reader just received
set -o pipefail
{curl} -w '%{{stderr}}\\n<<docs-test curl %{{http_code}}>>\\n' "$@" | tee -a "$DOCS_STATE/curl.out"
"""


def make(directory: Path, server_url: str) -> dict[str, str]:
    """Lay out the reader's directory; returns the environment its blocks run in."""
    real_bin = Path(sys.executable).parent
    bin_dir = directory / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for command in CHECKED:
        _script(bin_dir / command, f'exec "{sys.executable}" "{SHIMS}" {command} "$@"')
    _script(bin_dir / "pip3", f'exec "{bin_dir / "pip"}" "$@"')
    for command in PASSED_ON:
        _script(bin_dir / command, f'exec "{real_bin / command}" "$@"')
    curl = shutil.which("curl", path="/usr/local/bin:/usr/bin:/bin")
    assert curl, "curl is part of the test environment (scripts/test installs it)"
    tools = directory / ".docs-test" / "bin"
    tools.mkdir(parents=True)
    (tools / "curl").write_text(CURL_WRAPPER.format(curl=curl))
    (tools / "curl").chmod(0o755)
    for name in ("examples", "benchmarks"):
        (directory / name).symlink_to(ROOT / name)
    for name, content in FILES.items():
        (directory / name).write_bytes(content)
    home = directory / "home"
    home.mkdir()
    state = directory / ".docs-test" / "state"
    state.mkdir()
    system_path = [p for p in os.environ.get("PATH", "").split(":") if p and p != str(real_bin)]
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "EMS_", "PG", "VIRTUAL_ENV", "PYTHON"))
    }
    return env | {
        "PATH": ":".join([str(bin_dir), str(tools), *system_path]),
        "VIRTUAL_ENV": str(directory / ".venv"),
        "HOME": str(home),
        "EMS_URL": server_url,
        "DOCS_REAL_BIN": str(real_bin),
        "DOCS_STATE": str(state),
        "AWS_EC2_METADATA_DISABLED": "true",  # never wait for a cloud's metadata service
        "PYTHONDONTWRITEBYTECODE": "1",
        "TERM": "dumb",
    }


def _script(path: Path, command: str) -> None:
    path.write_text(f"#!/bin/sh\n{command}\n")
    path.chmod(0o755)
