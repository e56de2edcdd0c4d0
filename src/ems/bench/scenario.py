"""The shape every scenario has: set up (once), run (in each worker), clean up (once)."""

from __future__ import annotations

from typing import Any, Protocol

from ems.bench.context import Context
from ems.bench.options import Options
from ems.bench.stats import Tally

Plan = dict[str, Any]  # what setup made, handed to the workers (picklable)


class Scenario(Protocol):
    unit: str  # what one operation is: "msgs", "publishes", "wake-ups"

    async def setup(self, options: Options) -> Plan: ...

    async def run(self, context: Context, plan: Plan) -> None: ...

    async def teardown(self, options: Options, plan: Plan) -> None: ...

    def report(self, options: Options, plan: Plan, tally: Tally) -> dict[str, Any]:
        """Scenario-specific figures and notes for the summary."""
        ...
