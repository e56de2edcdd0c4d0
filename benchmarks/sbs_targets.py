"""What the side-by-side benchmark runs against: processes it starts and services it borrows.

Each target is started on a free port in a temporary directory and stopped by ``stop()``:
the bare ASGI app and ``ems serve`` (SQLite or PostgreSQL) on uvicorn, a private nginx (its own
prefix and config, never the system one), and RabbitMQ's management API (the local broker;
the plugin is enabled if its port is not up, and the queues made here are deleted).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from base64 import b64encode
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SERVER_FLAGS = ["--loop", "uvloop", "--http", "httptools", "--no-access-log"]
RABBITMQ_API = "http://127.0.0.1:15672/api"
PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
BODY = '{"message_id":"00000000-0000-4000-8000-000000000000"}'


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def ensure_debian(*packages: str) -> None:
    """apt-get install whichever of these commands is missing (command name = package name)."""
    missing = [
        p for p in packages if shutil.which(p) is None and not Path(f"/usr/sbin/{p}").exists()
    ]
    if not missing:
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    print(f"installing {' '.join(missing)} ...", file=sys.stderr)
    install = [*sudo, "apt-get", "install", "-y", *missing]
    if subprocess.run(install, check=False, capture_output=True).returncode != 0:
        subprocess.run([*sudo, "apt-get", "update"], check=True, capture_output=True)
        subprocess.run(install, check=True, capture_output=True)


def wait_http(url: str, timeout: float = 30, headers: dict[str, str] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=2)
            return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up") from None
            time.sleep(0.1)


class Process:
    """A server process of ours, logging to a file."""

    def __init__(self, name: str, command: list[str], port: int, workdir: Path, **env: str) -> None:
        self.name = name
        self.command = command
        self.port = port
        self.log_path = workdir / f"{name}.log"
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            command, stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, **env}
        )
        self.env = env

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_mib(self) -> float:
        status = Path(f"/proc/{self.pid}/status").read_text()
        kib = re.search(r"VmRSS:\s+(\d+) kB", status)
        return round(int(kib.group(1)) / 1024, 1) if kib else 0.0

    def shown(self) -> str:
        env = " ".join(f"{k}={v}" for k, v in self.env.items())
        return (env + " " if env else "") + " ".join(self.command)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def bare_app(workdir: Path) -> Process:
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", "bare_app:app", "--app-dir", str(HERE),
        "--port", str(port), "--log-level", "warning", *SERVER_FLAGS,
    ]  # fmt: skip
    server = Process("bare", command, port, workdir)
    wait_http(server.url + "/")
    return server


def ems(workdir: Path, name: str, database_url: str | None = None) -> Process:
    port = free_port()
    command = [
        sys.executable, "-m", "ems", "serve", "--port", str(port),
        "--data-dir", str(workdir / f"{name}-data"), "--log-level", "info",
        "--webhook-allow-private",
        # the load comes from one address (10,000 long polls among it), and a stop between
        # scenarios needs no drain for a balancer
        "--max-connections-per-client", "0", "--drain-seconds", "0",
    ]  # fmt: skip
    env = {"EMS_DATABASE_URL": database_url} if database_url else {}
    server = Process(name, command, port, workdir, **env)
    wait_http(server.url + "/healthz")
    return server


NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        default_type application/json;
        location / {{ return 201 '{body}'; }}
    }}
}}
"""


def nginx(workdir: Path) -> Process:
    """A private nginx with one worker (like one EMS process) answering a constant."""
    ensure_debian("nginx")
    prefix = workdir / "nginx"
    prefix.mkdir()
    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_CONF.format(prefix=prefix, port=port, body=BODY))
    server = Process("nginx", ["nginx", "-p", str(prefix), "-c", str(conf)], port, workdir)
    wait_http(server.url + "/")
    return server


class PostgresDatabase:
    """A throwaway database ems_bench_<pid> on the local server, dropped by ``drop()``."""

    def __init__(self) -> None:
        self.name = f"ems_bench_{os.getpid()}"
        self.psql("CREATE DATABASE " + self.name)
        self.url = f"{PG_SERVER}/{self.name}"

    @staticmethod
    def psql(sql: str) -> str:
        return subprocess.run(
            ["psql", PG_SERVER + "/postgres", "-Atc", sql],
            check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip

    def version(self) -> str:
        return self.psql("SHOW server_version")

    def drop(self) -> None:
        self.psql(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


class RabbitMq:
    """RabbitMQ's HTTP management API on the local broker, with durable quorum queues."""

    AUTH = "Basic " + b64encode(b"guest:guest").decode()

    def __init__(self) -> None:
        self.queues: list[str] = []
        try:
            self.call("GET", "/overview")
        except OSError:
            print("enabling rabbitmq_management ...", file=sys.stderr)
            subprocess.run(
                ["rabbitmq-plugins", "enable", "rabbitmq_management"],
                check=True,
                capture_output=True,
            )
            wait_http(RABBITMQ_API + "/overview", 60, {"Authorization": self.AUTH})

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            RABBITMQ_API + path,
            data=data,
            method=method,
            headers={"Authorization": self.AUTH, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            text = answer.read()
        return json.loads(text) if text else None

    def version(self) -> dict[str, str]:
        overview = self.call("GET", "/overview")
        return {"rabbitmq": overview["rabbitmq_version"], "erlang": overview["erlang_version"]}

    def quorum_queue(self) -> str:
        name = f"ems-bench-{os.getpid()}-{len(self.queues)}"
        self.call(
            "PUT", f"/queues/%2F/{name}", {"durable": True, "arguments": {"x-queue-type": "quorum"}}
        )
        self.queues.append(name)
        return name

    def depth(self, name: str) -> int:
        return int(self.call("GET", f"/queues/%2F/{name}").get("messages", 0))

    def publish_url(self) -> str:
        return RABBITMQ_API + "/exchanges/%2F/amq.default/publish"

    def get_url(self, name: str) -> str:
        return RABBITMQ_API + f"/queues/%2F/{name}/get"

    def delete_queues(self) -> None:
        for name in self.queues:
            try:
                self.call("DELETE", f"/queues/%2F/{name}")
            except OSError as error:
                print(f"could not delete RabbitMQ queue {name}: {error}", file=sys.stderr)
        self.queues.clear()
