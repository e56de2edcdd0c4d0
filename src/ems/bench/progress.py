"""Live progress on stderr: a refreshing line on a terminal, else a line every few seconds."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO


class Progress:
    def __init__(
        self,
        label: str,
        unit: str,
        read: Callable[[], int],
        stream: TextIO | None = None,
        *,
        interval: float | None = None,
        phase: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.label = label
        self.unit = unit
        self.read = read
        self.phase = phase
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.interval = interval or (0.5 if self.tty else 5.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ems-bench-progress", daemon=True)
        self._started = 0.0

    def __enter__(self) -> Progress:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        if self.tty:
            self.stream.write("\r\033[K")
            self.stream.flush()

    def _run(self) -> None:
        last_count, last_time = 0, self._started
        while not self._stop.wait(self.interval):
            now, count = time.monotonic(), self.read()
            rate = (count - last_count) / (now - last_time)
            line = f"{self.label}: {now - self._started:6.1f} s  "
            # a phase that is not about operations (waiting for pushes, say) shows what it
            # waits for, rather than a rate that falls to 0/s and reads like a stall
            phase = self.phase()
            if phase is not None:
                line += phase
            else:
                line += f"{count:>10,} {self.unit}  {rate:>10,.0f} {self.unit}/s"
            if self.tty:
                self.stream.write("\r\033[K" + line)
            else:
                self.stream.write(line + "\n")
            self.stream.flush()
            last_count, last_time = count, now
