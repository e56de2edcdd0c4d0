"""docs/deploy.md's nginx configurations, run by a real nginx in front of real EMS servers.

A block is the ``http`` part of a configuration (upstreams, maps, servers); the test wraps it
in a main configuration of its own (a private prefix, no daemon, one worker). A block written
as a change to the one before it (``# ... as above ...``) is that block with the directives the
new one names replaced, location by location: the sharding example is the balancer example
with ``proxy_pass http://$ems_shard``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx

MAIN = """\
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    # where a request was routed (the upstream group, and the node in it that answered)
    add_header X-Docs-Test-Upstream "$proxy_host $upstream_addr" always;
{http}
}}
"""
_AS_ABOVE = re.compile(r"#\s*\.\.\..*\babove\b")


def binary() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    assert found, (
        "the docs test runs docs/deploy.md's nginx configurations: install nginx "
        "(apt-get install nginx; scripts/test does it for you)"
    )
    return found


def is_change(block: str) -> bool:
    return _AS_ABOVE.search(block) is not None


def compose(change: str, previous: str) -> str:
    """``change`` applied to ``previous``: what comes before its ``server`` block is added; each
    directive in each of its locations replaces the same directive in the same location."""
    head, _, server = change.partition("\nserver {")
    result = previous
    for location, body in re.findall(r"location\s+([^{]+?)\s*\{(.*?)\n\s*\}", server, re.S):
        for line in body.splitlines():
            directive = line.split("#", 1)[0].strip()
            if not directive:
                continue
            result = _replace_in_location(result, location, directive)
    return head + "\n" + result


def _replace_in_location(config: str, location: str, directive: str) -> str:
    name = directive.split(maxsplit=1)[0]
    start = re.search(rf"location\s+{re.escape(location)}\s*\{{", config)
    assert start, f"no `location {location}` to change in the configuration above"
    end = config.index("\n    }", start.end())
    inside = config[start.end() : end]
    changed, count = re.subn(rf"(?m)^(\s*){name}\s[^;]*;", rf"\g<1>{directive}", inside)
    assert count == 1, f"`{name}` is not set once in `location {location}` above"
    return config[: start.end()] + changed + config[end:]


class Nginx:
    def __init__(self, prefix: Path, http: str, port: int) -> None:
        self.prefix = prefix
        self.port = port
        prefix.mkdir(parents=True, exist_ok=True)
        self.conf = prefix / "nginx.conf"
        self.conf.write_text(MAIN.format(prefix=prefix, http=http))
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Nginx:
        nginx = binary()
        command = [nginx, "-p", str(self.prefix), "-c", str(self.conf)]
        tested = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
        assert tested.returncode == 0, f"nginx -t refused the configuration:\n{tested.stderr}"
        with (self.prefix / "stderr.log").open("wb") as log:
            self.process = subprocess.Popen(command, stderr=log)
        deadline = time.monotonic() + 15
        while True:
            assert self.process.poll() is None, (self.prefix / "stderr.log").read_text()
            try:
                httpx.get(f"https://127.0.0.1:{self.port}/", verify=False, timeout=1)
                return self
            except httpx.TransportError:
                assert time.monotonic() < deadline, "nginx did not start listening"
                time.sleep(0.05)

    def __exit__(self, *_: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(15)
