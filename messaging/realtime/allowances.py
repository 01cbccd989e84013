"""What one socket may ask of the server, checked before any work is done for it.

Every frame that costs the server something has an allowance, and a frame
over it is answered with that allowance's own code (``ping_rate_limited``,
``fetch_work_limited``...: :class:`messaging.exceptions.RateLimited`'s
subclasses) with ``retry_after`` and ``setting`` (never counted as a bad
frame: an honest client that is too fast is told when to come back, and
keeps its socket):

- messages and group changes draw from the user's bucket
  (``MESSAGING_RATE_LIMIT``, shared by every socket, process and the HTTP
  API; :mod:`messaging.guards.admission`), and a socket may have at most
  ``MESSAGING_MAX_IN_FLIGHT`` messages waiting for their commit;
- pings, typing, reports (received, read, view, mute, mark_read,
  mark_all_read) and fetches (sync, history, resume, conversations, members,
  list) have per-socket buckets in the consumer's memory: no round trip;
- fetches are also priced by the database work they cost, charged to the
  user across all their sockets, processes and the HTTP API
  (``MESSAGING_FETCH_WORK_LIMIT``, :mod:`messaging.guards.work`): a user in
  debt gets no fetch until it is paid.

All of it happens on the event loop before a frame reaches the database
thread or the shared write queue, so a flood costs the flooder's own
allowance and a few microseconds per refused frame, not everyone's latency.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator

from ..conf import Limits
from ..exceptions import (
    FetchRateLimited,
    PingRateLimited,
    RateLimited,
    ReportRateLimited,
    TooManyInFlight,
    TypingRateLimited,
)
from ..guards.admission import Admission, rate_limited
from ..guards.rate_limit import LocalBucket
from ..guards.work import WorkMeter, fetch_budget, metering, work_refusal

#: the per-socket allowance each frame type draws from (types not listed have none)
FRAME_ALLOWANCES: dict[str, str] = {
    "ping": "ping",
    "typing": "typing",
    "received": "report",
    "read": "report",
    "view": "report",
    "mute": "report",
    "pin": "report",
    "mark_read": "report",
    "mark_all_read": "report",
    "sync": "fetch",
    "history": "fetch",
    "resume": "fetch",
    "conversations": "fetch",
    "members": "fetch",
    "list": "fetch",
}

#: the refusal of each allowance (its code, and the setting it names)
ALLOWANCE_REFUSALS: dict[str, type[RateLimited]] = {
    "ping": PingRateLimited,
    "typing": TypingRateLimited,
    "report": ReportRateLimited,
    "fetch": FetchRateLimited,
}

# A socket at its in-flight cap has a batch being written; its acks come
# within a few milliseconds, so a quarter second is plenty and not a stall.
IN_FLIGHT_RETRY_SECONDS = 0.25


class SocketAllowances:
    """The per-socket buckets of one consumer."""

    def __init__(self, limits: Limits) -> None:
        self.buckets = {
            "ping": LocalBucket(limits.ping_rate),
            "typing": LocalBucket(limits.typing_rate),
            "report": LocalBucket(limits.report_rate),
            "fetch": LocalBucket(limits.fetch_rate),
        }
        self.work = fetch_budget(limits.fetch_work)
        #: until when (monotonic) this socket knows its user owes work: refused without asking the cache.
        #: Safe to remember: a debt only shrinks with time, and other sockets and processes only add to it.
        self.owed_until = 0.0

    async def check(self, frame_type: str, user_id: int | None = None) -> RateLimited | None:
        """Take a token for a frame of ``frame_type``; the refusal to answer when there is none.

        A fetch is also refused while ``user_id`` owes database work
        (:meth:`metered` charges it; one cache read, on Redis a round trip).
        """
        name = FRAME_ALLOWANCES.get(frame_type)
        if name is None:
            return None
        if name == "fetch" and user_id is not None:
            now = time.monotonic()
            owed = self.owed_until - now if self.owed_until > now else await self.work.await_(user_id)
            if owed:
                self.owed_until = now + owed
                return work_refusal(frame_type, owed)
        wait = self.buckets[name].take_or_wait()
        if not wait:
            return None
        refusal = ALLOWANCE_REFUSALS[name]
        return rate_limited(f"too many {frame_type} frames on this socket ({refusal.setting})", wait, refusal)

    def meters(self, frame_type: str) -> bool:
        """Whether a frame of ``frame_type`` is handled inside :meth:`metered` (a fetch, with a fetch budget)."""
        return FRAME_ALLOWANCES.get(frame_type) == "fetch" and self.work.rate is not None

    @contextlib.asynccontextmanager
    async def metered(self, user_id: int) -> AsyncIterator[WorkMeter]:
        """Around the handling of a frame that :meth:`meters`: its database time is charged to ``user_id`` afterwards."""
        with metering() as meter:
            try:
                yield meter
            finally:
                owed = await self.work.acharge(user_id, meter.seconds)
                if owed:
                    self.owed_until = time.monotonic() + owed


class MessageGate:
    """A socket's messages on their way to the shared write queue: its in-flight cap, then the user's token."""

    def __init__(self, limits: Limits, user_id: int) -> None:
        self.admission = Admission(limits)
        self.max_in_flight = limits.max_in_flight
        self.user_id = user_id
        self.in_flight = 0

    async def admit_message(self) -> RateLimited | None:
        """Let one message through (counted in flight until :meth:`finished`), or raise a ``RateLimited``.

        None: a token was taken, queue it. A refusal returned (not raised):
        the user is over their rate but within their repeat allowance, so the
        message may only be a repeat: look it up (one read), ack it if it is
        stored, answer the refusal if it is new.
        """
        if self.in_flight >= self.max_in_flight:
            raise rate_limited(
                f"{self.in_flight} messages of this socket are still waiting for their ack (MESSAGING_MAX_IN_FLIGHT)",
                IN_FLIGHT_RETRY_SECONDS,
                TooManyInFlight,
            )
        refusal = await self.admission.admit_or_repeat(self.user_id)
        self.in_flight += 1
        return refusal

    def finished(self) -> None:
        self.in_flight -= 1

    async def admit_event(self) -> None:
        """A group change: the user's token (it is awaited inline, so never more than one in flight)."""
        await self.admission.admit(self.user_id)

    async def repeated(self) -> None:
        """The store found the ``client_id`` already stored: free within the repeat allowance."""
        await self.admission.settle(self.user_id, created=False)

    async def refund(self) -> None:
        """The server failed to store it (not the client's doing): the token goes back."""
        await self.admission.refund(self.user_id)
