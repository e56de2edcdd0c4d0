"""Run inside a private network namespace by test_ssrf_forms.py: start ``ems serve``, subscribe
each webhook URL read from stdin, print each answer's status and problem type as JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx

from tests.e2e.server import EmsServer


def main() -> None:
    request = json.load(sys.stdin)
    server = EmsServer(Path(request["data_dir"])).start()
    answers = []
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            topic_id = http.post("/ems/topic").json()["topic_id"]
            for url in request["urls"]:
                answer = http.post(f"/ems/topic/{topic_id}/subscription", params={"url": url})
                answers.append([answer.status_code, answer.json().get("type")])
    finally:
        server.stop()
    json.dump(answers, sys.stdout)


if __name__ == "__main__":
    main()
