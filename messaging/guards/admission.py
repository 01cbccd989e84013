"""Whether a user may add one more event now: checked before any database work.

A refusal must cost nothing the other users share: no trip to the database
thread, no place in the shared write queue (``realtime/writer.py``). So the
user's token is taken at the edge, on the event loop (``redis.asyncio`` on the
deployment stack) or in the HTTP view's own thread, and only a message that
got one is queued.

Repeats (a resend with a ``client_id`` already stored) are answered with the
first event's ack. A repeat is known only once the store has looked, so it
takes its token like any message, and the token is given back while the
user's repeats stay within ``MESSAGING_REPEAT_RATE_LIMIT`` (an outbox resent
after a reconnect); beyond that a repeat costs a token, so a repeat storm is
rate limited like a message storm.
"""

from __future__ import annotations

from typing import Any

from ..conf import Limits
from ..exceptions import RateLimited
from .rate_limit import TokenBucket

TOO_MANY = "too many messages (MESSAGING_RATE_LIMIT); try again after retry_after seconds"


def rate_limited(detail: str, wait: float, kind: type[RateLimited] = RateLimited, **context: Any) -> RateLimited:
    """The refusal (``kind``: the allowance's own code) for a wait of ``wait`` seconds.

    ``retry_after`` is rounded up to the millisecond: waiting that long gets through.
    """
    return kind(detail, retry_after=max(0.001, round(wait + 0.0005, 3)), **context)


def _refusal(wait: float) -> RateLimited:
    return rate_limited(TOO_MANY, wait)


class Admission:
    """A user's message (and group change) allowance, shared by every socket, process and the HTTP API."""

    def __init__(self, limits: Limits) -> None:
        self.events = TokenBucket("messages", limits.rate)
        self.repeats = TokenBucket("repeats", limits.repeat_rate)

    async def admit(self, user_id: int) -> None:
        """Take the user's token for one event, or raise :class:`RateLimited` with ``retry_after``."""
        wait = await self.events.atake_or_wait(user_id)
        if wait:
            raise _refusal(wait)

    async def admit_or_repeat(self, user_id: int) -> RateLimited | None:
        """:meth:`admit`, except that a user over their rate with a repeat token left gets the refusal back.

        The caller then serves the message only if it is a repeat (a lookup,
        no write) and answers the refusal otherwise; the repeat token is
        spent either way, which is what bounds those lookups.
        """
        wait = await self.events.atake_or_wait(user_id)
        if not wait:
            return None
        if await self.repeats.atake_or_wait(user_id) == 0:
            return _refusal(wait)
        raise _refusal(wait)

    def admit_sync(self, user_id: int) -> None:
        """:meth:`admit` for a sync view."""
        wait = self.events.take_or_wait(user_id)
        if wait:
            raise _refusal(wait)

    async def settle(self, user_id: int, *, created: bool) -> None:
        """After the store answered: a repeat within the repeat allowance gets its token back."""
        if not created and await self.repeats.atake_or_wait(user_id) == 0:
            await self.events.agive_back(user_id)

    def settle_sync(self, user_id: int, *, created: bool) -> None:
        if not created and self.repeats.take_or_wait(user_id) == 0:
            self.events.give_back(user_id)

    async def refund(self, user_id: int) -> None:
        """Nothing was stored because the server failed (not the client's doing): the token goes back."""
        await self.events.agive_back(user_id)

    def refund_sync(self, user_id: int) -> None:
        self.events.give_back(user_id)
