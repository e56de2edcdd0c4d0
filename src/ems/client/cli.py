"""The client half of the ``ems`` command: queues, messages, topics and crypto from a shell.

Output is for people by default (bodies as text, one per line; ids in aligned columns) and for
programs with ``--json`` (one JSON document per line). Errors are one line on stderr and exit 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from typing import IO, Any

from ems.client import crypto
from ems.client.errors import APIError, ClientError
from ems.client.models import Message, OutgoingMessage
from ems.client.sync import Client

BATCH = 500
CLIENT_COMMANDS = frozenset({"queue", "send", "receive", "topic", "crypto"})


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", help="the EMS server (EMS_URL; default http://127.0.0.1:8080)")
    common.add_argument("--json", action="store_true", help="print JSON, one document per line")

    queue = commands.add_parser("queue", help="create, inspect, purge or delete a queue")
    queue_commands = queue.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = queue_commands.add_parser("create", parents=[common], help="create a queue")
    create.add_argument(
        "--attribute",
        "-a",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a queue attribute, such as visibility_timeout=60 (repeatable)",
    )
    for action, text in (("info", "attributes and counts"), ("purge", "delete every message"),
                         ("delete", "delete the queue")):  # fmt: skip
        queue_commands.add_parser(action, parents=[common], help=text).add_argument("queue")
    redrive = queue_commands.add_parser(
        "redrive",
        parents=[common],
        help="move a dead-letter queue's messages back to where they came from (or --to a queue)",
    )
    redrive.add_argument("queue", help="the dead-letter queue's queue_id")
    redrive.add_argument("--to", metavar="QUEUE_ID", help="move every message to this queue")
    redrive.add_argument("--rate", type=int, metavar="N", help="at most N messages a second")
    redrive.add_argument("--wait", action="store_true", help="wait until the redrive ends")
    shown = redrive.add_mutually_exclusive_group()
    shown.add_argument("--status", action="store_true", help="show the latest redrive")
    shown.add_argument("--cancel", action="store_true", help="stop the running redrive")

    send = commands.add_parser("send", parents=[common], help="send messages to a queue")
    send.add_argument("queue")
    send.add_argument("body", nargs="?", help="the message; without it, standard input")
    send.add_argument("--file", "-f", help="send each line of this file ('-': stdin) as a message")
    send.add_argument("--correlation-id")
    send.add_argument("--delay", type=int, metavar="SECONDS")
    send.add_argument("--attribute", "-a", action="append", default=[], metavar="NAME=VALUE")

    receive = commands.add_parser("receive", parents=[common], help="receive messages")
    receive.add_argument("queue")
    receive.add_argument("--wait", type=int, default=0, metavar="S", help="long poll, 0 to 20 s")
    receive.add_argument("--max", type=int, default=1, metavar="N", help="1 to 100 messages")
    receive.add_argument("--visibility-timeout", type=int, metavar="S")
    receive.add_argument("--correlation-id")
    receive.add_argument("--delete", action="store_true", help="delete what was printed")
    receive.add_argument("--follow", action="store_true", help="keep receiving until Ctrl-C")

    _add_topic_commands(commands, common)

    crypto_parser = commands.add_parser("crypto", help="keys, and encryption on this machine")
    crypto_commands = crypto_parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    crypto_commands.add_parser("key", parents=[common], help="print a new Fernet key")
    for action in ("encrypt", "decrypt"):
        sub = crypto_commands.add_parser(
            action, parents=[common], help=f"{action} standard input to standard output"
        )
        sub.add_argument("--key", help="the Fernet key (or EMS_CRYPTO_KEY, kept out of `ps`)")


def _add_topic_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    topic = commands.add_parser("topic", help="create, subscribe to, publish to, inspect a topic")
    topic_commands = topic.add_subparsers(dest="action", metavar="ACTION", required=True)
    topic_commands.add_parser("create", parents=[common], help="create a topic")
    topic_commands.add_parser("info", parents=[common], help="attributes").add_argument("topic")
    subscribe = topic_commands.add_parser("subscribe", parents=[common], help="add a subscriber")
    subscribe.add_argument("topic")
    target = subscribe.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--queue", metavar="SEND_ID", help="the send_id (or queue_id) of a queue to fan out to"
    )
    target.add_argument("--webhook", metavar="URL", help="a webhook URL to push to")
    target.add_argument(
        "--email", metavar="ADDRESS", help="an email address to mail (it confirms by a link first)"
    )
    publish = topic_commands.add_parser("publish", parents=[common], help="publish a message")
    publish.add_argument("topic")
    publish.add_argument("body", nargs="?", help="the message; without it, standard input")
    publish.add_argument("--correlation-id")
    publish.add_argument("--attribute", "-a", action="append", default=[], metavar="NAME=VALUE")


class Failure(Exception):
    """A usage problem found after parsing: printed as one line, exit 2."""


def run(args: argparse.Namespace) -> int:
    try:
        if args.command == "crypto":
            return _crypto(args)
        with Client(args.url) as client:
            handler = {"queue": _queue, "send": _send, "receive": _receive, "topic": _topic}
            return handler[args.command](client, args)
    except Failure as error:
        print(f"ems: {error}", file=sys.stderr)
        return 2
    except APIError as error:
        print(f"ems: {error.title or error.status}: {error.detail}", file=sys.stderr)
        return 1
    except ClientError as error:
        print(f"ems: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _attributes(pairs: list[str]) -> dict[str, str]:
    result = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise Failure(f"attribute {pair!r}: use NAME=VALUE")
        result[name] = value
    return result


def _typed(pairs: list[str]) -> dict[str, Any]:
    """Queue attributes: values are JSON (numbers, objects) or else plain strings."""
    result: dict[str, Any] = {}
    for name, value in _attributes(pairs).items():
        try:
            result[name] = json.loads(value)
        except ValueError:
            result[name] = value
    return result


def _emit(args: argparse.Namespace, data: dict[str, Any], fields: list[str] | None = None) -> None:
    if args.json:
        print(json.dumps(data))
        return
    keys = fields or list(data)
    width = max(len(k) for k in keys)
    for key in keys:
        value = data.get(key)
        shown = json.dumps(value) if isinstance(value, dict | list) or value is None else value
        print(f"{key:<{width}}  {shown}")


def _body(value: str | None) -> bytes:
    return value.encode() if value is not None else sys.stdin.buffer.read()


def _queue(client: Client, args: argparse.Namespace) -> int:
    if args.action == "create":
        queue = client.create_queue(**_typed(args.attribute))
        _emit(args, queue.raw, ["queue_id", "send_id", "receive_id"] if not args.json else None)
    elif args.action == "info":
        _emit(args, client.get_queue(args.queue).raw)
    elif args.action == "purge":
        client.purge_queue(args.queue)
    elif args.action == "redrive":
        return _redrive(client, args)
    else:
        client.delete_queue(args.queue)
    return 0


def _redrive(client: Client, args: argparse.Namespace) -> int:
    if args.status:
        task = client.get_redrive(args.queue)
    elif args.cancel:
        task = client.cancel_redrive(args.queue)
    else:
        task = client.start_redrive(
            args.queue, destination_queue_id=args.to, max_messages_per_second=args.rate
        )
    while args.wait and task.active:
        time.sleep(0.5)
        task = client.get_redrive(args.queue)
    _emit(args, task.raw)
    return 0 if task.status != "FAILED" else 1


def _lines(path: str) -> tuple[IO[bytes], int | None]:
    if path == "-":
        return sys.stdin.buffer, None
    try:
        with open(path, "rb") as counting:
            total = sum(1 for _ in counting)
        return open(path, "rb"), total
    except OSError as error:
        raise Failure(f"{path}: {error.strerror}") from None


def _send(client: Client, args: argparse.Namespace) -> int:
    attributes = _attributes(args.attribute)
    if args.file is None:
        message_id = client.send(
            args.queue,
            _body(args.body),
            correlation_id=args.correlation_id,
            delay_seconds=args.delay,
            attributes=attributes,
        )
        _emit(args, {"message_id": message_id})
        return 0
    if args.body is not None:
        raise Failure("give a BODY or --file, not both")
    source, total = _lines(args.file)
    progress = Progress(total)
    try:
        for batch in _batches(source):
            entries = [
                OutgoingMessage(line, args.correlation_id, args.delay, attributes or None)
                for line in batch
            ]
            client.send_batch(args.queue, entries)
            progress.advance(len(entries))
    finally:
        if source is not sys.stdin.buffer:
            source.close()
        progress.done()
    if args.json:
        print(json.dumps({"sent": progress.count}))
    return 0


def _batches(source: IO[bytes]) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for line in source:
        batch.append(line.rstrip(b"\r\n"))
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _print_message(args: argparse.Namespace, message: Message) -> None:
    if args.json:
        print(json.dumps(message.raw), flush=True)
    else:
        sys.stdout.buffer.write(message.body + b"\n")
        sys.stdout.flush()


def _receive(client: Client, args: argparse.Namespace) -> int:
    while True:
        messages = client.receive(
            args.queue,
            max_messages=args.max,
            wait_seconds=args.wait if not args.follow else max(args.wait, 20),
            visibility_timeout=args.visibility_timeout,
            correlation_id=args.correlation_id,
        )
        for message in messages:
            _print_message(args, message)
        if args.delete and messages:
            client.delete_batch(args.queue, [m.receipt_handle for m in messages])
        if not args.follow:
            return 0


def _topic(client: Client, args: argparse.Namespace) -> int:
    if args.action == "create":
        _emit(args, client.create_topic().raw, ["topic_id", "public_id"] if not args.json else None)
    elif args.action == "info":
        _emit(args, client.get_topic(args.topic))
    elif args.action == "subscribe":
        if args.queue:
            subscription = client.subscribe_queue(args.topic, args.queue)
        elif args.email:
            subscription = client.subscribe_email(args.topic, args.email)
        else:
            subscription = client.subscribe_url(args.topic, args.webhook)
        _emit(args, subscription.raw)
    else:
        published = client.publish(
            args.topic,
            _body(args.body),
            correlation_id=args.correlation_id,
            attributes=_attributes(args.attribute),
        )
        _emit(args, {"message_id": published.message_id, "queues": published.queues,
                     "webhooks": published.webhooks, "emails": published.emails,
                     "skipped": published.skipped})  # fmt: skip
    return 0


def _crypto(args: argparse.Namespace) -> int:
    if args.action == "key":
        new_key = crypto.random_key()
        print(json.dumps({"key": new_key}) if args.json else new_key)
        return 0
    key: str | None = args.key or os.environ.get("EMS_CRYPTO_KEY")
    if not key:
        raise Failure("give the key with --key or EMS_CRYPTO_KEY")
    data = sys.stdin.buffer.read()
    if args.action == "encrypt":
        sys.stdout.write(crypto.encrypt(key, data) + "\n")
    else:
        sys.stdout.buffer.write(crypto.decrypt(key, data.strip()))
    sys.stdout.flush()
    return 0


class Progress:
    """A progress line on stderr while a file is sent (only when stderr is a terminal)."""

    def __init__(self, total: int | None) -> None:
        self.total = total
        self.count = 0
        self.started = time.monotonic()
        self.shown = sys.stderr.isatty()

    def advance(self, n: int) -> None:
        self.count += n
        if self.shown:
            sys.stderr.write("\r" + self._line())
            sys.stderr.flush()

    def _line(self) -> str:
        rate = self.count / max(time.monotonic() - self.started, 1e-6)
        if self.total:
            filled = int(30 * self.count / self.total)
            bar = "#" * filled + "-" * (30 - filled)
            return f"[{bar}] {self.count:,}/{self.total:,} messages, {rate:,.0f}/s"
        return f"{self.count:,} messages, {rate:,.0f}/s"

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\r" + self._line() + "\n")
        else:
            print(f"sent {self.count:,} messages", file=sys.stderr)
