"""Run a scenario: set up, drive the load in this process or in --processes workers, clean up.

The load generator must not be what it measures: each worker times its own CPU
(``time.process_time``) against the wall clock, and the result says when a worker was busy for
~90% or more of one core, which makes every figure a lower bound for the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import sys
import time
from multiprocessing.sharedctypes import Synchronized
from typing import Any

from ems.bench.context import Context
from ems.bench.e2e import EndToEnd
from ems.bench.fanout import Fanout
from ems.bench.load import Receive, Send, SendBatch
from ems.bench.longpoll import LongPoll
from ems.bench.options import SINGLE_PROCESS, Counter, LocalCounter, Options
from ems.bench.progress import Progress
from ems.bench.scenario import Plan, Scenario
from ems.bench.stats import Tally, percentiles

CLEANING_UP = (
    "ems bench: interrupted; deleting what the run made (its subscriptions, topic and queues, "
    "so that the server stops pushing); interrupt again to leave them"
)
CPU_BOUND = 0.9
CPU_BOUND_NOTE = (
    "client was CPU-bound ({busy:.0%} of one core): figures are a lower bound; "
    "use more processes via --processes N, or wrk"
)


def scenario_for(name: str) -> Scenario:
    scenarios: dict[str, type[Scenario]] = {
        "send": Send,
        "send-batch": SendBatch,
        "receive": Receive,
        "e2e": EndToEnd,
        "fanout": Fanout,
        "longpoll": LongPoll,
    }
    return scenarios[name]()


try:
    import uvloop

    def _run_async(coroutine: Any) -> Any:
        return uvloop.run(coroutine)

except ImportError:  # pragma: no cover - Windows

    def _run_async(coroutine: Any) -> Any:
        return asyncio.run(coroutine)


async def _timed(scenario: Scenario, context: Context, plan: Plan) -> Tally:
    cpu, wall = time.process_time(), time.monotonic()
    await scenario.run(context, plan)
    context.tally.cpu_seconds = time.process_time() - cpu
    context.tally.wall_seconds = time.monotonic() - wall
    return context.tally


def _worker(
    options: Options, plan: Plan, counter: Counter, start: Any, results: Any
) -> None:  # pragma: no cover - runs in a child process
    scenario = scenario_for(options.scenario)
    context = Context(options, counter)
    start.wait()
    results.put(_run_async(_timed(scenario, context, plan)).as_dict())


def run(options: Options) -> dict[str, Any]:
    """Run the scenario the options name; the result as a JSON-ready dict."""
    if options.processes > 1 and options.scenario in SINGLE_PROCESS:
        raise ValueError(f"{options.scenario} runs in one process: drop --processes")
    scenario = scenario_for(options.scenario)
    if options.processes == 1:
        result: dict[str, Any] = _run_async(_in_process(scenario, options))
        return result
    return _in_processes(scenario, options)


def _cancel_on_signals() -> None:
    """Ctrl-C (SIGINT) and SIGTERM end a run through its cleanup, both through the loop's own
    signal handling. asyncio.Runner's SIGINT hook is a Python-level handler, and on a loaded
    machine it let runs go on for over a minute after Ctrl-C (tests/bench/test_fanout_bounds.py
    saw it under uvloop) while SIGTERM through the loop ended them at once. A second signal ends
    the process at once, without the cleanup, as a second Ctrl-C does elsewhere."""
    task = asyncio.current_task()
    if task is None:
        return

    def stop() -> None:
        if task.cancelling():
            os._exit(130)
        task.cancel()

    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows; not main thread
            loop.add_signal_handler(number, stop)


async def _in_process(scenario: Scenario, options: Options) -> dict[str, Any]:
    _cancel_on_signals()
    plan = await scenario.setup(options)
    try:
        counter = LocalCounter()
        context = Context(options, counter)
        with Progress(
            options.scenario, scenario.unit, lambda: counter.value, phase=lambda: context.phase
        ):
            tally = await _timed(scenario, context, {**plan, "worker": 0})
        busiest = tally.cpu_seconds / tally.wall_seconds if tally.wall_seconds else 0.0
        return summarize(scenario, options, plan, tally, [busiest])
    except asyncio.CancelledError:
        print(CLEANING_UP, file=sys.stderr)
        raise
    finally:
        await scenario.teardown(options, plan)


def _in_processes(scenario: Scenario, options: Options) -> dict[str, Any]:
    plan = _run_async(scenario.setup(options))
    try:
        spawn = multiprocessing.get_context("spawn")
        start = spawn.Event()
        results = spawn.Queue()
        counters: list[Synchronized[int]] = [
            spawn.Value("q", 0, lock=False) for _ in range(options.processes)
        ]
        workers = [
            spawn.Process(
                target=_worker,
                args=(options.for_worker(n), {**plan, "worker": n}, counters[n], start, results),
                daemon=True,
            )
            for n in range(options.processes)
        ]
        for worker in workers:
            worker.start()
        time.sleep(0.5)  # let them import before the clock starts
        tally = Tally()
        busy: list[float] = []
        with Progress(options.scenario, scenario.unit, lambda: sum(c.value for c in counters)):
            start.set()
            for _ in workers:
                part = Tally.from_dict(results.get())
                tally.merge(part)
                tally.cpu_seconds += part.cpu_seconds
                tally.wall_seconds = max(tally.wall_seconds, part.wall_seconds)
                busy.append(part.cpu_seconds / part.wall_seconds if part.wall_seconds else 0.0)
        for worker in workers:
            worker.join(10)
        return summarize(scenario, options, plan, tally, busy)
    finally:
        _run_async(scenario.teardown(options, plan))


def summarize(
    scenario: Scenario, options: Options, plan: Plan, tally: Tally, busy: list[float]
) -> dict[str, Any]:
    extra = scenario.report(options, plan, tally)
    seconds = tally.wall_seconds
    notes = list(tally.notes)
    cpu_bound = max(busy, default=0.0) >= CPU_BOUND
    if cpu_bound:
        notes.insert(0, CPU_BOUND_NOTE.format(busy=max(busy)))
    result: dict[str, Any] = {
        "scenario": options.scenario,
        "url": options.url,
        "options": options.as_dict(),
        "seconds": round(seconds, 3),
        "operations": tally.operations,
        "unit": scenario.unit,
        "requests": tally.requests,
        "throughput_per_s": round(tally.operations / seconds, 1) if seconds else 0.0,
        "requests_per_s": round(tally.requests / seconds, 1) if seconds else 0.0,
        "latency_ms": percentiles(tally.latencies_ms),
        "errors": sum(tally.errors.values()),
        "error_kinds": dict(tally.errors),
        "client_cpu": {
            "seconds": round(tally.cpu_seconds, 3),
            "busiest_process_fraction_of_core": round(max(busy, default=0.0), 3),
            "processes": options.processes,
            "cpu_bound": cpu_bound,
        },
    }
    for name, samples in tally.extra_latencies_ms.items():
        result[f"{name.replace('-', '_')}_latency_ms"] = percentiles(samples)
    result.update(extra)
    result["notes"] = notes
    return result
