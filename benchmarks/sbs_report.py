"""The side-by-side results as ratios, bars (met or missed), PNG charts and a Markdown section.

The section goes into docs/performance.md between BEGIN and END; everything outside the markers
(the hand-written sections) is kept. Without the markers, the section goes before the first
``## `` heading after the introduction.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

BEGIN = "<!-- side-by-side:begin (written by benchmarks/side_by_side.py: edit the script) -->"
END = "<!-- side-by-side:end -->"
NAMES = {
    "bare": "bare ASGI app (uvicorn)",
    "nginx": "nginx, constant answer",
    "ems_sqlite": "EMS, SQLite",
    "ems_postgres": "EMS, PostgreSQL",
    "rabbitmq": "RabbitMQ HTTP API",
}


def _ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else 0.0


def ratios(r: dict[str, Any]) -> dict[str, Any]:
    send = r["send"]["median"]
    receive = r["receive"]
    rabbit_get = receive["rabbitmq_1"]["messages_per_second"]
    out = {
        "send_ems_sqlite_vs_bare": _ratio(send["ems_sqlite"], send["bare"]),
        "send_ems_sqlite_vs_bare_per_round": [
            _ratio(x["ems_sqlite"]["requests_per_second"], x["bare"]["requests_per_second"])
            for x in r["send"]["rounds"]
        ],
        "send_ems_postgres_vs_bare": _ratio(send["ems_postgres"], send["bare"]),
        "send_ems_sqlite_vs_nginx": _ratio(send["ems_sqlite"], send["nginx"]),
        "send_bare_vs_nginx": _ratio(send["bare"], send["nginx"]),
        "send_ems_sqlite_vs_rabbitmq_publish": _ratio(send["ems_sqlite"], send["rabbitmq"]),
        "send_ems_postgres_vs_rabbitmq_publish": _ratio(send["ems_postgres"], send["rabbitmq"]),
        "receive_ems_sqlite_vs_rabbitmq_get": _ratio(
            receive["ems_sqlite_1"]["messages_per_second"], rabbit_get
        ),
        "receive_ems_postgres_vs_rabbitmq_get": _ratio(
            receive["ems_postgres_1"]["messages_per_second"], rabbit_get
        ),
        "receive_batched_ems_sqlite_vs_rabbitmq_get": _ratio(
            receive["ems_sqlite_10"]["messages_per_second"], rabbit_get
        ),
    }
    scale = r.get("scale")
    if scale:
        out["million_send_vs_empty"] = _ratio(
            scale["million"]["send"]["requests_per_second"], send["ems_sqlite"]
        )
        out["million_receive_vs_empty"] = _ratio(
            scale["million"]["receive_delete_1"]["messages_per_second"],
            receive["ems_sqlite_1"]["messages_per_second"],
        )
        out["queues_send_vs_fresh"] = _ratio(
            scale["queues"]["send"]["requests_per_second"], send["ems_sqlite"]
        )
    return out


def _bar(
    bar: str, measured: str, value: float, threshold: float, *, at_least: bool, recipe: str | None
) -> dict[str, Any]:
    met = value >= threshold if at_least else value < threshold
    shown = "{:,.0f}" if threshold >= 100 else "{:.2f}"
    if met:
        by = ""
    elif at_least:
        by = f"{value / threshold:.0%} of the bar, short by {shown.format(threshold - value)}"
    else:
        by = f"over by {shown.format(value - threshold)} ({value / threshold:.1f}× the bar)"
    return {
        "bar": bar,
        "measured": measured,
        "value": value,
        "threshold": threshold,
        "met": met,
        "missed_by": by,
        "profile_recipe": recipe,
    }


def bars(r: dict[str, Any]) -> list[dict[str, Any]]:
    ratio = r["ratios"]
    send = r["send"]["median"]
    batch = r["batch_send"]["ems_sqlite_100"]["messages_per_second"]
    receive = r["receive"]
    e2e = r["e2e_1000"]["ems_sqlite"]["latency_ms"]
    scale = r["scale"]
    polls = scale["longpoll"]
    out = [
        _bar(
            "single-message durable send ≥ 0.5× the bare ASGI app",
            f"{ratio['send_ems_sqlite_vs_bare']:.2f}× ({send['ems_sqlite']:,.0f} vs "
            f"{send['bare']:,.0f} req/s; rounds "
            + ", ".join(f"{x:.2f}" for x in ratio["send_ems_sqlite_vs_bare_per_round"])
            + ")",
            ratio["send_ems_sqlite_vs_bare"],
            0.5,
            at_least=True,
            recipe="send",
        ),
        _bar(
            "batch send ≥ 100,000 msgs/s",
            f"{batch:,.0f} msgs/s (batches of 100; of 1000: "
            f"{r['batch_send']['ems_sqlite_1000']['messages_per_second']:,.0f})",
            batch,
            100_000,
            at_least=True,
            recipe="batch",
        ),
        _bar(
            "≥ 10× RabbitMQ's HTTP API publish rate",
            f"{ratio['send_ems_sqlite_vs_rabbitmq_publish']:.1f}× ({send['ems_sqlite']:,.0f} vs "
            f"{send['rabbitmq']:,.0f} msgs/s)",
            ratio["send_ems_sqlite_vs_rabbitmq_publish"],
            10,
            at_least=True,
            recipe="send",
        ),
        _bar(
            "≥ 10× RabbitMQ's HTTP API get rate, for receive + delete",
            f"{ratio['receive_ems_sqlite_vs_rabbitmq_get']:.1f}× "
            f"({receive['ems_sqlite_1']['messages_per_second']:,.0f} vs "
            f"{receive['rabbitmq_1']['messages_per_second']:,.0f} msgs/s, one message per "
            f"request; EMS in batches of 10: "
            f"{ratio['receive_batched_ems_sqlite_vs_rabbitmq_get']:.1f}×)",
            ratio["receive_ems_sqlite_vs_rabbitmq_get"],
            10,
            at_least=True,
            recipe="receive",
        ),
        _bar(
            "e2e at 1,000 msgs/s: p99 under 20 ms",
            f"p99 {e2e['p99']:.2f} ms (p50 {e2e['p50']:.2f}, max {e2e['max']:.2f})",
            e2e["p99"],
            20,
            at_least=False,
            recipe="e2e",
        ),
        _bar(
            f"{polls['polls']:,} concurrent long polls under 1 GiB RSS",
            f"{polls['server_peak_rss_mib']:,.0f} MiB peak "
            f"(idle: {scale['idle_rss_mib']:,.0f} MiB)",
            polls["server_peak_rss_mib"],
            1024,
            at_least=False,
            recipe=None,
        ),
        _bar(
            f"wake-up p99 under 50 ms with {polls['polls']:,} long polls open",
            f"p99 {polls['latency_ms']['p99']:.2f} ms from the send's start "
            f"({polls['after_ack_latency_ms']['p99']:.2f} ms from its acknowledgement)",
            polls["latency_ms"]["p99"],
            50,
            at_least=False,
            recipe=None,
        ),
    ]
    if polls["errors"]:
        out[-1]["measured"] += f"; {polls['errors']} errors"
    return out


def bars_table(items: list[dict[str, Any]]) -> str:
    lines = ["| bar | measured | |", "|---|---|---|"]
    for bar in items:
        verdict = "**met**" if bar["met"] else f"**missed**: {bar['missed_by']}"
        lines.append(f"| {bar['bar']} | {bar['measured']} | {verdict} |")
    return "\n".join(lines)


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _p99(result: dict[str, Any]) -> str:
    return f"{result['latency_ms'].get('p99', 0):.1f}"


def section(r: dict[str, Any]) -> str:
    m, v = r["machine"], r["versions"]
    send, ratio = r["send"]["median"], r["ratios"]
    rounds = len(r["send"]["rounds"])
    out = [
        BEGIN,
        "## Side by side: EMS beside a bare ASGI app, nginx and RabbitMQ",
        "",
        f"Run on {m['date'][:16]} by `benchmarks/side_by_side.py`: {m['cpu']}, {m['cores']} cores, "
        f"{m['memory_gib']} GiB, Linux {m['kernel']}; Python {v['python']}, uvicorn {v['uvicorn']} "
        f"(uvloop {v['uvloop']}, httptools {v['httptools']}), SQLite {v['sqlite']}, PostgreSQL "
        f"{v['postgres']} (asyncpg {v['asyncpg']}), nginx {v['nginx']}, RabbitMQ "
        f"{v.get('rabbitmq')} (Erlang {v.get('erlang')}), wrk {v['wrk']}. Everything ran on this "
        f"one machine: wrk (2 threads, {r['connections']} connections, {r['duration_s']} s per "
        "scenario), the servers, PostgreSQL and RabbitMQ. EMS ran with its defaults: every "
        "acknowledged write is durable (SQLite `synchronous=FULL`; PostgreSQL with fsync and "
        "synchronous_commit on).",
    ]
    if r.get("note"):
        out += ["", f"**{r['note']}**"]
    out += [
        "",
        "Every figure below, with the exact command that produced it, is in "
        "[`benchmarks/results/side-by-side.json`](../benchmarks/results/side-by-side.json). "
        "Compare the ratios, which were measured minutes apart on the same machine, rather than "
        "the absolute figures.",
        "",
        "### The bars",
        "",
        bars_table(r["bars"]),
        "",
        f"### Single-message send, 256 B (median of {rounds} alternating rounds)",
        "",
        "| target | requests/s | p99 (ms) | × bare app | × RabbitMQ |",
        "|---|---|---|---|---|",
    ]
    last = r["send"]["rounds"][rounds // 2 if rounds % 2 else rounds - 1]
    for name, label in NAMES.items():
        out.append(
            f"| {label} | {_n(send[name])} | {_p99(last[name])} | "
            f"{send[name] / send['bare']:.2f}× | {send[name] / send['rabbitmq']:.1f}× |"
        )
    out += [
        "",
        "The bare app reads the body and answers a small JSON; nginx (one worker process, like "
        "EMS's one process) answers a constant. EMS stores and fsyncs each message before "
        "answering 201. RabbitMQ publishes a persistent message (`delivery_mode` 2) to a durable "
        "quorum queue through `POST /api/exchanges/%2F/amq.default/publish`. Non-2xx answers: "
        + ", ".join(
            f"{NAMES[k]} {sum(x[k]['non_2xx'] for x in r['send']['rounds'])}" for k in NAMES
        )
        + ".",
        "",
        "![single-message send, requests/s](img/side-by-side-send.png)",
        "",
        "### Batch send, and receive + delete",
        "",
        "| scenario | EMS, SQLite | EMS, PostgreSQL | RabbitMQ HTTP API |",
        "|---|---|---|---|",
    ]
    b, rc = r["batch_send"], r["receive"]
    out += [
        f"| batch send, 100 × 256 B (msgs/s) | {_n(b['ems_sqlite_100']['messages_per_second'])} | "
        f"{_n(b['ems_postgres_100']['messages_per_second'])} | |",
        f"| batch send, 1000 × 256 B (msgs/s) | {_n(b['ems_sqlite_1000']['messages_per_second'])} "
        "| | |",
        f"| receive + delete, one per request (msgs/s) | "
        f"{_n(rc['ems_sqlite_1']['messages_per_second'])} | "
        f"{_n(rc['ems_postgres_1']['messages_per_second'])} | "
        f"{_n(rc['rabbitmq_1']['messages_per_second'])} (get, `ack_requeue_false`) |",
        f"| receive 10 + one batch delete (msgs/s) | "
        f"{_n(rc['ems_sqlite_10']['messages_per_second'])} | "
        f"{_n(rc['ems_postgres_10']['messages_per_second'])} | |",
        "",
        "EMS's receive + delete is two requests per message (a receive, then a delete after "
        "processing); RabbitMQ's get with `ack_requeue_false` is one, acknowledging on delivery "
        f"(the message is gone even if the consumer fails). RabbitMQ's queue held "
        f"{rc['rabbitmq_1']['depth_before']:,} messages (counting routed publishes) before the "
        "get run; "
        f"{rc['rabbitmq_1'].get('empty', 0):,} gets came back empty.",
        "",
        "![receive + delete, messages/s](img/side-by-side-receive.png)",
        "",
        "### End to end at 1,000 messages/s",
        "",
        "`ems bench e2e --rate 1000`: producers send on a fixed schedule (open loop), consumers "
        "long-poll (`wait_seconds=20`, up to 10 messages) and batch-delete; latency runs from the "
        "time each message was *scheduled* to be sent to a consumer holding it, so a stall delays "
        "every message behind it instead of hiding.",
        "",
        "| server | p50 | p90 | p99 | max (ms) | sent/s | errors | client CPU |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in ("ems_sqlite", "ems_postgres"):
        e = r["e2e_1000"][name]
        lat = e["latency_ms"]
        out.append(
            f"| {NAMES[name]} | {lat['p50']:.2f} | {lat['p90']:.2f} | {lat['p99']:.2f} | "
            f"{lat['max']:.2f} | {e['sent_per_s']:,.0f} | {e['errors']} | "
            f"{e['client_cpu']['busiest_process_fraction_of_core']:.0%} |"
        )
    s = r["scale"]
    lp, q, mil = s["longpoll"], s["queues"], s["million"]
    out += [
        "",
        "![latency percentiles](img/side-by-side-latency.png)",
        "",
        "### Scale (EMS on SQLite, a fresh server)",
        "",
        "| figure | result |",
        "|---|---|",
        f"| RSS of `ems serve`, idle after start | {s['idle_rss_mib']:,.0f} MiB |",
        f"| RSS with {lp['polls']:,} long polls open (peak) | "
        f"{lp['server_peak_rss_mib']:,.0f} MiB |",
        f"| wake-up with them open, from the send's start: p50 / p90 / p99 / max | "
        f"{lp['latency_ms']['p50']:.2f} / {lp['latency_ms']['p90']:.2f} / "
        f"{lp['latency_ms']['p99']:.2f} / {lp['latency_ms']['max']:.2f} ms "
        f"({lp['operations']:,} wake-ups, {lp['errors']} errors) |",
        f"| the same from the send's acknowledgement, p50 / p99 | "
        f"{lp['after_ack_latency_ms']['p50']:.2f} / {lp['after_ack_latency_ms']['p99']:.2f} ms |",
        f"| creating {q['queues']:,} queues | {q['created_per_second']:,} queues/s; RSS after: "
        f"{q['rss_mib']:,.0f} MiB |",
        f"| send with {q['queues']:,} queues (to one of them) | "
        f"{_n(q['send']['requests_per_second'])} req/s ({ratio['queues_send_vs_fresh']:.2f}× the "
        f"comparison's send); sends to 200 random queues: {q['sends_to_random_queues_ok']} "
        "answered 201 |",
        f"| filling a queue with {mil['messages']:,} messages (batches of 1000) | "
        f"{_n(mil['fill_messages_per_second'])} msgs/s |",
        f"| send with {mil['messages']:,} messages waiting | "
        f"{_n(mil['send']['requests_per_second'])} req/s ({ratio['million_send_vs_empty']:.2f}× a "
        "near-empty queue) |",
        f"| receive + delete with {mil['messages']:,} waiting | "
        f"{_n(mil['receive_delete_1']['messages_per_second'])} msgs/s "
        f"({ratio['million_receive_vs_empty']:.2f}×) |",
        "",
        "The open-file limit was raised to "
        f"{m['open_file_limit']:,} for the script and every server it started (as `ulimit -n` "
        "would); `ems bench longpoll` raises its own.",
    ]
    profiled = [bar for bar in r["bars"] if bar.get("profile")]
    if profiled:
        out += ["", "### Profiles of the missed bars", ""]
        out.append(
            "py-spy sampled the thread of `ems serve` holding the GIL (`--gil`, 200 Hz) while the "
            "scenario ran again. *Self*: where the samples were; *through*: EMS and server "
            "functions on the stack; *GIL held*: the share of the time any thread held it (a "
            "lower bound: py-spy's non-blocking sampling drops a few samples)."
        )
        seen: set[str] = set()
        for bar in profiled:
            p = bar["profile"]
            if p.get("load") in seen:
                continue
            seen.add(p.get("load", ""))
            out += [
                "",
                f"**{bar['bar']}** (load: {p.get('load')}, {p.get('samples', 0):,} samples"
                + (
                    f", GIL held {p['gil_held_fraction']:.0%} of the time)"
                    if "gil_held_fraction" in p
                    else ")"
                ),
                "",
            ]
            if "error" in p:
                out.append(p["error"])
                continue
            out += ["| self | % | through | % |", "|---|---|---|---|"]
            for own, through in zip(p["self"][:8], p["inclusive"][:8], strict=False):
                out.append(
                    f"| `{own['function']}` | {own['percent']} | "
                    f"`{through['function']}` | {through['percent']} |"
                )
    out += [
        "",
        "### How to reproduce",
        "",
        "<!-- docs-test: skip (a benchmark of 10-15 minutes that needs RabbitMQ; run it on an "
        "otherwise idle machine, never in the tests) -->",
        "```sh",
        "pip install -e '.[test,bench]'     # bench: matplotlib and py-spy",
        "python benchmarks/side_by_side.py --duration 10",
        "```",
        "",
        "It installs wrk and nginx with apt-get if they are missing, starts its own servers on "
        "free ports (nginx with a private prefix and config), makes and drops a PostgreSQL "
        "database `ems_bench_<pid>` on 127.0.0.1:5432, enables RabbitMQ's management plugin if "
        "its port is not up and deletes the quorum queue it made. `--from-json` rewrites this "
        "section and the charts from a results file without running anything.",
        END,
    ]
    return "\n".join(out) + "\n"


def insert(document: str, generated: str) -> str:
    if BEGIN in document and END in document:
        head, rest = document.split(BEGIN, 1)
        return head + generated.rstrip("\n") + rest.split(END, 1)[1]
    marker = document.find("\n## ")
    if marker < 0:
        return document.rstrip("\n") + "\n\n" + generated
    return document[: marker + 1] + generated + "\n" + document[marker + 1 :]


def charts(r: dict[str, Any], img: Path) -> None:
    matplotlib: Any = importlib.import_module("matplotlib")
    matplotlib.use("Agg")
    plt: Any = importlib.import_module("matplotlib.pyplot")
    img.mkdir(parents=True, exist_ok=True)
    send = r["send"]["median"]

    def bars_chart(path: Path, title: str, unit: str, values: dict[str, float]) -> None:
        figure, axes = plt.subplots(figsize=(8, 3.6), dpi=110)
        names = list(values)
        drawn = axes.barh(names[::-1], [values[n] for n in names[::-1]], color="#4878a8")
        axes.bar_label(drawn, labels=[f"{values[n]:,.0f}" for n in names[::-1]], padding=3)
        axes.set_xlabel(unit)
        axes.set_title(title)
        axes.set_xlim(0, max(values.values()) * 1.2)
        figure.tight_layout()
        figure.savefig(path)
        plt.close(figure)

    bars_chart(
        img / "side-by-side-send.png",
        "Single-message send, 256 B, same machine, same run",
        "requests/s (median of rounds)",
        {NAMES[k]: send[k] for k in NAMES},
    )
    rc = r["receive"]
    bars_chart(
        img / "side-by-side-receive.png",
        "Receive + delete, same machine, same run",
        "messages/s",
        {
            "EMS, SQLite, batches of 10": rc["ems_sqlite_10"]["messages_per_second"],
            "EMS, PostgreSQL, batches of 10": rc["ems_postgres_10"]["messages_per_second"],
            "EMS, SQLite, one by one": rc["ems_sqlite_1"]["messages_per_second"],
            "EMS, PostgreSQL, one by one": rc["ems_postgres_1"]["messages_per_second"],
            "RabbitMQ HTTP get, one by one": rc["rabbitmq_1"]["messages_per_second"],
        },
    )
    figure, axes = plt.subplots(figsize=(8, 3.6), dpi=110)
    series = {
        "e2e 1000/s, SQLite": r["e2e_1000"]["ems_sqlite"]["latency_ms"],
        "e2e 1000/s, PostgreSQL": r["e2e_1000"]["ems_postgres"]["latency_ms"],
        f"wake-up, {r['scale']['longpoll']['polls']:,} polls open": r["scale"]["longpoll"][
            "latency_ms"
        ],
    }
    points = ["p50", "p90", "p99", "max"]
    width = 0.8 / len(series)
    for n, (label, latency) in enumerate(series.items()):
        axes.bar(
            [i + n * width for i in range(len(points))],
            [latency[p] for p in points],
            width,
            label=label,
        )
    axes.set_xticks([i + width * (len(series) - 1) / 2 for i in range(len(points))], points)
    for limit, label in ((20, "e2e bar: p99 < 20 ms"), (50, "wake-up bar: p99 < 50 ms")):
        axes.axhline(limit, color="grey", linestyle="--", linewidth=0.8)
        axes.annotate(label, (len(points) - 0.4, limit), fontsize=7, va="bottom", ha="right")
    axes.set_ylabel("ms")
    axes.set_yscale("log")
    axes.set_title("Latency percentiles (log scale)")
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(img / "side-by-side-latency.png")
    plt.close(figure)


def write(r: dict[str, Any], docs: Path, img: Path) -> None:
    charts(r, img)
    document = docs.read_text() if docs.exists() else "# Performance\n"
    docs.write_text(insert(document, section(r)))
