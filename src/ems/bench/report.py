"""The summary table a person reads after a run (``--json`` prints the result dict instead)."""

from __future__ import annotations

from typing import Any

LATENCY_NAMES = {
    "latency_ms": "latency",
    "send_ack_latency_ms": "send ack",
    "push_latency_ms": "push",
    "after_ack_latency_ms": "after ack",
}
LATENCY_MEANING = {
    "send": "per request",
    "send-batch": "per request",
    "receive": "recv + delete",
    "e2e": "send -> received",
    "fanout": "publish",
    "longpoll": "send -> woken",
}


def table(result: dict[str, Any]) -> str:
    options = result["options"]
    unit = result["unit"]
    how = (
        f"{options['count']:,} {unit}" if options["count"] is not None else f"{result['seconds']} s"
    )
    load = (
        f"{options['polls']:,} idle long polls"
        if result["scenario"] == "longpoll"
        else f"{options['connections']} connections, {options['size']} B"
    )
    lines = [
        f"ems bench {result['scenario']} against {result['url']}: {how}, {load}, "
        f"{options['processes']} process(es)",
        "",
        f"  {'throughput':<28}{result['throughput_per_s']:>12,.1f} {unit}/s   "
        f"({result['requests_per_s']:,.1f} requests/s, {result['operations']:,} {unit})",
    ]
    for key, name in LATENCY_NAMES.items():
        if key not in result:
            continue
        latency = result[key]
        label = name if key != "latency_ms" else f"latency ({LATENCY_MEANING[result['scenario']]})"
        lines.append(
            f"  {label:<28}"
            + "  ".join(f"{p} {latency[p]:,.2f}" for p in ("p50", "p90", "p99", "max"))
            + " ms"
        )
    for key in (
        "sent_per_s",
        "pushes",
        "pushes_not_arrived",
        "pushes_per_s",
        "queue_messages_written",
        "prefill",
        "queues_created_per_s",
    ):
        if key in result:
            lines.append(f"  {key.replace('_', ' '):<28}{result[key]:>12,}")
    errors = result["errors"]
    kinds = ", ".join(f"{kind}: {n}" for kind, n in result["error_kinds"].items())
    lines.append(f"  {'errors':<28}{errors:>12,}" + (f"   ({kinds})" if kinds else ""))
    cpu = result["client_cpu"]
    lines.append(
        f"  {'client CPU':<28}{cpu['busiest_process_fraction_of_core']:>12.0%} of one core "
        f"(busiest of {cpu['processes']} process(es))"
    )
    lines.extend(f"\n  note: {note}" for note in result["notes"])
    return "\n".join(lines)
