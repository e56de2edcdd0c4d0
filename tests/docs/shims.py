"""Commands of the reader's venv that the docs test checks rather than runs as is.

Run as ``python shims.py COMMAND ARGS...`` by small wrappers in the reader's ``.venv/bin``
(tests/docs/reader.py writes them); the real commands are in ``DOCS_REAL_BIN``.

- ``pip install``: nothing is installed (tests/packaging installs the wheel for real); what a
  block asks for must be this project (``.``, ``easy-message-service``, with extras it has) or
  a package the test venv already holds. ``pip install ems`` fails: that is somebody else's.
- ``ems serve``: started as written (on a free port unless the block names one), checked until
  ``/readyz`` answers 200, then stopped with SIGTERM, which must end it cleanly. A server line
  in the docs stands for "in another terminal"; the blocks after it talk to the test's server.
- ``aws``: must be given ``--endpoint-url`` on loopback. Without it the AWS CLI talks to AWS
  itself (v1 ignores AWS_ENDPOINT_URL), which a reader must never be led to do.
- any other ``ems`` command: the real one.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DISTRIBUTION = "easy-message-service"
_REQUIREMENT = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)(?:\[(?P<extras>[^\]]*)\])?(?P<rest>.*)$")


def fail(message: str) -> int:
    print(f"docs-test: {message}", file=sys.stderr)
    return 1


def real(command: str) -> str:
    return str(Path(os.environ["DOCS_REAL_BIN"]) / command)


def pip(args: list[str]) -> int:
    if not args or args[0] != "install":
        return fail(f"`pip {' '.join(args)}`: only `pip install` is expected in the docs")
    extras_known = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"].get(
        "optional-dependencies", {}))  # fmt: skip
    wanted = [a for a in args[1:] if not a.startswith("-")]
    if not wanted:
        return fail("`pip install` with nothing to install")
    for requirement in wanted:
        if requirement == "ems" or requirement.startswith("ems["):
            return fail(
                f"`pip install {requirement}` installs somebody else's project; this one is "
                f"{DISTRIBUTION}"
            )
        if requirement == "." or requirement.startswith(".["):
            name, extras = DISTRIBUTION, requirement[2:-1] if requirement != "." else ""
        else:
            match = _REQUIREMENT.match(requirement)
            if match is None:
                return fail(f"`pip install {requirement}`: not a requirement this test knows")
            name, extras = match.group("name"), match.group("extras") or ""
        requested = {e.strip() for e in extras.split(",") if e.strip()}
        unknown = requested - extras_known if name == DISTRIBUTION else set()
        if unknown:
            return fail(f"`pip install {requirement}`: {DISTRIBUTION} has no extra {unknown}")
        try:
            metadata.distribution(name)
        except metadata.PackageNotFoundError:
            return fail(f"`pip install {requirement}`: {name} is not in the test's venv")
    print(f"docs-test: would install {' '.join(wanted)} (checked, not installed)")
    return 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def serve(args: list[str]) -> int:
    env = dict(os.environ)
    if "--port" in args:
        port = int(args[args.index("--port") + 1])
    else:
        port = free_port()
        env["EMS_PORT"] = str(port)
    log_path = Path(f"ems-serve-{port}.log").resolve()
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [real("ems"), "serve", *args], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 30
            while not _ready(port):
                if server.poll() is not None or time.monotonic() > deadline:
                    return fail(
                        f"`ems serve {' '.join(args)}` did not become ready:\n"
                        + log_path.read_text(errors="replace")
                    )
                time.sleep(0.1)
            server.send_signal(signal.SIGTERM)
            code = server.wait(30)
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
    # after a graceful stop, uvicorn ends by the signal it caught (to tell its parent why)
    if code not in (0, -signal.SIGTERM):
        return fail(f"`ems serve` exited with {code} on SIGTERM:\n{log_path.read_text()}")
    print(f"docs-test: `ems serve {' '.join(args)}` was ready on port {port}, then stopped")
    return 0


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
            return bool(answer.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def aws(args: list[str]) -> int:
    if "--endpoint-url" not in args:
        return fail(
            "an `aws` command without --endpoint-url would talk to AWS itself (AWS CLI v1 "
            "ignores AWS_ENDPOINT_URL): give it --endpoint-url http://127.0.0.1:8080"
        )
    endpoint = args[args.index("--endpoint-url") + 1]
    if not endpoint.startswith("http://127.0.0.1:"):
        return fail(f"--endpoint-url {endpoint} is not the test's server")
    return os.execv(real("aws"), [real("aws"), *args])


def main(argv: list[str]) -> int:
    command, args = argv[0], argv[1:]
    if command == "pip":
        return pip(args)
    if command == "aws":
        return aws(args)
    if command == "ems" and args[:1] == ["serve"]:
        return serve(args[1:])
    return os.execv(real(command), [real(command), *args])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
