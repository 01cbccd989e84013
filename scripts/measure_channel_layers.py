"""Measure group_send fan-out of both channels-redis layers on a real Redis.

    .venv/bin/python scripts/measure_channel_layers.py [--redis-url URL] [--repeat 3]

``REDIS_URL`` is the default target (``scripts/services start`` gives one).
Both layers are built by ``linkup.stack.channel_layer_config``, the
configuration a deployment runs, under a prefix of their own so nothing of a
running LinkUp is touched; only that prefix is flushed.

The shape follows the process model: two receiver processes stand for two
daphne workers and hold the members (one channel per socket) of the groups;
the main process is a third worker calling ``group_send``. Each scenario is
run ``--repeat`` times per layer and the median run is reported. Nothing is
asserted: this measures, and docs/deployment.md records what it printed.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from channels_redis.core import RedisChannelLayer
from django.utils.module_loading import import_string

from linkup.stack import channel_layer_config

# name -> (backend, overrides of its configuration)
LAYERS: dict[str, tuple[str, dict[str, Any]]] = {
    "pubsub": ("pubsub", {}),
    "core": ("core", {}),
    # The library's default capacity, to show what a per-process capacity means.
    "core, capacity 100": ("core", {"capacity": 100}),
}
RECEIVERS = 2
PREFIX = "linkup-measure"
# What a chat event looks like on the layer: a serialized message frame.
TEXT = '{"type": "message", "message": {"id": 812, "seq": 41, "content": "' + "x" * 200 + '"}}'


@dataclass(frozen=True)
class Scenario:
    name: str
    what: str
    groups: int
    members_per_receiver: int
    sends: int
    concurrency: int
    rate: float | None = None  # group_send per second; None = as fast as possible


SCENARIOS = [
    Scenario(
        "conversations-paced",
        "100 groups x 4 sockets (2 per process), 200 group_send/s for 5 s",
        groups=100,
        members_per_receiver=2,
        sends=1000,
        concurrency=16,
        rate=200,
    ),
    Scenario(
        "conversations-flat-out",
        "100 groups x 4 sockets (2 per process), 4000 group_send, 16 at a time",
        groups=100,
        members_per_receiver=2,
        sends=4000,
        concurrency=16,
    ),
    Scenario(
        "wide-fan-out",
        "1 group x 200 sockets (100 per process), 200 group_send, 4 at a time",
        groups=1,
        members_per_receiver=100,
        sends=200,
        concurrency=4,
    ),
]


def configure(name: str, url: str) -> Any:
    """A fresh channel layer called ``name`` in LAYERS, as a deployment would configure it."""
    backend, overrides = LAYERS[name]
    config = channel_layer_config(url, backend)
    return import_string(config["BACKEND"])(**{**config["CONFIG"], **overrides, "prefix": PREFIX})


async def disconnect(layer: Any) -> None:
    """Close the layer's connections without deleting what other processes still read."""
    if isinstance(layer, RedisChannelLayer):
        await layer.close_pools()
    else:
        await layer.flush()  # the pub/sub layer stores nothing: its flush only disconnects


async def flush(name: str, url: str) -> None:
    """Delete everything under the measurement's prefix (groups, queued messages)."""
    await configure(name, url).flush()


# --- Receivers (one process = one daphne worker) ---------------------------------------


def receive_process(name: str, url: str, scenario: Scenario, ready: Any, sent: Any, results: Any) -> None:
    asyncio.run(_receive(name, url, scenario, ready, sent, results))


async def _receive(name: str, url: str, scenario: Scenario, ready: Any, sent: Any, results: Any) -> None:
    layer = configure(name, url)
    # Sends go round-robin over the groups; each reaches this process's members.
    expected = sum(
        (scenario.sends // scenario.groups + (1 if g < scenario.sends % scenario.groups else 0))
        * scenario.members_per_receiver
        for g in range(scenario.groups)
    )
    latencies: list[float] = []
    seen: set[tuple[str, int]] = set()
    duplicates = 0
    last = [time.time()]

    async def consume(channel: str) -> None:
        nonlocal duplicates
        while True:
            message = await layer.receive(channel)
            now = time.time()
            latencies.append(now - message["t"])
            key = (channel, message["n"])
            duplicates += key in seen
            seen.add(key)
            last[0] = now

    channels = []
    for g in range(scenario.groups):
        for _ in range(scenario.members_per_receiver):
            channel = await layer.new_channel()
            await layer.group_add(f"g{g}", channel)
            channels.append(channel)
    tasks = [asyncio.create_task(consume(c)) for c in channels]
    await asyncio.sleep(0.5)  # let subscriptions settle before saying ready
    ready.release()
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sent.wait)
    sent_seen = time.time()
    # Done when everything arrived, or nothing arrived for 3 s after the last send.
    while len(latencies) < expected and time.time() - max(last[0], sent_seen) < 3:
        await asyncio.sleep(0.05)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await disconnect(layer)
    results.put(
        {
            "received": len(latencies),
            "expected": expected,
            "duplicates": duplicates,
            "latencies": latencies,
            "last": last[0],
        }
    )


# --- Sender (this process = a third worker) -----------------------------------------------


@dataclass
class Run:
    sends: int = 0
    send_seconds: float = 0.0
    call_latencies: list[float] = field(default_factory=list)
    received: int = 0
    expected: int = 0
    duplicates: int = 0
    delivery_latencies: list[float] = field(default_factory=list)
    delivery_seconds: float = 0.0


async def _send(name: str, url: str, scenario: Scenario) -> tuple[float, list[float], float]:
    layer = configure(name, url)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(scenario.sends):
        queue.put_nowait(n)
    calls: list[float] = []
    start = time.time()

    async def worker() -> None:
        while not queue.empty():
            n = queue.get_nowait()
            if scenario.rate:
                await asyncio.sleep(max(0.0, start + n / scenario.rate - time.time()))
            t = time.time()
            await layer.group_send(f"g{n % scenario.groups}", {"type": "chat.message", "text": TEXT, "n": n, "t": t})
            calls.append(time.time() - t)

    await asyncio.gather(*(worker() for _ in range(scenario.concurrency)))
    end = time.time()
    await disconnect(layer)
    return start, calls, end - start


def run_once(name: str, url: str, scenario: Scenario) -> Run:
    asyncio.run(flush(name, url))
    ctx = multiprocessing.get_context("spawn")
    ready, sent, results = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=receive_process, args=(name, url, scenario, ready, sent, results)) for _ in range(RECEIVERS)
    ]
    for p in procs:
        p.start()
    for _ in procs:
        if not ready.acquire(timeout=60):
            raise RuntimeError("a receiver did not start")
    start, calls, seconds = asyncio.run(_send(name, url, scenario))
    sent.set()
    parts = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    asyncio.run(flush(name, url))
    run = Run(sends=scenario.sends, send_seconds=seconds, call_latencies=calls)
    for part in parts:
        run.received += part["received"]
        run.expected += part["expected"]
        run.duplicates += part["duplicates"]
        run.delivery_latencies += part["latencies"]
    run.delivery_seconds = max(p["last"] for p in parts) - start
    return run


# --- Report -----------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def row(name: str, scenario: Scenario, run: Run) -> str:
    lost = run.expected - run.received
    return (
        f"| {scenario.name} | {name} | {run.sends / run.send_seconds:,.0f} | "
        f"{pct(run.call_latencies, 0.5):.2f} / {pct(run.call_latencies, 0.99):.2f} | "
        f"{run.received / max(run.delivery_seconds, 1e-9):,.0f} | "
        f"{pct(run.delivery_latencies, 0.5):.1f} / {pct(run.delivery_latencies, 0.95):.1f} / "
        f"{pct(run.delivery_latencies, 0.99):.1f} / {pct(run.delivery_latencies, 1.0):.1f} | "
        f"{run.received}/{run.expected} | {lost} | {run.duplicates} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=[s.name for s in SCENARIOS], action="append")
    args = parser.parse_args()
    if not args.redis_url:
        parser.error("give --redis-url or set REDIS_URL (scripts/services start prints one)")
    print(
        f"redis: {args.redis_url}  cpus: {os.cpu_count()}  receivers: {RECEIVERS} processes  "
        f"repeat: {args.repeat} (median run by delivery p50)\n"
    )
    for scenario in SCENARIOS:
        if args.only and scenario.name not in args.only:
            continue
        print(f"{scenario.name}: {scenario.what}")
    print()
    print(
        "| scenario | layer | group_send/s | call p50 / p99 ms | deliveries/s | "
        "delivery p50 / p95 / p99 / max ms | received | lost | duplicates |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for scenario in SCENARIOS:
        if args.only and scenario.name not in args.only:
            continue
        for name in LAYERS:
            runs = [run_once(name, args.redis_url, scenario) for _ in range(args.repeat)]
            median = sorted(runs, key=lambda r: pct(r.delivery_latencies, 0.5))[len(runs) // 2]
            print(row(name, scenario, median), flush=True)
            print(
                "    all runs, delivery p50 ms: "
                + ", ".join(f"{pct(r.delivery_latencies, 0.5):.1f}" for r in runs)
                + "; group_send/s: "
                + ", ".join(f"{r.sends / r.send_seconds:,.0f}" for r in runs),
                file=sys.stderr,
                flush=True,
            )


if __name__ == "__main__":
    main()
