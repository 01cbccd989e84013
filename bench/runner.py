"""One benchmark run, start to finish: seed, sign in, idle sockets, load on LinkUp and on the relay.

The order is fixed so that runs compare: idle sockets first, then the pairs
(one-to-one) on LinkUp and on the relay, then the group run (fan-out) on
LinkUp and on the relay, each load preceded by a short warm-up that is
checked for correctness but not timed. When the benchmark started the server itself, it
restarts it after each idle measurement: memory a Python process has freed
is kept and reused, so sockets opened after others were closed would look
free. Between phases the benchmark waits until the server's CPU goes quiet,
so one phase's leftovers (thousands of disconnects, delivery status updates)
do not run into the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import os
import platform
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import procstat
from .client import (
    ENDPOINTS,
    RELAY,
    BenchUser,
    Pair,
    Protocol,
    close_sockets,
    connect_pairs,
    correctness,
    heartbeat_round,
    open_idle_sockets,
    run_phase,
)
from .fanout import GroupRun
from .flame import PySpyRecorder, format_summary, summarize
from .stats import P99_GOAL, THROUGHPUT_GOAL, ratio, rounds_summary
from .users import GroupSeed, Seed, pair_usernames
from .wsclient import login

#: sockets opened and closed before the idle measurement, to load what all sockets share
IDLE_WARMUP = 10
#: seconds a pair user's sign-in may take (10 s timed out with 20 users on a loaded machine)
LOGIN_TIMEOUT = 60


@dataclass(frozen=True)
class BenchConfig:
    pairs: int = 1
    messages: int = 200
    window: int = 1
    idle: int = 200
    idle_concurrency: int = 16
    #: idle LinkUp sockets as browser tabs open them: ws/chat/ and ws/notifications/, half each
    idle_tabs: bool = False
    duration: float | None = None
    warmup: int = 20
    size: int = 64
    relay: bool = True
    password: str = ""
    settle_timeout: float = 60
    drain_timeout: float = 10
    profile_dir: str | None = None
    #: the LinkUp endpoint of the pairs: ``chat`` (``ws/chat/``) or ``direct`` (``ws/chat/<peer>/``)
    endpoint: str = "chat"
    #: the group run: members of the group (0: no group run; ``bench_chat`` runs 1000), recipients online
    #: besides the sender, messages, window
    group_members: int = 0
    group_online: int = 200
    group_messages: int = 100
    group_window: int = 1
    group_warmup: int = 5
    #: whether the group's recipients confirm with ``received`` (each confirmation is announced to every member)
    group_receipts: bool = False
    #: how long a group message may take to reach every recipient before the missing ones count as lost
    group_message_timeout: float = 30
    #: the 1:1 load (LinkUp and the relay) and the flood run (alone and flooded) measured this many times
    #: back to back, for the ratios' median (``--rounds``)
    rounds: int = 1


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        # Others' work on a shared machine moves every wall-clock figure; say how busy it was.
        "loadavg_1m_at_start": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }


def sign_in(base_url: str, pairs: int, password: str, seed: Seed | None = None) -> list[Pair]:
    """Sign every pair's users in through the login form (a few at a time: PBKDF2 is slow).

    ``seed`` gives each pair its direct conversation (``ws/chat/`` names it).
    """
    names = [pair_usernames(index) for index in range(1, pairs + 1)]
    conversations = {p["index"]: p["conversation"] for p in seed["pairs"]} if seed else {}
    flat = [name for pair in names for name in pair]
    with ThreadPoolExecutor(max_workers=4) as pool:
        # PBKDF2 takes over a second a sign-in on the benchmark machine, four at once on a busy server more.
        cookies = dict(
            zip(flat, pool.map(lambda name: login(base_url, name, password, timeout=LOGIN_TIMEOUT), flat), strict=True)
        )
    return [
        Pair(
            index,
            BenchUser(sender, cookies[sender]),
            BenchUser(recipient, cookies[recipient]),
            conversations.get(index),
        )
        for index, (sender, recipient) in enumerate(names, start=1)
    ]


def idle_targets(
    protocol: Protocol, pairs: list[Pair], count: int, run_id: str, *, tabs: bool = False
) -> list[tuple[str, str]]:
    """``count`` sockets spread over the pairs' users, both directions.

    With ``tabs``, LinkUp's sockets come as a browser tab opens them: the
    user socket ``ws/chat/`` and the bell's ``ws/notifications/``, half each
    (the relay has one kind of socket: its count is the same).
    """
    targets = []
    for k in range(count):
        tab = k // 2 if tabs else k
        pair = pairs[tab % len(pairs)]
        sender_path, recipient_path = protocol.paths(pair, f"{run_id}-idle")
        user, path = (pair.sender, sender_path) if (tab // len(pairs)) % 2 == 0 else (pair.recipient, recipient_path)
        if tabs and k % 2 == 1 and protocol.syncs:
            path = "/ws/notifications/"
        targets.append((path, user.cookie))
    return targets


async def measure_idle(
    base_url: str,
    pid: int | None,
    protocol: Protocol,
    pairs: list[Pair],
    count: int,
    run_id: str,
    concurrency: int,
    *,
    tabs: bool = False,
) -> dict[str, Any]:
    """Server memory per idle socket: (RSS with ``count`` sockets open − RSS before) / opened.

    A few sockets are opened and closed first: the first socket of a process
    imports and builds what every later one shares (the WebSocket protocol
    modules, the channel layer, the presence heartbeat), which is not per socket.
    Then, on LinkUp, one heartbeat round: every socket sends the browser's
    ``ping`` once (every 25 s in the app); its cost is the server's CPU time
    and RSS growth for the round, per socket.
    """
    warm, _ = await open_idle_sockets(
        base_url,
        idle_targets(protocol, pairs, IDLE_WARMUP, f"{run_id}-warm", tabs=tabs),
        wait_for_connected=protocol.syncs,
    )
    await close_sockets(warm)
    quiet_before = await procstat.wait_until_quiet(pid) if pid else False
    before = procstat.rss_kb(pid) if pid else None
    loop = asyncio.get_running_loop()
    started = loop.time()
    sockets, failures = await open_idle_sockets(
        base_url,
        idle_targets(protocol, pairs, count, run_id, tabs=tabs),
        wait_for_connected=protocol.syncs,
        concurrency=concurrency,
    )
    opened_in = loop.time() - started
    quiet_after = await procstat.wait_until_quiet(pid) if pid else False
    after = procstat.rss_kb(pid) if pid else None
    heartbeat = await measure_heartbeat(pid, sockets) if protocol.syncs and sockets else None
    await close_sockets(sockets)
    if pid:
        await procstat.wait_until_quiet(pid, timeout=120)
    per_socket = (after - before) / len(sockets) if before is not None and after is not None and sockets else None
    return {
        "requested": count,
        "opened": len(sockets),
        "failed": sum(failures.values()),
        "failures": dict(failures.most_common(5)),
        "open_seconds": round(opened_in, 2),
        "concurrency": concurrency,
        "rss_before_kb": before,
        "rss_after_kb": after,
        "per_socket_kb": round(per_socket, 2) if per_socket is not None else None,
        "measured_quiet": quiet_before and quiet_after,
        "tabs": tabs and protocol.syncs,
        "heartbeat": heartbeat,
    }


async def measure_heartbeat(pid: int | None, sockets: list[Any]) -> dict[str, Any]:
    """One heartbeat round over ``sockets``: its wall time, and the server's CPU and RSS growth per socket."""
    cpu_before = procstat.cpu_seconds(pid) if pid else None
    rss_before = procstat.rss_kb(pid) if pid else None
    loop = asyncio.get_running_loop()
    started = loop.time()
    failures = await heartbeat_round(sockets)
    seconds = loop.time() - started
    if pid:
        await procstat.wait_until_quiet(pid)
    cpu_after = procstat.cpu_seconds(pid) if pid else None
    rss_after = procstat.rss_kb(pid) if pid else None
    n = len(sockets)
    return {
        "pings": n,
        "failed": sum(failures.values()),
        "failures": dict(failures.most_common(3)),
        "seconds": round(seconds, 2),
        "server_cpu_ms_per_socket": round((cpu_after - cpu_before) * 1000 / n, 3)
        if cpu_before is not None and cpu_after is not None
        else None,
        "rss_growth_per_socket_kb": round((rss_after - rss_before) / n, 3)
        if rss_before is not None and rss_after is not None
        else None,
    }


async def measure_load(
    base_url: str, pid: int | None, protocol: Protocol, pairs: list[Pair], config: BenchConfig, run_id: str
) -> dict[str, Any]:
    content = "x" * config.size
    runs = await connect_pairs(pairs, protocol, base_url, run_id, config.window, content)
    try:
        if config.warmup:
            await run_phase(
                runs,
                "warmup",
                messages=config.warmup,
                duration=None,
                settle_timeout=config.settle_timeout,
                drain_timeout=config.drain_timeout,
            )
        if pid:
            await procstat.wait_until_quiet(pid)
        output = Path(config.profile_dir) / f"{protocol.name}.txt" if config.profile_dir and pid else None
        recorder = PySpyRecorder(pid, output) if output and pid else contextlib.nullcontext()
        server_cpu_before = procstat.cpu_seconds(pid) if pid else None
        client_cpu_before = time.process_time()
        with procstat.RssSampler(pid) as sampler, recorder:
            phase = await run_phase(
                runs,
                "measured",
                messages=None if config.duration else config.messages,
                duration=config.duration,
                settle_timeout=config.settle_timeout,
                drain_timeout=config.drain_timeout,
            )
        server_cpu = await server_cpu_when_quiet(pid)
        client_cpu = time.process_time() - client_cpu_before
        checks = await asyncio.gather(*(run.verify_with_sync() for run in runs)) if protocol.syncs else None
        result = {
            **phase,
            "server_peak_rss_kb": sampler.peak_kb,
            # CPU per delivered message: steadier than wall-clock figures on a shared machine.
            **cpu_figures(server_cpu_before, server_cpu, client_cpu, phase["delivered"]),
            "correctness": correctness(runs, list(checks) if checks is not None else None),
        }
        if output is not None:
            result["profile"] = {"raw": str(output), "summary": summarize(output.read_text())}
        return result
    finally:
        await asyncio.gather(*(run.close() for run in runs), return_exceptions=True)


async def server_cpu_when_quiet(pid: int | None) -> float | None:
    """The server's CPU seconds once the work the phase caused is done.

    Read when the server has gone quiet: receipts, notifications and emails
    run after the last delivery, and are part of what the messages cost.
    """
    if not pid:
        return None
    await procstat.wait_until_quiet(pid)
    return procstat.cpu_seconds(pid)


def cpu_figures(server_before: float | None, server_after: float | None, client: float, delivered: int) -> dict:
    server = server_after - server_before if server_before is not None and server_after is not None else None
    per = max(delivered, 1)
    return {
        "server_cpu_s": round(server, 3) if server is not None else None,
        "server_cpu_ms_per_msg": round(1000 * server / per, 3) if server is not None else None,
        "client_cpu_s": round(client, 3),
        "client_cpu_ms_per_msg": round(1000 * client / per, 3),
    }


def per_delivery_us(before: float | None, after: float | None, deliveries: int) -> float | None:
    if before is None or after is None:
        return None
    return round(1e6 * (after - before) / max(deliveries, 1), 1)


async def measure_group(
    base_url: str, pid: int | None, protocol: Protocol, group: GroupSeed, config: BenchConfig, run_id: str
) -> dict[str, Any]:
    """The group run on one target: warm-up, then the measured messages; fan-out latencies and correctness."""
    run = GroupRun(
        protocol,
        base_url,
        run_id,
        group["conversation"],
        BenchUser(group["sender"], group["cookies"][group["sender"]]),
        [BenchUser(name, group["cookies"][name]) for name in group["online"]],
        window=config.group_window,
        content="x" * config.size,
        message_timeout=config.group_message_timeout,
        confirm=config.group_receipts,
    )
    try:
        await run.connect()
        if config.group_warmup:
            await run.send_phase(config.group_warmup)
        if pid:
            await procstat.wait_until_quiet(pid)
        output = Path(config.profile_dir) / f"{protocol.name}-group.txt" if config.profile_dir and pid else None
        recorder = PySpyRecorder(pid, output) if output and pid else contextlib.nullcontext()
        server_cpu_before = procstat.cpu_seconds(pid) if pid else None
        client_cpu_before = time.process_time()
        with procstat.RssSampler(pid) as sampler, recorder:
            measured = await run.send_phase(config.group_messages)
        server_cpu = await server_cpu_when_quiet(pid)
        client_cpu = time.process_time() - client_cpu_before
        summary = run.summarize(measured)
        sync_check = await run.verify_with_sync()
        result = {
            **summary,
            "server_peak_rss_kb": sampler.peak_kb,
            **cpu_figures(server_cpu_before, server_cpu, client_cpu, summary["acked"]),
            # per (message, recipient): what one more online member costs
            "server_cpu_us_per_delivery": per_delivery_us(server_cpu_before, server_cpu, summary["deliveries"]),
            "client_cpu_us_per_delivery": per_delivery_us(0.0, client_cpu, summary["deliveries"]),
            "correctness": run.correctness(sync_check),
        }
        if output is not None:
            result["profile"] = {"raw": str(output), "summary": summarize(output.read_text())}
        return result
    finally:
        await run.close()


async def search_worker_quiet(server: Any) -> None:
    """Wait until the search worker beside the server (if the benchmark started one) has indexed what came before.

    It is a process of its own on the same 2 cores: left behind, it indexes
    LinkUp's previous phase during the next one, which slows the relay (or a
    later round) with LinkUp's work.
    """
    worker = getattr(server, "worker", None)
    if worker is not None and worker.poll() is None:
        await procstat.wait_until_quiet(worker.pid, timeout=120)


def load_ratio(linkup: dict[str, Any], relay: dict[str, Any]) -> dict[str, float | None]:
    """LinkUp's 1:1 load against the relay's: throughput, p99 and server CPU per message."""
    return {
        "throughput": ratio(linkup["throughput_msg_s"], relay["throughput_msg_s"]),
        "p99": ratio(linkup["latency"]["p99_ms"], relay["latency"]["p99_ms"]),
        "server_cpu_per_msg": ratio(linkup["server_cpu_ms_per_msg"], relay["server_cpu_ms_per_msg"]),
    }


async def later_rounds(
    config: BenchConfig, targets: list[Any], measure: Callable[[Any, int], Awaitable[dict[str, Any]]]
) -> tuple[list[dict[str, dict[str, Any]]], bool]:
    """Rounds 2 to ``config.rounds``: each measures every target (``measure(protocol, round)``), by name.

    The targets alternate which goes first from one round to the next, so
    that a machine getting busier or quieter during the run does not favour
    one of them. Also returned: whether every round's messages arrived
    (none lost, doubled or out of order), as the first round's must.
    """
    rounds = []
    for index in range(1, config.rounds):
        measured: dict[str, dict[str, Any]] = {}
        for protocol in reversed(targets) if index % 2 else targets:
            measured[protocol.name] = await measure(protocol, index)
        rounds.append(measured)
    return rounds, all(load["correctness"]["ok"] for measured in rounds for load in measured.values())


async def measure_rounds(
    server: Any, targets: list[Any], pairs: list[Pair], config: BenchConfig, run_id: str, first: dict[str, Any]
) -> dict[str, Any]:
    """The 1:1 load's LinkUp / relay ratios over ``config.rounds`` rounds, the first being ``first`` (the main figures).

    Each round's ratio compares two measurements a few seconds apart
    (:func:`later_rounds`); the first round's correctness is the main figures'.
    """
    linkup, relay = targets[0].name, targets[1].name

    async def measure(protocol: Any, index: int) -> dict[str, Any]:
        await search_worker_quiet(server)
        return await measure_load(server.base_url, server.pid, protocol, pairs, config, f"{run_id}r{index}")

    later, ok = await later_rounds(config, targets, measure)
    ratios = [load_ratio(measured[linkup], measured[relay]) for measured in [first, *later]]
    return {
        "throughput": rounds_summary([r["throughput"] for r in ratios], lambda value: value >= THROUGHPUT_GOAL),
        "p99": rounds_summary([r["p99"] for r in ratios], lambda value: value <= P99_GOAL),
        "ok": ok,
    }


async def measure_group_rounds(
    server: Any, group: Any, config: BenchConfig, run_id: str, first: dict[str, Any]
) -> dict[str, Any]:
    """The group's fan-out p99 ratio over ``config.rounds`` rounds, the first being ``first`` (the main figures)."""

    async def measure(protocol: Any, index: int) -> dict[str, Any]:
        if server.pid:
            await procstat.wait_until_quiet(server.pid)
        return await measure_group(server.base_url, server.pid, protocol, group, config, f"{run_id}g{index}")

    later, ok = await later_rounds(config, [ENDPOINTS["chat"], RELAY], measure)
    ratios = [ratio(m["linkup"]["fanout"]["p99_ms"], m["relay"]["fanout"]["p99_ms"]) for m in [first, *later]]
    return {"fanout_p99": rounds_summary(ratios, lambda value: value <= P99_GOAL), "ok": ok}


async def run_against(server: Any, config: BenchConfig, stack: dict[str, str]) -> dict[str, Any]:
    """Benchmark ``server`` (a :class:`~.server.BenchServer` or :class:`~.server.RunningServer`)."""
    run_id = uuid.uuid4().hex[:8]
    seed: Seed = await asyncio.to_thread(
        server.seed, config.pairs, config.password, config.group_members, config.group_online
    )
    pairs = await asyncio.to_thread(sign_in, server.base_url, config.pairs, config.password, seed)
    targets = [ENDPOINTS[config.endpoint]] + ([RELAY] if config.relay else [])
    result: dict[str, Any] = {
        "run_id": run_id,
        "at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "url": server.base_url,
        "restarted_between_phases": bool(config.idle and server.restart),
        "stack": stack,
        "machine": machine(),
        "params": asdict(config) | {"password": "***"},
        "idle": {},
        "load": {},
        "group": {},
    }
    if config.idle and pairs:
        for index, protocol in enumerate(targets):
            idle = await measure_idle(
                server.base_url,
                server.pid,
                protocol,
                pairs,
                config.idle,
                run_id,
                config.idle_concurrency,
                tabs=config.idle_tabs,
            )
            # A process reuses the memory the previous idle sockets freed: only a fresh one tells.
            idle["fresh_process"] = index == 0 or bool(server.restart)
            result["idle"][protocol.name] = idle
            if server.restart:
                await asyncio.to_thread(server.restart)
    for protocol in targets if pairs else ():
        await search_worker_quiet(server)
        result["load"][protocol.name] = await measure_load(server.base_url, server.pid, protocol, pairs, config, run_id)
    if config.rounds > 1 and pairs and config.relay:
        result["rounds"] = await measure_rounds(server, targets, pairs, config, run_id, result["load"])
    if seed["group"] is not None:
        for protocol in [ENDPOINTS["chat"]] + ([RELAY] if config.relay else []):
            if server.pid:
                await procstat.wait_until_quiet(server.pid)
            result["group"][protocol.name] = await measure_group(
                server.base_url, server.pid, protocol, seed["group"], config, run_id
            )
    if config.rounds > 1 and seed["group"] is not None and config.relay:
        result["group_rounds"] = await measure_group_rounds(server, seed["group"], config, run_id, result["group"])
    linkup, relay = result["load"].get("linkup"), result["load"].get("relay")
    if linkup and relay:
        result["ratio"] = load_ratio(linkup, relay)
    linkup, relay = result["group"].get("linkup"), result["group"].get("relay")
    if linkup and relay:
        result["group_ratio"] = {
            "fanout_p50": ratio(linkup["fanout"]["p50_ms"], relay["fanout"]["p50_ms"]),
            "fanout_p99": ratio(linkup["fanout"]["p99_ms"], relay["fanout"]["p99_ms"]),
            "last_recipient_p99": ratio(linkup["last_recipient"]["p99_ms"], relay["last_recipient"]["p99_ms"]),
            "server_cpu_per_msg": ratio(linkup["server_cpu_ms_per_msg"], relay["server_cpu_ms_per_msg"]),
        }
    if hasattr(os, "getloadavg"):
        result["machine"]["loadavg_1m_at_end"] = round(os.getloadavg()[0], 2)
    # The highest RSS sampled while the load phases ran (the process that served them).
    peaks = [load["server_peak_rss_kb"] for load in (*result["load"].values(), *result["group"].values())]
    result["server_peak_rss_kb"] = max((p for p in peaks if p is not None), default=None)
    loads = [*result["load"].values(), *result["group"].values()]
    result["ok"] = (
        all(load["correctness"]["ok"] for load in loads)
        and result.get("rounds", {}).get("ok", True)
        and result.get("group_rounds", {}).get("ok", True)
    )
    return result


def profile_report(result: dict[str, Any]) -> str:
    phases = [(name, load) for name, load in result["load"].items()]
    phases += [(f"{name} group", load) for name, load in result["group"].items()]
    return "\n\n".join(
        format_summary(load["profile"]["summary"], f"py-spy on daphne, {name} phase ({load['profile']['raw']})")
        for name, load in phases
        if "profile" in load
    )
