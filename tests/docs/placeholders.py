"""Every liberty the docs test takes with the documentation's blocks, in one place.

The blocks run as written except for what is listed here: addresses that only exist on the
reader's network, and names that stand for something the reader has at hand (a receipt handle
they just got, the body of a push their endpoint received). Each entry says what it stands for.
Add to these lists rather than rewriting a block anywhere else.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

# The server the docs talk to is the quick start's `ems serve` (plus --webhook-allow-private,
# so that webhooks can reach the test's endpoint on loopback), on a free port, not 8080; the
# `ems` client commands and the examples find it through EMS_URL, as a reader's find the
# default http://127.0.0.1:8080.
SERVER_FLAGS = ("--webhook-allow-private",)


@dataclass
class Site:
    """What the placeholders stand for in this run: ports, URLs and paths of the test's own."""

    port: int
    webhook: str  # a real webhook endpoint on loopback (tests/webhooks.py)
    home: str  # the reader's home directory
    database_url: Callable[[], str]  # PostgreSQL (tests/pg.py), made on first use
    shards: dict[str, int] = field(default_factory=dict)  # id prefix -> port of its server
    nginx_port: int = 0
    certificate: tuple[str, str] = ("", "")  # (certificate, key) files for nginx's TLS


Replacement = str | Callable[[Site], str]

# (pattern, replacement): regular expressions over the block's text, applied in this order
TEXT: list[tuple[str, Replacement]] = [
    # the server the reader started with the quick start
    (r"127\.0\.0\.1:8080", lambda site: f"127.0.0.1:{site.port}"),
    # a webhook endpoint on the internet: the test's endpoint on loopback
    (r"https://hooks\.example\.com", lambda site: site.webhook),
    # the reader's database server: the tests' PostgreSQL
    (r"postgresql://ems@db\.internal(?::5432)?/ems", lambda site: site.database_url()),
    # a system directory: one in the reader's home
    (r"/var/lib/ems", lambda site: f"{site.home}/var-lib-ems"),
    # serving a network: the tests bind loopback only
    (r"--host 0\.0\.0\.0", "--host 127.0.0.1"),
    # a receipt handle the reader just received (the last one the block's curl printed)
    (r"<receipt_handle>", "$(__docs_receipt_handle 1)"),
    # two receipt handles in a JSON list (api.md's batch examples): the last two received
    (r'"h1"', """"'"$(__docs_receipt_handle 2)"'\""""),
    (r'"h2"', """"'"$(__docs_receipt_handle 1)"'\""""),
    # nginx: the nodes of docs/deploy.md's examples are the test's servers on loopback
    (r"10\.0\.0\.1\d:8080", lambda site: f"127.0.0.1:{site.port}"),
    (r"10\.0\.1\.1\d:8080", lambda site: f"127.0.0.1:{site.shards['s1']}"),
    (r"10\.0\.2\.1\d:8080", lambda site: f"127.0.0.1:{site.shards['s2']}"),
    (r"listen 443 ssl;", lambda site: f"listen 127.0.0.1:{site.nginx_port} ssl;"),
    (r"/etc/ssl/ems\.crt", lambda site: site.certificate[0]),
    (r"/etc/ssl/ems\.key", lambda site: site.certificate[1]),
]

# Files the blocks read from the reader's directory, as they would have them
FILES: Mapping[str, bytes] = {
    "photo.jpg": b"\xff\xd8\xff\xe0 not really a photo \xff\xd9",
}

# Python names a block uses for what the reader's program has at hand: a push their webhook
# endpoint received (a real one: the test publishes a raw, non-JSON body to a topic whose
# subscription pushes to the test's endpoint). CONTEXT is set by the test before the blocks run.
PYTHON_PRELUDE = """\
import base64 as _base64
import types as _types

signing_secret = CONTEXT["signing_secret"]
request_headers = CONTEXT["headers"]
request_body = _base64.b64decode(CONTEXT["body"])
request = _types.SimpleNamespace(headers=request_headers, body=request_body)
"""


def substitute(code: str, site: Site) -> str:
    for pattern, replacement in TEXT:
        if re.search(pattern, code) is None:
            continue  # a replacement may need what the site makes on first use (PostgreSQL)
        text = replacement if isinstance(replacement, str) else replacement(site)
        code = re.sub(pattern, text.replace("\\", r"\\"), code)  # the text, literally
    return code
