"""The store's housekeeping loop: expired messages, due deliveries and old records swept about
once a second, at once again while a sweep reports more to do."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final

from ems.core.errors import StorageUnavailable
from ems.storage.base import Store

log = logging.getLogger("ems.queues")

HOUSEKEEPING_INTERVAL: Final = 1.0


class Housekeeping:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._task: asyncio.Task[None] | None = None

    def start(self, interval: float = HOUSEKEEPING_INTERVAL) -> None:
        self._task = asyncio.get_running_loop().create_task(
            self._run(interval), name="ems-housekeeping"
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self, interval: float) -> None:
        while True:
            try:
                report = await self.store.sweep()
            except StorageUnavailable:
                # an outage the store reported is logged once, by the store: not every second
                level = logging.DEBUG if self.store.health.outage else logging.WARNING
                log.log(level, "housekeeping sweep: storage unavailable; retrying")
                report = None
            except Exception:
                log.exception("housekeeping sweep failed; retrying")
                report = None
            await asyncio.sleep(0 if report is not None and report.more else interval)
