"""A handshake daphne will refuse anyway is refused before its database work.

daphne refuses (403) a WebSocket handshake its application has not accepted
within ``websocket_connect_timeout`` (5 s), and autobahn drops one whose
opening handshake is not done within ``websocket_handshake_timeout`` (5 s).
In a reconnect storm the handshakes queue for the one database thread: a
handshake that reaches its consumer after most of those seconds would still
register presence and read its snapshot, then be thrown away, and the work
done for it makes every handshake behind it later too (measured in
docs/benchmark.md, issue 19: the storm). :class:`HandshakeClock` stamps each
WebSocket scope with its arrival, before the session lookup; a consumer
refuses a handshake older than ``MESSAGING_HANDSHAKE_BUDGET_SECONDS`` at once,
and the client's backoff brings it back.
"""

from __future__ import annotations

import time
from typing import Any

from .. import conf
from ..ops import metrics

#: the scope key holding the handshake's arrival (``time.monotonic()``)
ARRIVED = "linkup.handshake_arrived"
#: the scope key holding the handshake's :class:`Pending` mark
PENDING = "linkup.handshake_pending"


class Pending:
    """Whether an accepted handshake still counts as pending: set by the consumer, read by :class:`HandshakeClock`."""

    __slots__ = ("until_ready",)

    def __init__(self) -> None:
        self.until_ready = False


def pending_until_ready(scope: Any) -> None:
    """Keep this handshake counted after ``accept``, until the socket's first frame (its ready frame).

    For consumers that accept before their registration and snapshot, the
    work a storm of handshakes queues; other applications (the benchmark's
    relay, which never sends first) stop counting at ``accept``.
    """
    mark = scope.get(PENDING) if isinstance(scope, dict) else None
    if mark is not None:
        mark.until_ready = True


class HandshakeClock:
    """ASGI middleware: note when a WebSocket connection reached the application, and admit at most
    ``MESSAGING_MAX_PENDING_HANDSHAKES`` handshakes at once per process.

    A handshake is pending from its arrival until the application accepts or
    refuses it, or, for a consumer that asked (:func:`pending_until_ready`:
    LinkUp's, which accept before they register the socket), until its first
    frame (the ready frame, ``connected`` or ``unread_count``, sent after the
    registration and snapshot): ending those at ``accept`` left the
    registrations, the database work of a storm, unbounded. One that arrives
    with the
    process at its limit is refused at once (403), before its session lookup:
    cheap for the server, and the client's backoff spreads its retry. Admitted
    handshakes then wait behind at most that many others for the database
    thread instead of behind every client of a storm, which (unbounded) took
    each past daphne's 5 s and had them all refused after the work was done.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.pending = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        if scope.get("type") != "websocket":
            return await self.inner(scope, receive, send)
        if self.pending >= conf.max_pending_handshakes():
            metrics.HANDSHAKES_SHED.inc()
            if (await receive())["type"] == "websocket.connect":
                await send({"type": "websocket.close"})
            return None
        self.pending += 1
        settled = False

        def settle() -> None:
            nonlocal settled
            if not settled:
                settled = True
                self.pending -= 1

        mark = Pending()

        async def send_settling(message: dict[str, Any]) -> None:
            kind = message.get("type")
            if kind in ("websocket.send", "websocket.close") or (kind == "websocket.accept" and not mark.until_ready):
                settle()
            await send(message)

        try:
            return await self.inner({**scope, ARRIVED: time.monotonic(), PENDING: mark}, receive, send_settling)
        finally:
            settle()


def handshake_age(scope: Any) -> float | None:
    """Seconds since the handshake arrived, or None for a scope the clock did not stamp."""
    arrived = scope.get(ARRIVED) if isinstance(scope, dict) else None
    return None if arrived is None else time.monotonic() - arrived


#: a storm refuses thousands: this process records the first of each minute (the metric counts them all)
RECORD_EVERY_SECONDS = 60.0
_last_recorded: float | None = None


def record_this_one() -> bool:
    """Whether this late refusal is the one to record as a ``MessagingError`` (one a minute per process).

    Recording goes through the database thread, the queue the late
    handshakes are stuck in: every refusal recording would add to it.
    """
    global _last_recorded
    now = time.monotonic()
    if _last_recorded is not None and now - _last_recorded < RECORD_EVERY_SECONDS:
        return False
    _last_recorded = now
    return True
