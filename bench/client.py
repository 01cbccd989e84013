"""The benchmark's load client: pairs of real WebSocket clients, timed frame by frame.

A *pair* is a sender socket and a recipient socket of one conversation (for
the relay: of one room). The sender keeps up to ``window`` messages in flight
(sent, not yet acknowledged); a message's latency runs from just before the
sender writes its frame to the moment the recipient's socket yields the
matching frame. Every socket of every pair lives on one asyncio loop, so the
client's own scheduling delay is part of every figure, the same for LinkUp
and for the relay.

What LinkUp and the relay speak differs only in a :class:`Protocol`: which
path each socket opens, what it says once open, what counts as the sender's
acknowledgement (LinkUp's ``ack``; the relay's echo of the frame to its own
sender), how a delivered frame names its message, and whether the recipient
confirms what it got (``received``, as a browser on ``ws/chat/`` does).

Correctness is checked from both ends: each recipient records what it got
(duplicates, anything older than what it had already seen), and the
benchmark compares that with what the senders had acknowledged. For LinkUp, a
final ``sync`` of each conversation must return exactly the acknowledged
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

#: error codes after which the client resends with the same ``client_id`` (every limit on a message, and a failed store)
RETRYABLE = frozenset({"rate_limited", "too_many_in_flight", "server_error"})
MAX_RETRIES = 5
RETRY_DELAY = 0.5
#: frames the load client hands to ``ChatClient``'s queue; the rest are consumed on arrival
QUEUED_TYPES = frozenset({"connected", "sync", "pong"})
#: a browser confirms what it got at most this often per conversation (``received`` coalesced per burst)
CONFIRM_INTERVAL = 0.05


@dataclass(frozen=True)
class BenchUser:
    username: str
    cookie: str


@dataclass(frozen=True)
class Pair:
    index: int
    sender: BenchUser
    recipient: BenchUser
    #: the pair's direct conversation (``ws/chat/`` names it in every frame)
    conversation: int | None = None


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
    conversation: int | None = None


@dataclass(frozen=True)
class Synced:
    """One message as the final ``sync`` returned it."""

    client_id: str
    message_id: Any
    seq: int


class Protocol:
    """What one benchmark target speaks; see :class:`LinkUpProtocol`, :class:`DirectProtocol`, :class:`RelayProtocol`."""

    name = ""
    #: whether a final ``sync`` can check the recipient's view against the database
    syncs = False
    #: whether a recipient confirms what it got with ``received`` frames
    confirms = False

    def paths(self, pair: Pair, run_id: str) -> tuple[str, str]:
        """The sender's and the recipient's socket paths."""
        raise NotImplementedError

    def room_path(self, room: str) -> str:
        """The path of every socket of a group run (the relay: one room; LinkUp: the user socket)."""
        raise NotImplementedError

    def outgoing(self, conversation: int | None, client_id: str, content: str) -> str:
        return json.dumps({"type": "message", "content": content, "client_id": client_id})

    def sender_event(self, frame: dict[str, Any]) -> Ack | Failure | None:
        raise NotImplementedError

    def delivery(self, frame: dict[str, Any]) -> Delivery | None:
        raise NotImplementedError

    async def opened(self, socket: BenchSocket, conversation: int | None, *, view: bool) -> int:
        """What a client does once its socket is open; the conversation's last seq then (0 if not known)."""
        return 0

    async def sync_messages(self, socket: BenchSocket, conversation: int | None, after: int) -> list[Synced]:
        raise NotImplementedError


class LinkUpProtocol(Protocol):
    """``ws/chat/``: a message names its conversation, is acked with ``ack`` and pushed as ``event``.

    The recipient views its conversation (an open chat page: no notification
    is made for it) and confirms what it got with ``received``.
    """

    name = "linkup"
    syncs = True
    confirms = True

    def paths(self, pair: Pair, run_id: str) -> tuple[str, str]:
        return "/ws/chat/", "/ws/chat/"

    def room_path(self, room: str) -> str:
        return "/ws/chat/"

    def outgoing(self, conversation: int | None, client_id: str, content: str) -> str:
        return json.dumps({"type": "message", "conversation": conversation, "content": content, "client_id": client_id})

    def sender_event(self, frame: dict[str, Any]) -> Ack | Failure | None:
        kind = frame.get("type")
        if kind == "ack":
            event = frame["event"]
            return Ack(frame["client_id"], event["id"], event["seq"])
        if kind == "error":
            return Failure(frame.get("client_id"), frame.get("code", "?"))
        return None

    def delivery(self, frame: dict[str, Any]) -> Delivery | None:
        if frame.get("type") != "event":
            return None
        event = frame["event"]
        if event.get("kind") != "message" or not isinstance(event.get("client_id"), str):
            return None
        return Delivery(event["client_id"], event["seq"], event["conversation"])

    async def opened(self, socket: BenchSocket, conversation: int | None, *, view: bool) -> int:
        if view:
            await socket.send({"type": "view", "conversation": conversation})
        await socket.send({"type": "sync", "conversation": conversation, "after": 0, "limit": 1})
        return (await socket.expect("sync", timeout=30))["last_seq"]

    async def sync_messages(self, socket: BenchSocket, conversation: int | None, after: int) -> list[Synced]:
        events = await socket.sync_events(conversation, after)
        return [Synced(e.get("client_id") or "", e["id"], e["seq"]) for e in events]


class DirectProtocol(Protocol):
    """``ws/chat/<peer>/``, the one-to-one view: acked with ``ack`` of ``M``, pushed as ``message``.

    That view marks a message delivered when it pushes it, so its client
    confirms nothing.
    """

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

    async def opened(self, socket: BenchSocket, conversation: int | None, *, view: bool) -> int:
        return socket.connected["last_seq"] if socket.connected else 0

    async def sync_messages(self, socket: BenchSocket, conversation: int | None, after: int) -> list[Synced]:
        messages = await socket.sync_all(after=after)
        return [Synced(str(m.get("client_id", "")), m["id"], m["seq"]) for m in messages]


class RelayProtocol(Protocol):
    """``ws/bench/relay/<room>/``: the echo to the sender is its ack; order is the send index."""

    name = "relay"

    def paths(self, pair: Pair, run_id: str) -> tuple[str, str]:
        path = self.room_path(f"{run_id}-{pair.index}")
        return path, path

    def room_path(self, room: str) -> str:
        return "/" + RELAY_PATH.format(room=room)

    def sender_event(self, frame: dict[str, Any]) -> Ack | Failure | None:
        if frame.get("type") == "message" and isinstance(frame.get("client_id"), str):
            return Ack(frame["client_id"])
        return None

    def delivery(self, frame: dict[str, Any]) -> Delivery | None:
        client_id = frame.get("client_id")
        if frame.get("type") != "message" or not isinstance(client_id, str):
            return None
        return Delivery(client_id, index_of(client_id))


#: the LinkUp endpoints ``--endpoint`` chooses from
ENDPOINTS: dict[str, Protocol] = {"chat": LinkUpProtocol(), "direct": DirectProtocol()}
RELAY = RelayProtocol()


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


class Confirmer:
    """A browser's delivery confirmations: one ``received`` per conversation per burst.

    The first event of a burst starts a :data:`CONFIRM_INTERVAL` timer; when it
    fires, the highest seq seen in each conversation is confirmed in one frame.
    """

    def __init__(self, socket: BenchSocket, interval: float = CONFIRM_INTERVAL) -> None:
        self.socket = socket
        self.interval = interval
        self.seen: dict[int, int] = {}
        self.confirmed: dict[int, int] = {}
        self.frames_sent = 0
        self._timer: asyncio.TimerHandle | None = None
        self._sending: set[asyncio.Task] = set()

    def saw(self, conversation: int, seq: int) -> None:
        if seq > self.seen.get(conversation, 0):
            self.seen[conversation] = seq
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.interval, self._flush)

    def _flush(self) -> None:
        self._timer = None
        for conversation, seq in self.seen.items():
            if seq > self.confirmed.get(conversation, 0):
                self.confirmed[conversation] = seq
                self.frames_sent += 1
                task = asyncio.get_running_loop().create_task(
                    self.socket.send({"type": "received", "conversation": conversation, "up_to": seq})
                )
                self._sending.add(task)
                task.add_done_callback(self._sending.discard)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for task in self._sending:
            task.cancel()


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
        self.confirmer = Confirmer(self.recipient) if protocol.confirms else None
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
        """Open both sockets; both view their conversation (open chat pages), the recipient reads where it starts."""
        await self.recipient.connect()
        self.start_seq = await self.protocol.opened(self.recipient, self.pair.conversation, view=True)
        await self.sender.connect()
        await self.protocol.opened(self.sender, self.pair.conversation, view=True)

    async def close(self) -> None:
        for task in self._retry_tasks:
            task.cancel()
        if self.confirmer is not None:
            self.confirmer.stop()
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
            await self.sender.socket.send(self.protocol.outgoing(self.pair.conversation, client_id, self.content))
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
        await self.sender.socket.send(self.protocol.outgoing(self.pair.conversation, client_id, self.content))

    # --- Receiving ------------------------------------------------------------

    def _on_recipient_frame(self, frame: dict[str, Any], received_at: float) -> None:
        delivery = self.protocol.delivery(frame)
        if delivery is None or not delivery.client_id.startswith(self.prefix + "-"):
            return
        if self.confirmer is not None and delivery.conversation is not None:
            self.confirmer.saw(delivery.conversation, delivery.order)
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
        """Compare the recipient's ``sync`` of the conversation since connecting with what the sender had acked."""
        messages = await self.protocol.sync_messages(self.recipient, self.pair.conversation, self.start_seq)
        return check_sync(messages, self.acked, self.prefix, self.start_seq)

    def confirmations(self) -> int:
        return self.confirmer.frames_sent if self.confirmer is not None else 0


def check_sync(messages: list[Synced], acked: dict[str, Ack], prefix: str, start_seq: int) -> dict[str, int]:
    """What a final ``sync`` after ``start_seq`` shows against the acks: every acked message once, gap-free, in order."""
    mine = [m for m in messages if m.client_id.startswith(prefix + "-")]
    by_client_id = {m.client_id: m for m in mine}
    seqs = [m.seq for m in messages]
    expected_seqs = list(range(start_seq + 1, start_seq + len(messages) + 1))
    return {
        "synced": len(mine),
        "missing_in_sync": sum(1 for c in acked if c not in by_client_id),
        "mismatched_in_sync": sum(
            1
            for c, ack in acked.items()
            if c in by_client_id and (by_client_id[c].message_id, by_client_id[c].seq) != (ack.message_id, ack.seq)
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
        "received_frames": sum(r.confirmations() for r in runs),
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


#: the first frame a LinkUp socket gets once the server has done its per-socket work
READY_FRAMES = {"/ws/chat/": "connected", "/ws/notifications/": "unread_count"}


async def open_idle_sockets(
    base_url: str,
    targets: list[tuple[str, str]],
    *,
    wait_for_connected: bool,
    concurrency: int = 16,
) -> tuple[list[Any], Counter[str]]:
    """Open one socket per ``(path, cookie)``; return the open ones and why the others failed.

    A LinkUp socket counts as open once its first frame arrived (``connected``
    on the chat socket, ``unread_count`` on the bell's: the server has done
    all its per-socket work); a relay socket once accepted.
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
                ready = READY_FRAMES.get(path, "connected")
                frame = json.loads(await asyncio.wait_for(socket.recv(), 30))
                if frame.get("type") != ready:
                    await socket.close()
                    raise RuntimeError(f"expected a {ready} frame, got {frame.get('type')}")
            return socket

    results = await asyncio.gather(*(open_one(path, cookie) for path, cookie in targets), return_exceptions=True)
    sockets = [r for r in results if not isinstance(r, BaseException)]
    failures = Counter(f"{type(r).__name__}: {r}"[:200] for r in results if isinstance(r, BaseException))
    return sockets, failures


async def heartbeat_round(sockets: list[Any], concurrency: int = 64) -> Counter[str]:
    """Every socket sends the browser's heartbeat (``ping``) and reads up to its ``pong``; why any failed.

    What arrived on an idle socket meanwhile (presence of other idle users
    coming online) is read and dropped on the way, as a tab would read it.
    """
    gate = asyncio.Semaphore(concurrency)

    async def one(socket: Any) -> None:
        async with gate:
            await socket.send(json.dumps({"type": "ping"}))
            while json.loads(await asyncio.wait_for(socket.recv(), 30)).get("type") != "pong":
                pass

    results = await asyncio.gather(*(one(socket) for socket in sockets), return_exceptions=True)
    return Counter(f"{type(r).__name__}: {r}"[:200] for r in results if isinstance(r, BaseException))


async def close_sockets(sockets: list[Any], concurrency: int = 64) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def close(socket: Any) -> None:
        async with gate:
            await socket.close()

    await asyncio.gather(*(close(s) for s in sockets), return_exceptions=True)
