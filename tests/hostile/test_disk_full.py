"""A full disk, for real: ``ems serve`` keeps its data on a 48 MiB tmpfs of its own (a private
mount namespace), and producers fill it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import EmsServer
from tests.hostile.limits_support import wait_until

pytestmark = pytest.mark.e2e

MIB = 1 << 20


class ServerOnSmallDisk(EmsServer):
    """``ems serve`` whose data directory is a tmpfs of ``size_mib``, seen by it alone."""

    def __init__(self, data_dir: Path, size_mib: int, env: dict[str, str]) -> None:
        super().__init__(data_dir, env=env)
        self.size_mib = size_mib

    def start(self, *args: str, use_flags: bool = True) -> EmsServer:
        assert shutil.which("unshare"), "unshare (util-linux) gives the server its own disk"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        serve = [sys.executable, "-m", "ems", "serve", "--port", str(self.port)]
        script = (
            f"mount -t tmpfs -o size={self.size_mib}m tmpfs {self.data_dir} && exec "
            + " ".join([*serve, "--data-dir", str(self.data_dir), *args])
        )
        self.log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            ["unshare", "--mount", "sh", "-c", script],
            env={**os.environ, **self.env},
            stdout=self.log,
            stderr=self.log,
        )
        self.wait_healthy()
        return self


def test_a_full_disk_refuses_sends_lets_consumers_drain_and_recovers(tmp_path: Path) -> None:
    server = ServerOnSmallDisk(
        tmp_path / "data", 48, env={"EMS_DISK_RESERVE_BYTES": str(16 * MIB)}
    ).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            queue_id = http.post("/ems/queue", json={"max_message_bytes": MIB}).json()["queue_id"]
            acknowledged = []
            refusal = None
            for i in range(60):
                body = f"{i:04d}".encode() + b"d" * (MIB - 4)
                sent = http.post(f"/ems/queue/{queue_id}/message", content=body)
                if sent.status_code != 201:
                    refusal = sent
                    break
                acknowledged.append(sent.json()["message_id"])
            assert refusal is not None, "48 MiB cannot hold 60 MiB"
            assert len(acknowledged) > 10
            assert refusal.status_code == 507
            assert refusal.json()["type"] == "/ems/problems/storage-full"
            ready = http.get("/readyz")
            assert (ready.status_code, ready.json()) == (
                503,
                {"ready": False, "storage": "disk-full"},
            )
            # producers are refused at once while it lasts
            assert http.post(f"/ems/queue/{queue_id}/message", content=b"x").status_code == 507

            # consumers drain: every acknowledged message is there, and deletes work
            drained = []
            for _ in range(len(acknowledged) + 5):
                got = http.get(f"/ems/queue/{queue_id}/message?max_messages=10")
                assert got.status_code == 200, got.text
                messages = got.json()["messages"]
                if not messages:
                    break
                for message in messages:
                    drained.append(message["message_id"])
                    handle = message["receipt_handle"]
                    assert http.delete(f"/ems/queue/{queue_id}/message/{handle}").status_code == 204
            assert sorted(drained) == sorted(acknowledged), "acked means kept, and receivable"

            # the room that deletes freed is found, and sends resume
            wait_until(lambda: http.get("/readyz").status_code == 200, 10, "ready again")
            assert http.post(f"/ems/queue/{queue_id}/message", content=b"again").status_code == 201
    finally:
        server.stop()
    log = server.output()
    assert log.count("storage unavailable (disk-full)") == 1
    assert "released the 16 MiB disk space reserve" in log
    assert "storage available again" in log
    assert "Traceback" not in log
