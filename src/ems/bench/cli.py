"""``ems bench``: load and latency scenarios against any EMS server."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from ems.bench.api import SetupError
from ems.bench.context import TRANSPORT_ERRORS
from ems.bench.options import SCENARIOS, SINGLE_PROCESS, Options

EXAMPLES = """\
scenarios:
  send        one message per request, closed loop
  send-batch  --batch messages per request (default 100)
  receive     receive + delete from a prefilled queue; --batch N receives N, one batch delete
  e2e         producers at --rate msgs/s (default 1000), open loop; long-polling consumers;
              latency from the intended send time to the consumer
  fanout      publish to a topic with --queues queue and --webhooks webhook subscribers
              (the webhooks are served by the bench on loopback: the server needs
              --webhook-allow-private)
  longpoll    hold --polls idle long polls, wake one at a time; latency send -> woken

examples:
  ems bench send --duration 10 --connections 64
  ems bench send-batch --batch 100 --processes 2
  ems bench receive --batch 10 --count 100000
  ems bench e2e --rate 1000 --duration 30 --json
  ems bench longpoll --polls 10000 --count 500
"""


def add_command(commands: Any) -> None:
    bench = commands.add_parser(
        "bench",
        help="measure a server: throughput and latency",
        description="Generate load against an EMS server and report throughput, latency "
        "percentiles and errors. Speaks plain HTTP/1.1 with keep-alive on its own connections.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bench.add_argument("scenario", choices=SCENARIOS)
    bench.add_argument("--url", default="http://127.0.0.1:8080", help="(default %(default)s)")
    bench.add_argument(
        "--connections",
        type=int,
        default=64,
        help="connections per process; e2e: producers (default %(default)s)",
    )
    bench.add_argument("--size", type=int, default=256, help="message bytes (default 256)")
    run_for = bench.add_mutually_exclusive_group()
    run_for.add_argument("--duration", type=float, default=10.0, help="seconds (default 10)")
    run_for.add_argument("--count", type=int, help="operations in all, instead of --duration")
    bench.add_argument(
        "--rate", type=float, help="e2e: msgs/s in all (default 1000); fanout: publishes/s"
    )
    bench.add_argument("--batch", type=int, help="messages per request (send-batch 100, else 1)")
    bench.add_argument(
        "--processes",
        type=int,
        default=1,
        help="client processes, each with --connections (not for "
        + " or ".join(SINGLE_PROCESS)
        + "); default 1",
    )
    bench.add_argument("--consumers", type=int, default=8, help="e2e: consumers per process")
    bench.add_argument("--queues", type=int, default=10, help="fanout: queue subscribers")
    bench.add_argument("--webhooks", type=int, default=10, help="fanout: webhook subscribers")
    bench.add_argument(
        "--drain",
        type=float,
        default=10.0,
        help="fanout: seconds to wait after the last publish for pushes still on their way "
        "(default %(default)s)",
    )
    bench.add_argument("--polls", type=int, default=1000, help="longpoll: idle long polls")
    bench.add_argument("--prefill", type=int, help="receive: messages to fill the queue with")
    bench.add_argument("--json", action="store_true", help="print the result as JSON")


def options_from(args: argparse.Namespace) -> Options:
    batch = args.batch if args.batch is not None else (100 if args.scenario == "send-batch" else 1)
    options = Options(
        scenario=args.scenario,
        url=args.url,
        connections=args.connections,
        size=args.size,
        duration=args.duration,
        count=args.count,
        rate=args.rate,
        batch=batch,
        processes=args.processes,
        consumers=args.consumers,
        queues=args.queues,
        webhooks=args.webhooks,
        drain=args.drain,
        polls=args.polls,
        prefill=args.prefill,
    )
    problems = [
        f"--{name} must be at least {least}"
        for name, value, least in (
            ("connections", options.connections, 1),
            ("size", options.size, 1),
            ("batch", options.batch, 1),
            ("processes", options.processes, 1),
            ("consumers", options.consumers, 1),
            ("polls", options.polls, 1),
            ("queues", options.queues, 0),
            ("webhooks", options.webhooks, 0),
        )
        if value < least
    ]
    if options.scenario == "receive" and options.batch > 100:
        problems.append("--batch: a receive returns at most 100 messages")
    if options.scenario == "send-batch" and options.batch > 1000:
        problems.append("--batch: a batch send takes at most 1000 messages")
    if options.scenario == "e2e" and options.size < 32:
        problems.append("--size: e2e needs at least 32 bytes (the body carries a timestamp)")
    if (options.count is not None and options.count < 1) or options.duration <= 0:
        problems.append("--count and --duration must be positive")
    if options.drain < 0:
        problems.append("--drain must not be negative")
    if options.rate is not None and options.rate <= 0:
        problems.append("--rate must be positive")
    if options.processes > 1 and options.scenario in SINGLE_PROCESS:
        problems.append(f"{options.scenario} runs in one process: drop --processes")
    if problems:
        raise ValueError("; ".join(problems))
    options.target  # noqa: B018 - validates the URL
    return options


def run(args: argparse.Namespace) -> int:
    from ems.bench import report, runner  # noqa: PLC0415 - only `ems bench` needs them

    try:
        options = options_from(args)
    except ValueError as error:
        print(f"ems bench: {error}", file=sys.stderr)
        return 2
    try:
        result = runner.run(options)
    except (SetupError, *TRANSPORT_ERRORS) as error:
        print(f"ems bench: {options.url}: {error}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, asyncio.CancelledError):  # Ctrl-C, or SIGTERM: cleaned up
        return 130
    print(json.dumps(result) if args.json else report.table(result))
    return 1 if result["errors"] else 0
