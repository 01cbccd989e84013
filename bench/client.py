"""The benchmark's load client: pairs of real WebSocket clients, timed frame by frame.

A *pair* is a sender socket and a recipient socket of one conversation (for
the relay: of one room). The sender keeps up to ``window`` messages in flight
(sent, not yet acknowledged); a message's latency runs from just before the
sender writes its frame to the moment the recipient's socket yields the
matching ``message`` frame. Every socket of every pair lives on one asyncio
loop, so the client's own scheduling delay is part of every figure, the same
for LinkUp and for the relay.

What LinkUp and the relay speak differs only in a :class:`Protocol`: which
path each socket opens, what counts as the sender's acknowledgement (LinkUp's
``ack``; the relay's echo of the frame to its own sender) and how a delivered
frame names its message.

Correctness is checked from both ends: each recipient records what it got
(duplicates, anything older than what it had already seen), and the
benchmark compares that with what the senders had acknowledged. For LinkUp, a
final ``sync`` from each recipient must return exactly the acknowledged
messages with gap-free ``seq`` (the database is the truth, the push is best
effort).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import websockets

from .relay import RELAY_PATH
from .stats import LatencySummary, summarize_latencies
from .wsclient import ChatClient, open_socket

#: error codes after which the client resends with the same ``client_id``
RETRYABLE = frozenset({"rate_limited", "server_error"})
MAX_RETRIES = 5
RETRY_DELAY = 0.5
#: frames the load client hands to ``ChatClient``'s queue; the rest are consumed on arrival
QUEUED_TYPES = frozenset({"connected", "sync", "pong"})


@dataclass(frozen=True)
class BenchUser:
    username: str
    cookie: str


@dataclass(frozen=True)
class Pair:
    index: int
    sender: BenchUser
    recipient: BenchUser


@dataclass(frozen=True)
class Ack:
    client_id: str
    message_id: Any = None
    seq: int | None = None


@dataclass(frozen=True)
class Failure:
    client_id: str | None
    code: str


@dataclass(frozen=True)
class Delivery:
    client_id: str
    order: int


class Protocol:
    """What one benchmark target speaks; see :class:`LinkUpProtocol` and :class:`RelayProtocol`."""

    name = ""
    #: whether a final ``sync`` can check the recipient's view against the database
    syncs = False

    def paths(self, pair: Pair, run_id: str) -> tuple[str, str]:
        """The sender's and the recipient's socket paths."""
        raise NotImplementedError

    def outgoing(self, client_id: str, content: str) -> str:
        return json.dumps({"type": "message", "content": content, "client_id": client_id})

    def sender_event(self, frame: dict[str, Any]) -> Ack | Failure | None:
        raise NotImplementedError

    def delivery(self, frame: dict[str, Any]) -> Delivery | None:
        raise NotImplementedError


class LinkUpProtocol(Protocol):
    """``ws/chat/<peer>/``: acknowledged by ``ack``, delivered as ``message``, ordered by ``seq``."""

    name = "linkup"
    syncs = True

    def paths(self, pair: Pair, run_id: str) -> tuple[str, str]:
        return f"/ws/chat/{pair.recipient.username}/", f"/ws/chat/{pair.sender.username}/"

    def sender_event(self, frame: dict[str, Any]) -> Ack | Failure | None:
        kind = frame.get("type")
        if kind == "ack":
            message = frame["message"]
            return Ack(frame["client_id"], message["id"], message["seq"])
        if kind == "error":
            return Failure(frame.get("client_id"), frame.get("code", "?"))
        return None

    def delivery(self, frame: dict[str, Any]) -> Delivery | None:
        if frame.get("type") != "message":
            return None
        message = frame["message"]
        return Delivery(message["client_id"], message["seq"])


class RelayProtocol(Protocol):
    """``ws/bench/relay/<room>/``: the echo to the sender is its ack; order is the send index."""

    name = "relay"

    def paths(self, pair: Pair, run_id: str) -> tuple[str, str]:
        path = "/" + RELAY_PATH.format(room=f"{run_id}-{pair.index}")
        return path, path

    def sender_event(self, frame: dict[str, Any]) -> Ack | Failure | None:
        if frame.get("type") == "message" and isinstance(frame.get("client_id"), str):
            return Ack(frame["client_id"])
        return None

    def delivery(self, frame: dict[str, Any]) -> Delivery | None:
        client_id = frame.get("client_id")
        if frame.get("type") != "message" or not isinstance(client_id, str):
            return None
        return Delivery(client_id, index_of(client_id))


PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (LinkUpProtocol(), RelayProtocol())}


def index_of(client_id: str) -> int:
    """The send index the benchmark wrote at the end of its ``client_id``s."""
    return int(client_id.rsplit("-", 1)[1])


class BenchSocket(ChatClient):
    """A ``ChatClient`` that timestamps each frame on arrival and hands it to a callback.

    Frames the callback does not want (``connected``, ``sync`` answers) still
    go to ``ChatClient``'s queue, so ``connect()`` and ``sync_all()`` work as usual.
    """

    def __init__(self, base_url: str, cookie: str, path: str, on_frame: Any) -> None:
        super().__init__(base_url, cookie, peer="", path=path)
        self.on_frame = on_frame

    async def _read(self) -> None:
        try:
            async for text in self.socket:
                received_at = time.perf_counter()
                frame = json.loads(text)
                if frame.get("type") in QUEUED_TYPES:
                    await self.frames.put(frame)
                else:
                    self.on_frame(frame, received_at)
        except websockets.ConnectionClosed:
            pass


@dataclass
class PhaseWindow:
    """The messages one phase (warm-up or measured) sent, by ``client_id``."""

    name: str
    client_ids: list[str] = field(default_factory=list)


class PairRun:
    """One pair's sockets and everything they sent and saw during a run."""

    def __init__(self, pair: Pair, protocol: Protocol, base_url: str, run_id: str, window: int, content: str) -> None:
        self.pair = pair
        self.protocol = protocol
        self.prefix = f"{run_id}-{pair.index}"
        self.window_size = window
        self.window = asyncio.Semaphore(window)
        self.content = content
        sender_path, recipient_path = protocol.paths(pair, run_id)
        self.sender = BenchSocket(base_url, pair.sender.cookie, sender_path, self._on_sender_frame)
        self.recipient = BenchSocket(base_url, pair.recipient.cookie, recipient_path, self._on_recipient_frame)
        self.next_index = 0
        self.sent_at: dict[str, float] = {}
        self.acked: dict[str, Ack] = {}
        self.failed: dict[str, str] = {}
        self.retries: Counter[str] = Counter()
        self.stray_errors: Counter[str] = Counter()
        self.received_at: dict[str, float] = {}
        self.duplicates = 0
        self.out_of_order = 0
        self.highest_order: int | None = None
        self.start_seq = 0
        self._retry_tasks: set[asyncio.Task] = set()

    # --- Sockets --------------------------------------------------------------

    async def connect(self) -> None:
        connected = await self.recipient.connect()
        self.start_seq = connected["last_seq"] if connected else 0
        await self.sender.connect()

    async def close(self) -> None:
        for task in self._retry_tasks:
            task.cancel()
        await asyncio.gather(self.sender.close(), self.recipient.close(), return_exceptions=True)

    # --- Sending --------------------------------------------------------------

    async def send_phase(self, phase: PhaseWindow, count: int | None, until: float | None) -> None:
        """Send ``count`` messages (or until ``until``), at most ``window`` unacknowledged."""
        sent = 0
        while (count is None or sent < count) and (until is None or time.perf_counter() < until):
            await self.window.acquire()
            client_id = f"{self.prefix}-{self.next_index}"
            self.next_index += 1
            phase.client_ids.append(client_id)
            self.sent_at[client_id] = time.perf_counter()
            await self.sender.socket.send(self.protocol.outgoing(client_id, self.content))
            sent += 1

    async def settle(self, timeout: float) -> bool:
        """Wait until nothing is in flight (every permit back); False on timeout."""
        taken = 0
        try:
            async with asyncio.timeout(timeout):
                while taken < self.window_size:
                    await self.window.acquire()
                    taken += 1
            return True
        except TimeoutError:
            return False
        finally:
            for _ in range(taken):
                self.window.release()

    def _on_sender_frame(self, frame: dict[str, Any], received_at: float) -> None:
        event = self.protocol.sender_event(frame)
        if isinstance(event, Ack):
            if event.client_id in self.sent_at and event.client_id not in self.acked:
                self.acked[event.client_id] = event
                self.window.release()
        elif isinstance(event, Failure):
            self._on_failure(event)

    def _on_failure(self, failure: Failure) -> None:
        client_id = failure.client_id
        if client_id is None or client_id not in self.sent_at or client_id in self.acked:
            self.stray_errors[failure.code] += 1
            return
        if failure.code in RETRYABLE and self.retries[client_id] < MAX_RETRIES:
            self.retries[client_id] += 1
            delay = RETRY_DELAY * self.retries[client_id]
            task = asyncio.get_running_loop().create_task(self._resend(client_id, delay))
            self._retry_tasks.add(task)
            task.add_done_callback(self._retry_tasks.discard)
            return
        if client_id not in self.failed:
            self.failed[client_id] = failure.code
            self.window.release()

    async def _resend(self, client_id: str, delay: float) -> None:
        """The contract's answer to ``rate_limited``/``server_error``: the same frame, later."""
        await asyncio.sleep(delay)
        await self.sender.socket.send(self.protocol.outgoing(client_id, self.content))

    # --- Receiving ------------------------------------------------------------

    def _on_recipient_frame(self, frame: dict[str, Any], received_at: float) -> None:
        delivery = self.protocol.delivery(frame)
        if delivery is None or not delivery.client_id.startswith(self.prefix + "-"):
            return
        if delivery.client_id in self.received_at:
            self.duplicates += 1
            return
        self.received_at[delivery.client_id] = received_at
        if self.highest_order is not None and delivery.order < self.highest_order:
            self.out_of_order += 1
        else:
            self.highest_order = delivery.order

    def undelivered(self) -> int:
        return sum(1 for client_id in self.acked if client_id not in self.received_at)

    # --- The database's view --------------------------------------------------

    async def verify_with_sync(self) -> dict[str, int]:
        """Compare the recipient's ``sync`` since connecting with what the sender had acked."""
        messages = await self.recipient.sync_all(after=self.start_seq)
        mine = [m for m in messages if str(m.get("client_id", "")).startswith(self.prefix + "-")]
        by_client_id = {m["client_id"]: m for m in mine}
        seqs = [m["seq"] for m in messages]
        expected_seqs = list(range(self.start_seq + 1, self.start_seq + len(messages) + 1))
        return {
            "synced": len(mine),
            "missing_in_sync": sum(1 for c in self.acked if c not in by_client_id),
            "mismatched_in_sync": sum(
                1
                for c, ack in self.acked.items()
                if c in by_client_id and (by_client_id[c]["id"], by_client_id[c]["seq"]) != (ack.message_id, ack.seq)
            ),
            "duplicated_in_sync": len(mine) - len(by_client_id),
            "seq_gaps": sum(1 for a, b in zip(seqs, expected_seqs, strict=True) if a != b),
            "foreign_in_sync": len(messages) - len(mine),
        }


async def connect_pairs(
    pairs: list[Pair], protocol: Protocol, base_url: str, run_id: str, window: int, content: str, concurrency: int = 16
) -> list[PairRun]:
    runs = [PairRun(pair, protocol, base_url, run_id, window, content) for pair in pairs]
    gate = asyncio.Semaphore(concurrency)

    async def connect(run: PairRun) -> None:
        async with gate:
            await run.connect()

    await asyncio.gather(*(connect(run) for run in runs))
    return runs


async def run_phase(
    runs: list[PairRun],
    name: str,
    *,
    messages: int | None,
    duration: float | None,
    settle_timeout: float,
    drain_timeout: float,
) -> dict[str, Any]:
    """Every pair sends at once; wait for the acks, then for the deliveries; summarize."""
    phases = [PhaseWindow(name) for _ in runs]
    until = time.perf_counter() + duration if duration else None
    started = time.perf_counter()
    await asyncio.gather(*(run.send_phase(phase, messages, until) for run, phase in zip(runs, phases, strict=True)))
    settled = await asyncio.gather(*(run.settle(settle_timeout) for run in runs))
    deadline = time.perf_counter() + drain_timeout
    while any(run.undelivered() for run in runs) and time.perf_counter() < deadline:
        await asyncio.sleep(0.005)
    return summarize_phase(runs, phases, started, all(settled))


def summarize_phase(runs: list[PairRun], phases: list[PhaseWindow], started: float, settled: bool) -> dict[str, Any]:
    latencies: list[float] = []
    in_send_order: list[tuple[float, float]] = []
    first_send: float | None = None
    last_delivery: float | None = None
    sent = acked = failed = delivered = lost = 0
    for run, phase in zip(runs, phases, strict=True):
        for client_id in phase.client_ids:
            sent += 1
            sent_at = run.sent_at[client_id]
            first_send = sent_at if first_send is None else min(first_send, sent_at)
            if client_id in run.failed:
                failed += 1
            if client_id not in run.acked:
                continue
            acked += 1
            received_at = run.received_at.get(client_id)
            if received_at is None:
                lost += 1
                continue
            delivered += 1
            latencies.append(received_at - sent_at)
            in_send_order.append((sent_at, received_at - sent_at))
            last_delivery = received_at if last_delivery is None else max(last_delivery, received_at)
    elapsed = (last_delivery - first_send) if last_delivery is not None and first_send is not None else None
    latency: LatencySummary = summarize_latencies(latencies)
    in_send_order.sort()
    tenth = max(1, len(in_send_order) // 10)
    first = summarize_latencies([value for _, value in in_send_order[:tenth]])["p50_ms"]
    last = summarize_latencies([value for _, value in in_send_order[-tenth:]])["p50_ms"]
    return {
        "phase": phases[0].name if phases else "",
        "sent": sent,
        "acked": acked,
        "failed": failed,
        "unacked": sent - acked - failed,
        "delivered": delivered,
        "lost": lost,
        "settled": settled,
        "elapsed_s": round(elapsed, 4) if elapsed else None,
        "throughput_msg_s": round(delivered / elapsed, 1) if elapsed else None,
        "latency": latency,
        # p50 of the first and the last tenth of the messages sent: a latency
        # that grows through the run means a queue building up somewhere.
        "p50_first_tenth_ms": first,
        "p50_last_tenth_ms": last,
    }


def correctness(runs: list[PairRun], sync_checks: list[dict[str, int]] | None) -> dict[str, Any]:
    """Totals over the whole run (warm-up included) of everything that must be zero."""
    report: dict[str, Any] = {
        "acked": sum(len(r.acked) for r in runs),
        "received": sum(len(r.received_at) for r in runs),
        "lost": sum(r.undelivered() for r in runs),
        "duplicated": sum(r.duplicates for r in runs),
        "out_of_order": sum(r.out_of_order for r in runs),
        "failed": sum(len(r.failed) for r in runs),
        "failed_codes": dict(sum((Counter(r.failed.values()) for r in runs), Counter())),
        "unacked": sum(len(r.sent_at) - len(r.acked) - len(r.failed) for r in runs),
        "retries": sum(sum(r.retries.values()) for r in runs),
        "stray_errors": dict(sum((r.stray_errors for r in runs), Counter())),
    }
    if sync_checks is not None:
        for key in sync_checks[0] if sync_checks else ():
            report[key] = sum(check[key] for check in sync_checks)
    must_be_zero = ["lost", "duplicated", "out_of_order", "failed", "unacked"]
    must_be_zero += ["missing_in_sync", "mismatched_in_sync", "duplicated_in_sync", "seq_gaps"] if sync_checks else []
    report["ok"] = all(report.get(key, 0) == 0 for key in must_be_zero) and not report["stray_errors"]
    return report


# --- Idle sockets -------------------------------------------------------------------


async def open_idle_sockets(
    base_url: str,
    targets: list[tuple[str, str]],
    *,
    wait_for_connected: bool,
    concurrency: int = 16,
) -> tuple[list[Any], Counter[str]]:
    """Open one socket per ``(path, cookie)``; return the open ones and why the others failed.

    A LinkUp socket counts as open once its ``connected`` frame arrived (the
    server has done all its per-socket work); a relay socket once accepted.
    The client reads nothing after that: the sockets just sit there, as idle
    browser tabs do. ``concurrency`` handshakes are in progress at once: daphne
    refuses (403) a handshake the application has not accepted within its
    ``websocket_connect_timeout`` (5 s), and a LinkUp handshake queues for the
    database thread, so a storm of them gets refused.
    """
    gate = asyncio.Semaphore(concurrency)

    async def open_one(path: str, cookie: str) -> Any:
        async with gate:
            socket = await open_socket(base_url, path, cookie, open_timeout=30)
            if wait_for_connected:
                frame = json.loads(await asyncio.wait_for(socket.recv(), 30))
                if frame.get("type") != "connected":
                    await socket.close()
                    raise RuntimeError(f"expected a connected frame, got {frame.get('type')}")
            return socket

    results = await asyncio.gather(*(open_one(path, cookie) for path, cookie in targets), return_exceptions=True)
    sockets = [r for r in results if not isinstance(r, BaseException)]
    failures = Counter(f"{type(r).__name__}: {r}"[:200] for r in results if isinstance(r, BaseException))
    return sockets, failures


async def close_sockets(sockets: list[Any], concurrency: int = 64) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def close(socket: Any) -> None:
        async with gate:
            await socket.close()

    await asyncio.gather(*(close(s) for s in sockets), return_exceptions=True)
