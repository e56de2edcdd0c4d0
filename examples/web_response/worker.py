"""The worker of the web_response recipe (see app.py): takes jobs and replies with results.

An ``ems.Worker`` receives each job, runs the slow part, sends the return value to the job's
``reply-to`` queue with the job's correlation id, and only then deletes the job. Killed mid-job,
it deletes nothing: the job comes back after the jobs queue's visibility timeout and another
worker does it. It prints one line as each job starts and ends.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time

from ems import Client, Message, TransportError, Worker


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", default=os.environ.get("EMS_URL", "http://127.0.0.1:8080"))
    parser.add_argument("--queue", required=True, help="the jobs queue's receive_id")
    parser.add_argument("--seconds", type=float, default=2.0, help="what the slow part costs")
    args = parser.parse_args(argv)

    def make_thumbnail(message: Message) -> str:
        print(f"started {message.correlation_id}", flush=True)
        time.sleep(args.seconds)
        print(f"finished {message.correlation_id}", flush=True)
        return f"thumbnail of {message.text}"

    try:
        with Client(args.url) as client:
            # the lease matches the jobs queue's 3 s: a dead worker's job comes back quickly
            worker = Worker(
                client, args.queue, make_thumbnail, wait_seconds=1, visibility_timeout=3
            )
            signal.signal(signal.SIGTERM, lambda *_: worker.stop())
            worker.run()
    except TransportError as error:
        print(f"cannot reach EMS at {args.url} ({error}): start it with `ems serve`")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
