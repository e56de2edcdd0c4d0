"""The harness both model-based tests share: a store on a manual clock, driven from one loop."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hypothesis.stateful import RuleBasedStateMachine

from ems.core.clock import ManualClock
from ems.storage.base import Store


class StoreMachine(RuleBasedStateMachine):
    """Owns the event loop, the data directory, the clock and the store; subclasses open the
    store in their ``@initialize`` rule (it is None until then) and add the rules."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.directory = Path(tempfile.mkdtemp(prefix="ems-model-"))
        self.clock = ManualClock()
        self.store: Store | None = None

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    def teardown(self) -> None:
        if self.store is not None:
            self.run(self.store.close())
        self.loop.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    @property
    def now(self) -> int:
        return self.clock.now_ms()
