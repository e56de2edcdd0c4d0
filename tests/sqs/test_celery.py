"""A Celery app on its SQS transport (kombu, unchanged) runs its tasks through EMS.

Producer and worker run as their own processes, as they would in production: what is tested is
the wire between kombu and EMS, not Celery inside pytest.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from mypy_boto3_sqs import SQSClient
from mypy_boto3_sqs.literals import QueueAttributeFilterType

from tests.e2e.server import EmsServer

APP = """
import os
from pathlib import Path

from celery import Celery

app = Celery("tasks", broker="sqs://celery:celery@127.0.0.1:" + os.environ["EMS_PORT"])
app.conf.broker_transport_options = {
    "region": "us-east-1", "is_secure": False, "polling_interval": 0.2, "wait_time_seconds": 1,
}
app.conf.task_default_queue = "celery-on-ems"


@app.task
def add(x, y):
    Path(os.environ["RESULTS"], f"{x}+{y}").write_text(str(x + y))
"""


def test_celery_tasks_are_sent_received_and_acknowledged(
    server: EmsServer, sqs: SQSClient, tmp_path: Path
) -> None:
    (tmp_path / "tasks.py").write_text(APP)
    results = tmp_path / "results"
    results.mkdir()
    env = {**os.environ, "EMS_PORT": str(server.port), "RESULTS": str(results)}
    send = "from tasks import add\nfor i in range(5):\n    add.delay(i, 10)\n"
    subprocess.run(
        [sys.executable, "-c", send], cwd=tmp_path, env=env, check=True, timeout=60,
        capture_output=True,
    )  # fmt: skip
    celery = str(Path(sys.executable).with_name("celery"))
    worker = subprocess.Popen(
        [celery, "-A", "tasks", "worker", "--pool=solo", "--loglevel=info"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while len(list(results.iterdir())) < 5 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert sorted(p.name for p in results.iterdir()) == [f"{i}+10" for i in range(5)]
        assert (results / "4+10").read_text() == "14"
        # each task was deleted from its queue once it ran: nothing waits, nothing in flight
        url = sqs.get_queue_url(QueueName="celery-on-ems")["QueueUrl"]
        names: list[QueueAttributeFilterType] = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
        ]
        counts: Any = {}
        while time.monotonic() < deadline:
            counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
            if counts == dict.fromkeys(names, "0"):
                break
            time.sleep(0.2)
        assert counts == dict.fromkeys(names, "0")
    finally:
        worker.terminate()
        worker.wait(timeout=30)
