"""Shorten the response time perceived by the user, as a web app: the page gets its result
pushed from EMS the moment it is ready.

The seed's recipe ends at the user: "the client checks for its response asynchronously (pull)
and updates its display, or is notified when the response is ready (push)". Here the client is
a web page served from this app's own origin, talking to EMS on another origin (so EMS runs with
``--cors-origin`` naming this app's origin):

1. the page makes a reply queue of its own in EMS (``POST /ems/queue``), so no other user can
   read its results;
2. it sends the job to the jobs queue with a correlation id (its ticket) and a ``reply-to``
   attribute naming its reply queue's ``send_id``; it knows only the jobs queue's ``send_id``,
   which may send and do nothing else;
3. it opens a live stream (Server-Sent Events) on its reply queue, filtered by its ticket, and
   shows the result the moment a worker (``worker.py``) sends it, then acknowledges (deletes) it
   and deletes its reply queue.

A worker killed mid-job never acknowledges the job, so EMS hands it to another worker after the
jobs queue's visibility timeout (3 s here): the job is redone, and the page, which shows one
result per ticket, still shows exactly one.

This program creates the jobs queue, serves the page and ``/config.json`` (where EMS is, and the
jobs queue's ``send_id``), and prints the command that starts a worker. Run it::

    ems serve --cors-origin http://127.0.0.1:8000          # in one terminal
    python examples/web_response/app.py                    # in another: prints the worker command
    python examples/web_response/worker.py --url ... --queue ...   # in a third
    # then open http://127.0.0.1:8000 in a browser
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ems import Client, TransportError

HERE = Path(__file__).resolve().parent
PAGE_FILES = frozenset({"/", "/index.html", "/page.js"})


class PageHandler(SimpleHTTPRequestHandler):
    """The page's files and its configuration; nothing else of this directory is served."""

    config: bytes = b"{}"
    ems_url = ""

    def do_GET(self) -> None:
        if self.path == "/config.json":
            self._answer(200, "application/json", self.config)
        elif self.path in PAGE_FILES:
            super().do_GET()
        elif self.path == "/favicon.ico":
            self._answer(204, "image/x-icon", b"")  # none: spares the browser a 404
        else:
            self._answer(404, "text/plain", b"not found\n")

    def end_headers(self) -> None:
        # the page may talk to this origin and to EMS, and to nothing else
        self.send_header(
            "Content-Security-Policy",
            f"default-src 'self'; connect-src 'self' {self.ems_url}; base-uri 'none'",
        )
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def _answer(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the terminal shows the worker command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", default=os.environ.get("EMS_URL", "http://127.0.0.1:8080"))
    parser.add_argument("--port", type=int, default=8000, help="where the page is served")
    args = parser.parse_args(argv)
    try:
        with Client(args.url) as client:
            # a short visibility timeout: a job whose worker died is redone after 3 s
            jobs = client.create_queue(visibility_timeout=3)
    except TransportError as error:
        print(f"cannot reach EMS at {args.url} ({error}): start it with `ems serve`")
        return 2
    PageHandler.ems_url = args.url.rstrip("/")
    PageHandler.config = json.dumps({"ems": PageHandler.ems_url, "jobs": jobs.send_id}).encode()
    handler = functools.partial(PageHandler, directory=str(HERE))
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    worker = HERE / "worker.py"
    print(f"page: http://127.0.0.1:{server.server_address[1]}/", flush=True)
    command = f"{sys.executable} {worker} --url {args.url} --queue {jobs.receive_id}"
    print(f"worker: {command}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
