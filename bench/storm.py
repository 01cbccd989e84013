"""The reconnect storm: every client of a killed server comes back to its restarted self.

N sockets are opened as browser tabs open them (``ws/chat/`` and the bell's
``ws/notifications/``, half each, spread over the benchmark pairs' users,
:func:`bench.runner.idle_targets`); a few chat tabs send messages; then the
daphne process is killed with SIGKILL while messages are in flight and started
again on the same port. Every socket reconnects as the browser's
``ReconnectingSocket`` does (``messaging/static/messaging/js/socket.js``,
:func:`retry_delay`), and once ready catches up as the page does
(``protocol/client.js`` ``catchUp``: one ``resume`` from the tab's cursor, then
``sync`` pages while ``has_more``); a sending tab then resends what was not
acknowledged with the same ``client_id`` (the outbox, ``outbox.js``).

What it reports: seconds from the kill until every socket is back (its ready
frame came) and until every chat tab has caught up, the failed attempts by
kind, the restarted server's peak CPU and RSS (psutil, :mod:`.procstat`), and
the messages lost or duplicated (both must be 0: every message acknowledged
before the kill is in the conversation afterwards, once, and every tab of the
conversation has it from a push or its catch-up).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import websockets

from . import procstat
from .client import ENDPOINTS, READY_FRAMES, Pair
from .runner import idle_targets
from .stats import summarize_latencies
from .wsclient import open_socket

#: ``ReconnectingSocket``'s defaults (socket.js: ``baseDelay = 500``, ``maxDelay = 10000``, ``pongTimeout = 10000``)
BASE_DELAY = 0.5
MAX_DELAY = 10.0
READY_TIMEOUT = 10.0
#: a browser has no timeout of its own on a handshake; daphne answers one it has not accepted within 5 s with 403
OPEN_TIMEOUT = 30.0
#: the ``sync`` page size the page asks for (protocol/client.js ``PAGE_MAX``)
PAGE_MAX = 100


def retry_delay(failures: int, rng: random.Random, base: float = BASE_DELAY, cap: float = MAX_DELAY) -> float:
    """socket.js ``failed()``: exponential backoff with "equal jitter", in seconds.

    ``ceiling = min(maxDelay, baseDelay * 2 ** min(failures - 1, 10))``; the
    delay is half the ceiling plus a uniform random half. A socket that was
    ready and dropped starts again at ``failures = 1`` (250–500 ms).
    """
    ceiling = min(cap, base * 2 ** min(failures - 1, 10))
    return ceiling / 2 + rng.random() * (ceiling / 2)


def failure_kind(exc: BaseException) -> str:
    """A failed attempt, named for what the client saw."""
    if isinstance(exc, websockets.InvalidStatus):
        status = exc.response.status_code
        return f"HTTP {status}" + (" (refused: daphne's accept timeout or the app)" if status == 403 else "")
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (no server listening)"
    if isinstance(exc, ReadyTimeout):
        return f"no ready frame within {READY_TIMEOUT:g} s"
    if isinstance(exc, TimeoutError):
        return "handshake timeout"
    if isinstance(exc, websockets.ConnectionClosed):
        return "closed before its ready frame"
    if isinstance(exc, (websockets.InvalidMessage, EOFError, ConnectionResetError)):
        return "dropped before an HTTP answer"
    return type(exc).__name__


class ReadyTimeout(TimeoutError):
    pass


@dataclass
class StormConfig:
    clients: int = 2000
    #: the chat tabs that send (one per pair, on the pair's sender), messages a second each
    senders: int = 10
    send_rate: float = 20.0
    #: seconds of sending before the kill
    before_kill: float = 3.0
    #: handshakes in progress at once while the sockets are first opened (not during the storm: there, the backoff)
    concurrency: int = 16
    #: seconds after the kill by which every socket must be back and caught up, or counted as not back
    deadline: float = 180.0
    seed: int = 19


@dataclass
class StormClient:
    """One browser socket: opens, reads, reconnects with socket.js's backoff, catches up."""

    base_url: str
    path: str
    cookie: str
    conversation: int | None
    rng: random.Random
    sender: bool = False
    socket: Any = None
    #: the highest seq of the conversation this tab has without a gap (``log.cursor`` in the page)
    cursor: int = 0
    seqs: set[int] = field(default_factory=set)
    #: client_id -> seq of every message of the conversation this tab has (pushed or caught up)
    seen: dict[str, int] = field(default_factory=dict)
    sent: dict[str, str] = field(default_factory=dict)
    acked: dict[str, int] = field(default_factory=dict)
    acked_before_kill: set[str] = field(default_factory=set)
    errors: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    attempts: int = 0
    back_at: float | None = None
    synced_at: float | None = None
    answers: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    acks: asyncio.Event = field(default_factory=asyncio.Event)
    dropped: asyncio.Event = field(default_factory=asyncio.Event)
    stopping: bool = False
    _reader: asyncio.Task[None] | None = None

    @property
    def is_chat(self) -> bool:
        return self.conversation is not None

    async def open_once(self) -> None:
        """One attempt: the handshake, then the ready frame within socket.js's ``pongTimeout``."""
        self.attempts += 1
        socket = await open_socket(self.base_url, self.path, self.cookie, open_timeout=OPEN_TIMEOUT)
        ready = READY_FRAMES.get(self.path, "connected")
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                while json.loads(await socket.recv()).get("type") != ready:
                    pass
        except TimeoutError as exc:
            await socket.close()
            raise ReadyTimeout from exc
        except BaseException:
            await socket.close()
            raise
        self.socket = socket
        self.dropped.clear()
        self._reader = asyncio.create_task(self.read(socket))

    async def read(self, socket: Any) -> None:
        try:
            async for text in socket:
                self.on_frame(json.loads(text))
        except websockets.ConnectionClosed:
            pass
        finally:
            if self.socket is socket:
                self.dropped.set()

    def on_frame(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "event":
            self.saw(frame["event"])
        elif kind == "ack" and frame.get("client_id") in self.sent:
            self.acked[frame["client_id"]] = frame["event"]["seq"]
            self.saw(frame["event"])
            self.acks.set()
        elif kind in ("resume", "sync"):
            self.answers.put_nowait(frame)
        elif kind == "error":
            self.errors[frame.get("code", "?")] += 1

    def saw(self, event: dict[str, Any]) -> None:
        if event.get("conversation") != self.conversation:
            return
        seq = event["seq"]
        if event.get("kind") == "message" and isinstance(event.get("client_id"), str):
            self.seen.setdefault(event["client_id"], seq)
        self.seqs.add(seq)
        while self.cursor + 1 in self.seqs:
            self.cursor += 1

    async def start(self) -> None:
        """First open; a chat tab learns where its conversation stands (its first sync, as the page's first load)."""
        await self.open_once()
        if self.is_chat:
            await self.socket.send(
                json.dumps({"type": "sync", "conversation": self.conversation, "after": 0, "limit": 1})
            )
            self.cursor = (await asyncio.wait_for(self.answers.get(), 30))["last_seq"]

    async def catch_up(self) -> None:
        """``catchUp()``: ``resume`` from the cursor, then ``sync`` while there is more; a sender resends its outbox."""
        if not self.is_chat:
            return
        await self.socket.send(json.dumps({"type": "resume", "cursors": {str(self.conversation): self.cursor}}))
        answer = await asyncio.wait_for(self.answers.get(), 60)
        entries = [c for c in answer.get("conversations", []) if c.get("id") == self.conversation]
        has_more = bool(entries and entries[0].get("has_more"))
        for event in entries[0].get("events", []) if entries else []:
            self.saw(event)
        while has_more:
            after = self.cursor
            await self.socket.send(
                json.dumps({"type": "sync", "conversation": self.conversation, "after": after, "limit": PAGE_MAX})
            )
            page = await asyncio.wait_for(self.answers.get(), 60)
            for event in page["events"]:
                self.saw(event)
            has_more = page["has_more"] and self.cursor > after
        for client_id in [c for c in self.sent if c not in self.acked]:
            await self.send_message(client_id)
        while any(c not in self.acked for c in self.sent):
            self.acks.clear()
            await asyncio.wait_for(self.acks.wait(), 60)

    async def send_message(self, client_id: str) -> None:
        frame = {"type": "message", "conversation": self.conversation, "content": self.sent[client_id]}
        await self.socket.send(json.dumps({**frame, "client_id": client_id}))

    async def send_until(self, stop: asyncio.Event, prefix: str, rate: float) -> None:
        """Send a message every ``1/rate`` s without waiting for acks (several in flight) until the socket drops."""
        index = 0
        while not stop.is_set() and not self.dropped.is_set():
            client_id = f"{prefix}-{index}"
            index += 1
            self.sent[client_id] = f"storm {client_id}"
            try:
                await self.send_message(client_id)
            except websockets.ConnectionClosed:
                return
            await asyncio.sleep(1 / rate)

    async def reconnect(self, started: float, deadline: float) -> None:
        """After the drop: socket.js's ``dropped()`` then ``failed()`` until ready, then catch up."""
        await self.dropped.wait()
        self.acked_before_kill = set(self.acked)
        failures = 0  # it was ready: dropped() resets the count
        loop = asyncio.get_running_loop()
        while loop.time() - started < deadline:
            failures += 1
            await asyncio.sleep(retry_delay(failures, self.rng))
            try:
                await self.open_once()
            except (OSError, TimeoutError, websockets.WebSocketException, EOFError) as exc:
                self.failures[failure_kind(exc)] += 1
                continue
            self.back_at = loop.time() - started
            try:
                await self.catch_up()
            except (TimeoutError, websockets.ConnectionClosed) as exc:
                self.failures[f"catch-up failed: {failure_kind(exc)}"] += 1
                if self.dropped.is_set():
                    self.back_at = None
                    failures = 0
                    continue
                return
            self.synced_at = loop.time() - started
            return

    async def close(self) -> None:
        self.stopping = True
        if self.socket is not None:
            await self.socket.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)


def storm_clients(base_url: str, pairs: list[Pair], config: StormConfig, run_id: str) -> list[StormClient]:
    """The sockets, as ``bench_chat --idle N --idle-tabs`` spreads them; one chat tab per sending pair sends."""
    conversation_of = {user.cookie: pair.conversation for pair in pairs for user in (pair.sender, pair.recipient)}
    rng = random.Random(config.seed)
    clients = [
        StormClient(
            base_url,
            path,
            cookie,
            conversation_of[cookie] if path == "/ws/chat/" else None,
            random.Random(rng.random()),
        )
        for path, cookie in idle_targets(ENDPOINTS["chat"], pairs, config.clients, run_id, tabs=True)
    ]
    senders = {pair.sender.cookie for pair in pairs[: config.senders]}
    for client in clients:
        if client.is_chat and client.cookie in senders:
            client.sender = True
            senders.discard(client.cookie)
    return clients


async def open_all(clients: list[StormClient], concurrency: int) -> Counter[str]:
    gate = asyncio.Semaphore(concurrency)

    async def one(client: StormClient) -> None:
        async with gate:
            await client.start()

    results = await asyncio.gather(*(one(c) for c in clients), return_exceptions=True)
    return Counter(failure_kind(r) for r in results if isinstance(r, BaseException))


class PeakCpu:
    """The server's busiest sampled interval, as a percentage of one core (psutil CPU times, every ``interval`` s)."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_percent = 0.0
        self.cpu_seconds = 0.0
        self._task: asyncio.Task[None] | None = None
        self._first: float | None = None

    async def _run(self) -> None:
        first = last = self._first
        stamp = time.monotonic()
        while last is not None and first is not None:
            await asyncio.sleep(self.interval)
            now, at = procstat.cpu_seconds(self.pid), time.monotonic()
            if now is None:
                return
            self.peak_percent = max(self.peak_percent, 100 * (now - last) / (at - stamp))
            self.cpu_seconds = now - first
            last, stamp = now, at

    def __enter__(self) -> PeakCpu:
        self._first = procstat.cpu_seconds(self.pid)
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
        # The whole span, not only up to the last sample: a storm shorter than one interval had 0 s.
        now = procstat.cpu_seconds(self.pid)
        if now is not None and self._first is not None:
            self.cpu_seconds = now - self._first


async def run_storm(server: Any, pairs: list[Pair], config: StormConfig, run_id: str) -> dict[str, Any]:
    """Open, send, kill, restart, wait for every socket to come back; the figures and the checks."""
    loop = asyncio.get_running_loop()
    clients = storm_clients(server.base_url, pairs, config, run_id)
    opening = loop.time()
    initial_failures = await open_all(clients, config.concurrency)
    opened_in = loop.time() - opening
    live = [c for c in clients if c.socket is not None]
    stop_sending = asyncio.Event()
    senders = [c for c in live if c.sender]
    sending = [
        asyncio.create_task(c.send_until(stop_sending, f"{run_id}-s{i}", config.send_rate))
        for i, c in enumerate(senders)
    ]
    start_seq = {id(c): c.cursor for c in senders}
    await asyncio.sleep(config.before_kill)
    in_flight = sum(len(c.sent) - len(c.acked) for c in senders)
    acked_before = sum(len(c.acked) for c in senders)
    load_before = os.getloadavg()[0]
    started = loop.time()
    server.process.kill()  # SIGKILL: no close frames, no clean-up, presence rows left behind
    await asyncio.to_thread(server.process.wait)
    stop_sending.set()
    coming_back = [asyncio.create_task(c.reconnect(started, config.deadline)) for c in live]
    await asyncio.gather(*sending, return_exceptions=True)
    await asyncio.to_thread(server.launch)
    restarted_after = loop.time() - started
    # Started from a worker thread, which Linux may schedule at another niceness: the benchmark's own, as at first.
    procstat.renice_like_me(server.pid)
    with procstat.RssSampler(server.pid, interval=0.25) as rss, PeakCpu(server.pid) as cpu:
        await asyncio.gather(*coming_back)
    storm_seconds = loop.time() - started
    rss_after = procstat.rss_kb(server.pid)
    checks = await check_messages(senders, live, start_seq)
    await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
    back = [c.back_at for c in live if c.back_at is not None]
    synced = [c.synced_at for c in live if c.synced_at is not None]
    failures: Counter[str] = sum((c.failures for c in live), Counter())
    return {
        "clients": config.clients,
        "chat": sum(1 for c in clients if c.is_chat),
        "notifications": sum(1 for c in clients if not c.is_chat),
        "users": 2 * len(pairs),
        "opened": len(live),
        "initial_failures": dict(initial_failures),
        "open_seconds": round(opened_in, 2),
        "open_rate": round(len(live) / opened_in, 1) if opened_in else None,
        "concurrency": config.concurrency,
        "senders": len(senders),
        "acked_before_kill": acked_before,
        "in_flight_at_kill": in_flight,
        "restarted_after_s": round(restarted_after, 2),
        "all_back_s": round(max(back), 2) if len(back) == len(live) and back else None,
        "all_synced_s": round(max(synced), 2) if len(synced) == len(live) and synced else None,
        "back": summarize_latencies(back),
        "synced": summarize_latencies(synced),
        "not_back": len(live) - len(back),
        "not_synced": len(live) - len(synced),
        "storm_seconds": round(storm_seconds, 2),
        "attempts": sum(c.attempts for c in live) - len(live),
        "failed_attempts": dict(failures.most_common()),
        "error_frames": dict(sum((c.errors for c in live), Counter())),
        "server_peak_cpu_percent": round(cpu.peak_percent, 1),
        "server_cpu_s": round(cpu.cpu_seconds, 2),
        "server_peak_rss_kb": rss.peak_kb,
        "server_rss_after_kb": rss_after,
        "loadavg_1m_before_kill": round(load_before, 2),
        "loadavg_1m_at_end": round(os.getloadavg()[0], 2),
        **checks,
        "ok": checks["lost"] == 0
        and checks["duplicated"] == 0
        and checks["missed_by_tabs"] == 0
        and checks["never_acked"] == 0
        and len(synced) == len(live)
        and not initial_failures,
    }


async def check_messages(
    senders: list[StormClient], clients: list[StormClient], start_seq: dict[int, int]
) -> dict[str, int]:
    """Against the database (each sender's ``sync`` from where it started): nothing lost, nothing twice.

    ``lost``: acknowledged before the kill and not in the conversation;
    ``duplicated``: a ``client_id`` stored more than once; ``never_acked``: sent
    and not acknowledged even after the resend; ``missed_by_tabs``: a message
    acknowledged before the kill that a tab of its conversation has neither
    from a push nor from its catch-up.
    """
    lost = duplicated = never_acked = missed = checked = 0
    for sender in senders:
        if sender.synced_at is None:
            continue  # not back: its conversation is not checked (``senders_checked`` says how many were)
        checked += 1
        stored: Counter[str] = Counter()
        after = start_seq[id(sender)]
        while True:
            await sender.socket.send(
                json.dumps({"type": "sync", "conversation": sender.conversation, "after": after, "limit": PAGE_MAX})
            )
            page = await asyncio.wait_for(sender.answers.get(), 60)
            stored.update(e["client_id"] for e in page["events"] if isinstance(e.get("client_id"), str))
            if not page["has_more"] or not page["events"]:
                break
            after = page["events"][-1]["seq"]
        lost += sum(1 for c in sender.acked_before_kill if c not in stored)
        duplicated += sum(1 for c in sender.sent if stored[c] > 1)
        never_acked += sum(1 for c in sender.sent if c not in sender.acked)
        for tab in clients:
            if tab.conversation == sender.conversation and tab.synced_at is not None:
                missed += sum(1 for c in sender.acked_before_kill if c not in tab.seen)
    return {
        "senders_checked": checked,
        "lost": lost,
        "duplicated": duplicated,
        "never_acked": never_acked,
        "missed_by_tabs": missed,
    }


def _mb(kb: int | None) -> str:
    return f"{kb / 1024:.0f} MB" if kb else "n/a"


def _s(ms: float | None) -> str:
    return "n/a" if ms is None else f"{ms / 1000:.2f} s"


def format_storm(result: dict[str, Any], stack: dict[str, str]) -> str:
    back, synced = result["back"], result["synced"]
    failed = ", ".join(f"{k}: {v}" for k, v in result["failed_attempts"].items()) or "none"
    return "\n".join(
        [
            f"reconnect storm on {stack.get('database')} + {stack.get('channel_layer')}: {result['opened']} of "
            f"{result['clients']} sockets ({result['chat']} ws/chat/, {result['notifications']} ws/notifications/) "
            f"of {result['users']} users; load average {result['loadavg_1m_before_kill']} at the kill, "
            f"{result['loadavg_1m_at_end']} at the end",
            f"  opened first in {result['open_seconds']} s ({result['open_rate']}/s, {result['concurrency']} at once);"
            f" failures: {result['initial_failures'] or 'none'}",
            f"  {result['senders']} sending tabs: {result['acked_before_kill']} messages acked before the kill, "
            f"{result['in_flight_at_kill']} in flight at it",
            f"  SIGKILL at t=0; the restarted daphne answered /healthz at {result['restarted_after_s']} s",
            f"  all back:   {result['all_back_s']} s (p50 {_s(back['p50_ms'])}, p99 {_s(back['p99_ms'])});"
            f" not back: {result['not_back']}",
            f"  all synced: {result['all_synced_s']} s (p50 {_s(synced['p50_ms'])}, p99 {_s(synced['p99_ms'])});"
            f" not synced: {result['not_synced']}",
            f"  reconnect attempts: {result['attempts']}; failed ones by kind: {failed}",
            f"  restarted server: peak CPU {result['server_peak_cpu_percent']}% of a core (0.5 s samples), "
            f"{result['server_cpu_s']} s of CPU over the storm; peak RSS {_mb(result['server_peak_rss_kb'])}, "
            f"after {_mb(result['server_rss_after_kb'])}",
            f"  messages (the {result['senders_checked']} sending tabs that came back): lost {result['lost']},"
            f" duplicated {result['duplicated']}, never acked {result['never_acked']},"
            f" missed by a tab {result['missed_by_tabs']}; error frames: {result['error_frames'] or 'none'}",
            f"  {'OK' if result['ok'] else 'NOT OK'}",
        ]
    )
