"""The flags of ``ems serve``: one per setting (config.py), named after it."""

from __future__ import annotations

import argparse
from typing import Any


def add_serve_command(commands: Any) -> None:
    """Add ``serve`` to the ``ems`` command's subparsers."""
    serve = commands.add_parser(
        "serve",
        help="run the server",
        description="Run the EMS server. Every option can also be set by its EMS_* variable.",
    )
    serve.add_argument("--host", help="address to bind (EMS_HOST; default 127.0.0.1)")
    serve.add_argument("--port", help="TCP port (EMS_PORT; default 8080)")
    serve.add_argument(
        "--data-dir", help="where the SQLite database lives (EMS_DATA_DIR; default ./ems-data)"
    )
    serve.add_argument(
        "--database-url",
        metavar="URL",
        help="keep data in PostgreSQL (postgresql://host/db) instead of SQLite; nodes on one "
        "database serve the same queues (EMS_DATABASE_URL; put passwords in PGPASSWORD or "
        "~/.pgpass, not here: other users can see flags)",
    )
    serve.add_argument(
        "--database-schema", help="PostgreSQL schema for EMS's tables (EMS_DATABASE_SCHEMA; ems)"
    )
    serve.add_argument(
        "--database-pool-size",
        metavar="N",
        help="PostgreSQL connections per node (EMS_DATABASE_POOL_SIZE; default 10)",
    )
    serve.add_argument(
        "--database-timeout",
        metavar="SECONDS",
        help="how long a request waits on PostgreSQL before it is answered 503 "
        "(EMS_DATABASE_TIMEOUT; default 5)",
    )
    serve.add_argument(
        "--readiness-ignores-storage",
        action="store_true",
        default=None,
        help="/readyz answers 200 even while the database cannot be written: it then says only "
        "that the process serves (EMS_READINESS_IGNORES_STORAGE=1)",
    )
    serve.add_argument(
        "--sqlite-synchronous",
        choices=["FULL", "NORMAL", "OFF", "full", "normal", "off"],
        help="SQLite durability (EMS_SQLITE_SYNCHRONOUS; default FULL: every 2xx is fsync'd)",
    )
    serve.add_argument(
        "--webhook-allow-private",
        action="store_true",
        default=None,
        help="let webhooks reach loopback and private addresses (EMS_WEBHOOK_ALLOW_PRIVATE=1); "
        "for trusted networks and local testing",
    )
    serve.add_argument(
        "--webhook-allow-net",
        dest="webhook_allow_nets",
        action="append",
        metavar="CIDR",
        help="let webhooks reach this network even if private; repeatable "
        "(EMS_WEBHOOK_ALLOW_NETS, comma-separated)",
    )
    serve.add_argument(
        "--no-playground",
        dest="playground",
        action="store_false",
        default=None,
        help="do not serve the playground at / and the API reference at /ems/docs "
        "(EMS_PLAYGROUND=0); /ems/openapi.json stays",
    )
    serve.add_argument(
        "--webhook-skip-confirmation",
        action="store_true",
        default=None,
        help="webhook subscriptions start confirmed (EMS_WEBHOOK_SKIP_CONFIRMATION=1); "
        "trusted networks only",
    )
    serve.add_argument(
        "--public-url",
        help="the URL clients use to reach this server, for confirmation links (EMS_PUBLIC_URL)",
    )
    add_email_flags(serve)
    serve.add_argument(
        "--cors-origin",
        dest="cors_origins",
        action="append",
        metavar="ORIGIN",
        help="let web pages on this origin (https://app.example.com, or * for any) call the "
        "API; repeatable (EMS_CORS_ORIGINS, comma-separated). Default: none",
    )
    serve.add_argument(
        "--allow-cidr",
        dest="allow_cidrs",
        action="append",
        metavar="CIDR",
        help="accept clients from this network only; repeatable (EMS_ALLOW_CIDRS, "
        "comma-separated). Default: everyone the bind address reaches",
    )
    serve.add_argument(
        "--forwarded-allow-ips",
        action="append",
        metavar="CIDR",
        help="trust X-Forwarded-For from these proxies; repeatable (EMS_FORWARDED_ALLOW_IPS)",
    )
    serve.add_argument(
        "--rate-limit",
        metavar="N",
        help="requests per second per client address, 0 for none (EMS_RATE_LIMIT; default 0)",
    )
    serve.add_argument("--rate-burst", metavar="N", help="burst allowed (EMS_RATE_BURST; 100)")
    serve.add_argument(
        "--queue-max-messages",
        metavar="N",
        help="messages one queue may hold, by default and at most (EMS_QUEUE_MAX_MESSAGES)",
    )
    serve.add_argument(
        "--queue-max-bytes",
        metavar="N",
        help="bytes one queue may hold, by default and at most (EMS_QUEUE_MAX_BYTES)",
    )
    serve.add_argument(
        "--id-prefix",
        metavar="PREFIX",
        help="start every new id with PREFIX_, to route shards by id (EMS_ID_PREFIX)",
    )
    serve.add_argument(
        "--webhook-max-response-bytes",
        metavar="N",
        help="read at most N bytes of a webhook endpoint's answer; a longer header section "
        "fails the attempt (EMS_WEBHOOK_MAX_RESPONSE_BYTES; default 65536)",
    )
    add_limit_flags(serve)
    serve.add_argument(
        "--workers",
        metavar="N",
        help="processes serving the port, N or auto (one per core); with SQLite they share the "
        "data directory (EMS_WORKERS; default 1)",
    )
    serve.add_argument(
        "--drain-seconds",
        metavar="S",
        help="on SIGTERM, keep serving this long with /readyz answering 503 before stopping "
        "(EMS_DRAIN_SECONDS; default 5)",
    )
    serve.add_argument(
        "--disk-reserve-bytes",
        metavar="N",
        help="disk space kept beside the SQLite file and given up when the disk fills, so "
        "consumers can still drain; 0 for none (EMS_DISK_RESERVE_BYTES; default 16777216)",
    )
    serve.add_argument(
        "--no-quick-check",
        dest="quick_check",
        action="store_false",
        default=None,
        help="do not check the SQLite file's pages at start (EMS_QUICK_CHECK=0)",
    )
    serve.add_argument("--tls-cert", help="serve HTTPS with this certificate (EMS_TLS_CERT)")
    serve.add_argument("--tls-key", help="... and this private key (EMS_TLS_KEY)")
    serve.add_argument(
        "--access-log",
        action="store_true",
        default=None,
        help="log each request (route templates only: never an id) (EMS_ACCESS_LOG=1)",
    )
    serve.add_argument(
        "--metrics-labelled-queues",
        metavar="N",
        help="/metrics: series per queue for up to N labelled queues, at most 1000 "
        "(EMS_METRICS_LABELLED_QUEUES; default 0: none)",
    )
    serve.add_argument(
        "--log-format", choices=["text", "json"], help="(EMS_LOG_FORMAT; default text)"
    )
    serve.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="(EMS_LOG_LEVEL; default info)",
    )


def add_email_flags(serve: argparse.ArgumentParser) -> None:
    """Email subscriptions (docs/deploy.md, "Email")."""
    serve.add_argument(
        "--smtp-url",
        metavar="URL",
        help="send email subscriptions through this server: smtp://host:587 (STARTTLS) or "
        "smtps://host:465 (EMS_SMTP_URL; put user:password in the variable, not here: other "
        "users can see flags)",
    )
    serve.add_argument(
        "--smtp-from", metavar="ADDRESS", help="the From address of every mail (EMS_SMTP_FROM)"
    )
    serve.add_argument(
        "--smtp-ca-file",
        metavar="PEM",
        help="trust this CA for the SMTP server's certificate, besides the system's "
        "(EMS_SMTP_CA_FILE)",
    )
    serve.add_argument(
        "--smtp-allow-private",
        action="store_true",
        default=None,
        help="let the SMTP server be on a loopback or private address, such as a local relay "
        "(EMS_SMTP_ALLOW_PRIVATE=1)",
    )
    serve.add_argument(
        "--email-rate-limit",
        metavar="N",
        help="mails per minute to one address at most; more wait (EMS_EMAIL_RATE_LIMIT; "
        "default 10)",
    )


def add_limit_flags(serve: argparse.ArgumentParser) -> None:
    """What one client may make the server hold (docs/security.md, "Limits")."""
    serve.add_argument(
        "--max-connections",
        metavar="N",
        help="open client connections in all; past it, 503 (EMS_MAX_CONNECTIONS; default "
        "16384, lowered to what the open-file limit allows)",
    )
    serve.add_argument(
        "--max-connections-per-client",
        metavar="N",
        help="open connections from one client address, 0 for no cap; trusted proxies are "
        "exempt (EMS_MAX_CONNECTIONS_PER_CLIENT; default 1024)",
    )
    serve.add_argument(
        "--header-timeout",
        metavar="S",
        help="seconds a client has to send a request's headers (EMS_HEADER_TIMEOUT; default 10)",
    )
    serve.add_argument(
        "--body-timeout",
        metavar="S",
        help="seconds a request or response body may make no progress before the connection "
        "is closed (EMS_BODY_TIMEOUT; default 30)",
    )
    serve.add_argument(
        "--max-header-bytes",
        metavar="N",
        help="bytes of a request line and headers; past it, 431 (EMS_MAX_HEADER_BYTES; "
        "default 65536)",
    )
    serve.add_argument(
        "--max-streams-per-client",
        metavar="N",
        help="live streams open from one client address, 0 for no cap; past it, 429 "
        "(EMS_MAX_STREAMS_PER_CLIENT; default 100)",
    )
    serve.add_argument(
        "--max-streams-per-queue",
        metavar="N",
        help="live streams open on one queue or topic, 0 for no cap; past it, 429 "
        "(EMS_MAX_STREAMS_PER_QUEUE; default 1000)",
    )
    serve.add_argument(
        "--max-response-bytes",
        metavar="N",
        help="bytes of JSON in one peek answer before it stops and returns a next cursor "
        "(EMS_MAX_RESPONSE_BYTES; default 16777216)",
    )
