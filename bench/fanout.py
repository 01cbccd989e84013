"""The group run: one sender, many recipients online, fan-out latency to each of them.

One member of the benchmark group sends; ``K`` other members have a socket
open (on LinkUp, ``ws/chat/``, viewing the group; on the relay, the same
users' sockets joined to one room, to which the relay broadcasts the
sender's frame). With ``confirm`` the LinkUp recipients also confirm what
they get with ``received`` as a browser does; each confirmation moves a
cursor that is announced to every member's sockets, so a message to ``K``
online members then costs about ``K * K`` receipt frames besides its ``K``
event frames, and what the run measures is mostly that (see
``docs/benchmark.md``); without it the run measures the fan-out alone. The
sender keeps at most ``window`` messages *unfinished*: a message is finished
once it is acknowledged and every recipient got it (or ``message_timeout``
passed, and whoever did not get it counts as lost). With a window of 1, the
messages go one at a time, and each one's fan-out is measured alone.

Per message and recipient, the latency runs from just before the sender
writes its frame to the moment that recipient's socket yields it; the report
gives its percentiles over every (message, recipient) pair, and over messages
the time until the *last* recipient got it.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import websockets

from .client import (
    MAX_RETRIES,
    RETRY_DELAY,
    RETRYABLE,
    Ack,
    BenchSocket,
    BenchUser,
    Confirmer,
    Failure,
    Protocol,
    check_sync,
)
from .stats import summarize_latencies


@dataclass
class Recipient:
    """One recipient socket and what it got."""

    user: BenchUser
    socket: BenchSocket
    confirmer: Confirmer | None
    received_at: dict[str, float] = field(default_factory=dict)
    duplicates: int = 0
    out_of_order: int = 0
    highest_order: int | None = None


@dataclass
class Unfinished:
    """A message some recipients have not got yet."""

    waiting_for: int
    acked: bool = False
    timer: asyncio.TimerHandle | None = None


class GroupRun:
    """The sender's socket and the recipients' sockets of one group run, on one target."""

    def __init__(
        self,
        protocol: Protocol,
        base_url: str,
        run_id: str,
        conversation: int | None,
        sender: BenchUser,
        recipients: list[BenchUser],
        *,
        window: int,
        content: str,
        message_timeout: float,
        confirm: bool = False,
    ) -> None:
        self.protocol = protocol
        self.conversation = conversation
        self.prefix = f"{run_id}-g"
        self.content = content
        self.window_size = window
        self.window = asyncio.Semaphore(window)
        self.message_timeout = message_timeout
        self.confirm = confirm and protocol.confirms
        path = protocol.room_path(f"{run_id}-group")
        self.sender = BenchSocket(base_url, sender.cookie, path, self._on_sender_frame)
        self.recipients = [self._recipient(base_url, path, user) for user in recipients]
        self.next_index = 0
        self.start_seq = 0
        self.sent_at: dict[str, float] = {}
        self.acked: dict[str, Ack] = {}
        self.failed: dict[str, str] = {}
        self.retries: Counter[str] = Counter()
        self.stray_errors: Counter[str] = Counter()
        self.unfinished: dict[str, Unfinished] = {}
        self.timed_out = 0
        #: recipient handshakes tried again (reported: they mean the server was slow to accept)
        self.reconnects = 0
        self._retry_tasks: set[asyncio.Task] = set()

    def _recipient(self, base_url: str, path: str, user: BenchUser) -> Recipient:
        socket = BenchSocket(base_url, user.cookie, path, None)
        recipient = Recipient(user, socket, Confirmer(socket) if self.confirm else None)
        socket.on_frame = lambda frame, at: self._on_recipient_frame(recipient, frame, at)
        return recipient

    # --- Sockets --------------------------------------------------------------

    async def connect(self, concurrency: int = 16, attempts: int = 3) -> None:
        """Open every recipient socket (``concurrency`` handshakes at a time), then the sender's.

        A handshake the server dropped is tried again (``attempts`` in all), as
        a browser reconnects: on a busy machine daphne drops a handshake its
        application did not accept within 5 s.
        """
        gate = asyncio.Semaphore(concurrency)

        async def open_one(recipient: Recipient) -> int:
            async with gate:
                for attempt in range(1, attempts + 1):
                    try:
                        await recipient.socket.connect()
                        break
                    except (TimeoutError, OSError, websockets.InvalidHandshake):
                        if attempt == attempts:
                            raise
                        await recipient.socket.close()
                        self.reconnects += 1
                        await asyncio.sleep(attempt)
                return await self.protocol.opened(recipient.socket, self.conversation, view=True)

        starts = await asyncio.gather(*(open_one(r) for r in self.recipients))
        self.start_seq = max(starts, default=0)
        await self.sender.connect()
        await self.protocol.opened(self.sender, self.conversation, view=True)

    async def close(self) -> None:
        for task in self._retry_tasks:
            task.cancel()
        for recipient in self.recipients:
            if recipient.confirmer is not None:
                recipient.confirmer.stop()
        gate = asyncio.Semaphore(64)

        async def close_one(socket: BenchSocket) -> None:
            async with gate:
                await socket.close()

        await asyncio.gather(
            close_one(self.sender), *(close_one(r.socket) for r in self.recipients), return_exceptions=True
        )

    # --- Sending --------------------------------------------------------------

    async def send_phase(self, count: int) -> list[str]:
        """Send ``count`` messages, at most ``window`` unfinished; wait until all are finished."""
        client_ids = []
        for _ in range(count):
            await self.window.acquire()
            client_id = f"{self.prefix}-{self.next_index}"
            self.next_index += 1
            client_ids.append(client_id)
            timer = asyncio.get_running_loop().call_later(self.message_timeout, self._give_up, client_id)
            self.unfinished[client_id] = Unfinished(waiting_for=len(self.recipients), timer=timer)
            self.sent_at[client_id] = time.perf_counter()
            await self.sender.socket.send(self.protocol.outgoing(self.conversation, client_id, self.content))
        for _ in range(self.window_size):
            await self.window.acquire()
        for _ in range(self.window_size):
            self.window.release()
        return client_ids

    def _finish(self, client_id: str) -> None:
        pending = self.unfinished.pop(client_id, None)
        if pending is None:
            return
        if pending.timer is not None:
            pending.timer.cancel()
        self.window.release()

    def _give_up(self, client_id: str) -> None:
        if client_id in self.unfinished:
            self.timed_out += 1
            self._finish(client_id)

    def _on_sender_frame(self, frame: dict[str, Any], received_at: float) -> None:
        event = self.protocol.sender_event(frame)
        if isinstance(event, Ack):
            if event.client_id in self.sent_at and event.client_id not in self.acked:
                self.acked[event.client_id] = event
                pending = self.unfinished.get(event.client_id)
                if pending is not None:
                    pending.acked = True
                    if pending.waiting_for == 0:
                        self._finish(event.client_id)
        elif isinstance(event, Failure):
            self._on_failure(event)

    def _on_failure(self, failure: Failure) -> None:
        client_id = failure.client_id
        if client_id is None or client_id not in self.sent_at or client_id in self.acked:
            self.stray_errors[failure.code] += 1
            return
        if failure.code in RETRYABLE and self.retries[client_id] < MAX_RETRIES:
            self.retries[client_id] += 1
            task = asyncio.get_running_loop().create_task(
                self._resend(client_id, RETRY_DELAY * self.retries[client_id])
            )
            self._retry_tasks.add(task)
            task.add_done_callback(self._retry_tasks.discard)
            return
        if client_id not in self.failed:
            self.failed[client_id] = failure.code
            self._finish(client_id)

    async def _resend(self, client_id: str, delay: float) -> None:
        await asyncio.sleep(delay)
        await self.sender.socket.send(self.protocol.outgoing(self.conversation, client_id, self.content))

    # --- Receiving ------------------------------------------------------------

    def _on_recipient_frame(self, recipient: Recipient, frame: dict[str, Any], received_at: float) -> None:
        delivery = self.protocol.delivery(frame)
        if delivery is None:
            if frame.get("type") == "error":
                self.stray_errors[frame.get("code", "?")] += 1
            return
        if not delivery.client_id.startswith(self.prefix + "-"):
            return
        if recipient.confirmer is not None and delivery.conversation is not None:
            recipient.confirmer.saw(delivery.conversation, delivery.order)
        if delivery.client_id in recipient.received_at:
            recipient.duplicates += 1
            return
        recipient.received_at[delivery.client_id] = received_at
        if recipient.highest_order is not None and delivery.order < recipient.highest_order:
            recipient.out_of_order += 1
        else:
            recipient.highest_order = delivery.order
        pending = self.unfinished.get(delivery.client_id)
        if pending is not None:
            pending.waiting_for -= 1
            if pending.waiting_for == 0 and pending.acked:
                self._finish(delivery.client_id)

    # --- Results --------------------------------------------------------------

    def summarize(self, client_ids: list[str]) -> dict[str, Any]:
        """Fan-out latencies of these messages: per (message, recipient), and until the last recipient."""
        each: list[float] = []
        last: list[float] = []
        first_send = last_delivery = None
        delivered = lost = acked = 0
        for client_id in client_ids:
            sent_at = self.sent_at[client_id]
            first_send = sent_at if first_send is None else min(first_send, sent_at)
            if client_id not in self.acked:
                continue
            acked += 1
            times = [r.received_at[client_id] for r in self.recipients if client_id in r.received_at]
            delivered += len(times)
            lost += len(self.recipients) - len(times)
            each += [t - sent_at for t in times]
            if times:
                last_delivery = max(times) if last_delivery is None else max(last_delivery, max(times))
            if len(times) == len(self.recipients) and times:
                last.append(max(times) - sent_at)
        elapsed = last_delivery - first_send if first_send is not None and last_delivery is not None else None
        return {
            "sent": len(client_ids),
            "acked": acked,
            "recipients": len(self.recipients),
            "deliveries": delivered,
            "lost_deliveries": lost,
            "elapsed_s": round(elapsed, 4) if elapsed else None,
            "messages_per_s": round(acked / elapsed, 1) if elapsed else None,
            "deliveries_per_s": round(delivered / elapsed, 1) if elapsed else None,
            "fanout": summarize_latencies(each),
            "last_recipient": summarize_latencies(last),
        }

    async def verify_with_sync(self) -> dict[str, int] | None:
        """The group's log as one recipient's ``sync`` shows it, against the acks."""
        if not self.protocol.syncs or not self.recipients:
            return None
        messages = await self.protocol.sync_messages(self.recipients[0].socket, self.conversation, self.start_seq)
        return check_sync(messages, self.acked, self.prefix, self.start_seq)

    def correctness(self, sync_check: dict[str, int] | None) -> dict[str, Any]:
        """Totals over the whole run (warm-up included) of everything that must be zero."""
        expected = len(self.acked) * len(self.recipients)
        received = sum(sum(1 for c in r.received_at if c in self.acked) for r in self.recipients)
        report: dict[str, Any] = {
            "acked": len(self.acked),
            "deliveries_expected": expected,
            "received": received,
            "lost": expected - received,
            "duplicated": sum(r.duplicates for r in self.recipients),
            "out_of_order": sum(r.out_of_order for r in self.recipients),
            "failed": len(self.failed),
            "failed_codes": dict(Counter(self.failed.values())),
            "unacked": len(self.sent_at) - len(self.acked) - len(self.failed),
            "timed_out": self.timed_out,
            "reconnects": self.reconnects,
            "retries": sum(self.retries.values()),
            "received_frames": sum(r.confirmer.frames_sent for r in self.recipients if r.confirmer is not None),
            "stray_errors": dict(self.stray_errors),
        }
        if sync_check is not None:
            report.update(sync_check)
        must_be_zero = ["lost", "duplicated", "out_of_order", "failed", "unacked"]
        if sync_check is not None:
            must_be_zero += ["missing_in_sync", "mismatched_in_sync", "duplicated_in_sync", "seq_gaps"]
        report["ok"] = all(report[key] == 0 for key in must_be_zero) and not report["stray_errors"]
        return report
