"""Backpressure: the server holds at most ``MESSAGING_MAX_UNSENT_BYTES`` for a client that does not read.

Under daphne, a frame a consumer sends is written at once into Twisted's
write buffer for the connection, which has no bound: a client that stops
reading (a frozen tab, a phone behind a dead network, an attacker) makes the
server hold every frame pushed to it until the ping timeout. The project's
server (``linkup/server.py``) hands each WebSocket consumer a small object in
its scope, ``scope["extensions"]["linkup.transport"]``, whose
``pending_bytes()`` reads that buffer; the consumer checks it before every
frame it sends, and a socket over the bound is closed with
``CLOSE_NOT_READING`` (4408: reconnect and resume) instead of being sent more.
autobahn then waits at most a second for the client's close frame and aborts
the connection, which frees the buffer.

Without the project's server (``WebsocketCommunicator`` in tests, a plain
``daphne``) there is no such object and the bound is off.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, Protocol

#: the scope extension ``linkup/server.py`` fills in
TRANSPORT_EXTENSION = "linkup.transport"

#: how often a deferred delivery mark looks whether the client has taken what was pushed
DRAIN_POLL_SECONDS = 0.02


class Outbound(Protocol):
    """What a consumer may know of, and do to, its connection's outgoing bytes."""

    def pending_bytes(self) -> int:
        """Bytes written to the connection that the client has not taken yet (still in this process)."""

    def abort(self) -> None:
        """Drop the connection now, discarding what is buffered."""

    def hold_reading(self, seconds: float) -> None:
        """Read no frame from the client for ``seconds`` (what was read already still arrives)."""


def outbound_of(scope: Any) -> Outbound | None:
    extensions = scope.get("extensions") if isinstance(scope, dict) else None
    return (extensions or {}).get(TRANSPORT_EXTENSION)


class DeliveryGate:
    """The one-to-one view's delivery rule under backpressure.

    That view marks a message delivered when it pushes it (the first
    contract). With a bound on what the server holds, "pushed" must mean "the
    client took it": a frame still in the server's buffer is lost if the
    socket is then closed for not reading. So a pushed seq is reported as
    delivered once this socket's buffer has drained (polled every
    :data:`DRAIN_POLL_SECONDS`); if the socket closes first, nothing is
    reported and the client's next ``sync`` delivers it. Without an outbound
    probe every push is reported at once, as before.
    """

    def __init__(self, outbound: Outbound | None, report: Callable[[int], None]) -> None:
        self.outbound = outbound
        self.report = report
        self.waiting_seq = 0
        self.watcher: asyncio.Task[None] | None = None

    def pushed(self, seq: int) -> None:
        if self.outbound is None:
            self.report(seq)
            return
        self.waiting_seq = max(self.waiting_seq, seq)
        if self.watcher is None or self.watcher.done():
            self.watcher = asyncio.get_running_loop().create_task(self._when_drained())

    async def _when_drained(self) -> None:
        assert self.outbound is not None
        while self.waiting_seq:
            await asyncio.sleep(DRAIN_POLL_SECONDS)
            if self.outbound.pending_bytes() == 0:
                seq, self.waiting_seq = self.waiting_seq, 0
                self.report(seq)

    async def stop(self) -> None:
        """The socket closed: what is still waiting is not delivered."""
        self.waiting_seq = 0
        if self.watcher is not None:
            self.watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.watcher
