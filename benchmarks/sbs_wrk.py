"""wrk, run and read: requests/s, latency percentiles, errors, and the counters our Lua scripts
print in ``done()`` (``deleted N``, ``got N``, ``empty N``, ``unrouted N``)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

WRK_DIR = Path(__file__).resolve().parent / "wrk"
THREADS = 2


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return round(float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60_000}[unit], 3)


def run(
    url: str, script: str | None, duration: float, connections: int, **env: str
) -> dict[str, Any]:
    command = ["wrk", f"-t{THREADS}", f"-c{connections}", f"-d{int(duration)}s", "--latency"]
    if script is not None:
        command += ["-s", str(WRK_DIR / script)]
    command.append(url)
    shown = " ".join([*(f"{k}={v}" for k, v in env.items()), *map(shlex.quote, command)])
    shown = shown.replace(str(WRK_DIR.parent.parent) + "/", "")
    output = subprocess.run(
        command, capture_output=True, text=True, check=True, env={**os.environ, **env}
    ).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    requests = re.search(r"(\d+) requests in ([\d.]+)(\w+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    latency = {
        f"p{p}": _ms(v)
        for p, v in re.findall(r"^\s+(50|90|99)%\s+([\d.]+\w+)", output, re.MULTILINE)
    }
    counters = {
        k: int(v)
        for k, v in re.findall(r"^(deleted|got|empty|unrouted) (\d+)$", output, re.MULTILINE)
    }
    seconds = float(duration)
    if requests:
        seconds = _ms(requests.group(2) + requests.group(3)) / 1000
    return {
        "command": shown,
        "requests_per_second": float(rps.group(1)) if rps else 0.0,
        "requests": int(requests.group(1)) if requests else 0,
        "seconds": seconds,
        "latency_ms": latency,
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": sum(int(g) for g in errors.groups()) if errors else 0,
        **counters,
    }
