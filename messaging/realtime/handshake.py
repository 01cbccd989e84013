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

#: the scope key holding the handshake's arrival (``time.monotonic()``)
ARRIVED = "linkup.handshake_arrived"


class HandshakeClock:
    """ASGI middleware: note when a WebSocket connection reached the application."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        return await self.inner({**scope, ARRIVED: time.monotonic()}, receive, send)


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
