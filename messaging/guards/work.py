"""A user's share of the database threads: fetches priced by the database work they cost.

Every socket's fetches run on a few read threads per process
(``messaging/guards/read_threads.py``; on the one database thread that
commits when ``MESSAGING_READ_THREADS`` is 0), one call per thread at a
time, so a user who keeps them busy delays everyone else's pages, and
through the GIL a little of everyone's commits. Counting fetch frames does not bound
that: a ``history`` page of a long conversation, an inbox read or a ``sync``
from seq 0 each cost that thread 10 to 20 ms on a loaded machine, and one
account with many sockets multiplies any per-socket count. So a fetch
(``sync``, ``history``, ``resume``, ``conversations``, ``members``, ``list``)
is priced by the time the database thread spent on it, measured in that
thread (:func:`metered`: from the call's start to its end, so not the time it
waited its turn, which is other users' work; but including what the thread
waited for inside the call, the GIL and PostgreSQL's answer, since nobody
else's call could run meanwhile), and charged to the user
(``MESSAGING_FETCH_WORK_LIMIT``, milliseconds per window). A user in debt is
refused further fetches (``fetch_work_limited`` with ``retry_after``) until
the debt is paid back, before any database work is done for them.

One budget per user, shared through the cache like the token buckets: the
HTTP API's twins of these fetches (the inbox, a conversation, its events and
history pages) run their views in the same database thread and draw from it
too (:mod:`messaging.http.fetch_allowance`), and a user with sockets on two
daphne processes does not get twice the share. On Redis that costs a fetch
two round trips (the check and the charge), against the 10 to 20 ms the
fetch itself takes; the local-memory cache answers in the process. A socket
remembers a debt it learnt of until it is paid (``SocketAllowances``), so
refusing a flood of fetches costs no round trip.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math
import time
from collections.abc import Callable, Iterator
from typing import Any, ParamSpec, TypeVar

from ..conf import Rate
from ..exceptions import FetchWorkLimited, RateLimited
from ..logging_utils import messaging_logger
from ..ops.cachebox import shared_cache
from .admission import rate_limited
from .rate_limit import _async_redis_client, _redis_client

P = ParamSpec("P")
R = TypeVar("R")


class WorkMeter:
    """Seconds of database-thread time spent on behalf of one frame."""

    __slots__ = ("seconds",)

    def __init__(self) -> None:
        self.seconds = 0.0


_meter: contextvars.ContextVar[WorkMeter | None] = contextvars.ContextVar("messaging_work_meter", default=None)


def metered(function: Callable[P, R]) -> Callable[P, R]:
    """``function`` (run in the database thread), adding its running time to the caller's :class:`WorkMeter`.

    The thread runs in a copy of the caller's context (asgiref), which holds
    the same meter object, so the time is seen by the caller on the event loop.
    """

    @functools.wraps(function)
    def timed(*args: P.args, **kwargs: P.kwargs) -> R:
        meter = _meter.get()
        if meter is None:
            return function(*args, **kwargs)
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            meter.seconds += time.perf_counter() - started

    return timed


@contextlib.contextmanager
def metering() -> Iterator[WorkMeter]:
    """Count the database time of every call made inside the block (and by tasks it starts)."""
    meter = WorkMeter()
    token = _meter.set(meter)
    try:
        yield meter
    finally:
        _meter.reset(token)


class WorkBudget:
    """Per user, the milliseconds of database work ``rate`` allows (GCRA, with debt), kept in Django's cache.

    ``Rate(count, seconds)``: ``count`` ms of work per ``seconds``, at most
    ``count`` ms in a burst. A fetch is let in while the user has any budget
    left; its cost is charged after it ran, so one expensive fetch may put
    the user in debt, and the next waits until the debt is paid.

    The state is one integer per user, the time (ms) at which all the work
    charged so far is paid back, in the cache the token buckets use
    (:mod:`messaging.guards.rate_limit`): local memory on the embedded
    default, Redis on the deployment stack. So a user has one budget across
    their sockets, the HTTP API and every daphne process. When the cache
    fails the budget lets fetches through, and says so (as the buckets do).
    """

    def __init__(self, rate: Rate | None, name: str = "fetch_work", clock: Callable[[], float] = time.time) -> None:
        self.rate = rate
        self.name = name
        self.clock = clock

    def _key(self, user_id: int) -> str:
        return f"messaging:work:{self.name}:{user_id}"

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _over(self, paid_at: object) -> float:
        assert self.rate is not None
        if paid_at is None:
            return 0.0
        over = _as_int(paid_at) - self._now_ms() - self.rate.seconds * 1000
        return over / 1000 if over > 0 else 0.0

    def _payback_ms(self, seconds: float) -> int:
        assert self.rate is not None
        return max(1, math.ceil(seconds * 1000 * self.rate.seconds * 1000 / self.rate.count))

    def wait(self, user_id: int) -> float:
        """0.0 when the user may start a fetch now, else the seconds until they may."""
        if self.rate is None:
            return 0.0
        try:
            return self._over(shared_cache().get(self._key(user_id)))
        except Exception as exc:  # noqa: BLE001 - any cache failure: fail open, and say so
            self._cache_failed(exc)
            return 0.0

    def debt(self, user_id: int) -> float:
        """Seconds until all the work charged to the user so far is paid back (0.0: none owed)."""
        if self.rate is None:
            return 0.0
        paid_at = shared_cache().get(self._key(user_id))
        return max(0.0, (_as_int(paid_at) - self._now_ms()) / 1000) if paid_at is not None else 0.0

    async def await_(self, user_id: int) -> float:
        """:meth:`wait` for the event loop: never blocks it on the network."""
        if self.rate is None:
            return 0.0
        try:
            cache = shared_cache()
            redis = _async_redis_client(cache)
            if redis is None:
                return self._over(cache.get(self._key(user_id)))
            return self._over(await redis.get(cache.make_and_validate_key(self._key(user_id))))
        except Exception as exc:  # noqa: BLE001 - any cache failure: fail open, and say so
            await self._acache_failed(exc)
            return 0.0

    def charge(self, user_id: int, seconds: float) -> None:
        """The user's fetch took ``seconds`` of the database thread."""
        if self.rate is None or seconds <= 0:
            return
        try:
            cache = shared_cache()
            redis = _redis_client(cache, self._key(user_id))
            if redis is not None:
                redis.eval(_CHARGE_SCRIPT, 1, *self._script_args(cache, user_id, seconds))
            else:
                self._charge_in_cache(cache, user_id, seconds)
        except Exception as exc:  # noqa: BLE001 - any cache failure: the work goes uncharged, and that is said
            self._cache_failed(exc)

    async def acharge(self, user_id: int, seconds: float) -> float:
        """:meth:`charge` for the event loop; what :meth:`wait` would now answer (the charge's own answer: no extra trip)."""
        if self.rate is None or seconds <= 0:
            return 0.0
        try:
            cache = shared_cache()
            redis = _async_redis_client(cache)
            if redis is None:
                paid_at = self._charge_in_cache(cache, user_id, seconds)
            else:
                paid_at = await redis.eval(_CHARGE_SCRIPT, 1, *self._script_args(cache, user_id, seconds))
        except Exception as exc:  # noqa: BLE001 - any cache failure: the work goes uncharged, and that is said
            await self._acache_failed(exc)
            return 0.0
        return self._over(paid_at)

    def _script_args(self, cache: Any, user_id: int, seconds: float) -> list[Any]:
        return [cache.make_and_validate_key(self._key(user_id)), self._now_ms(), self._payback_ms(seconds)]

    def _charge_in_cache(self, cache: Any, user_id: int, seconds: float) -> int:
        """The charge with Django's atomic ``add``/``incr``, for caches other than Redis."""
        key = self._key(user_id)
        payback = self._payback_ms(seconds)
        now = self._now_ms()
        cache.add(key, now, None)
        try:
            paid_at = cache.incr(key, payback)
        except ValueError:  # expired between add and incr
            cache.add(key, now, None)
            paid_at = cache.incr(key, payback)
        if paid_at - payback < now:
            # Everything owed before was paid back: the debt starts from now.
            paid_at = now + payback
            cache.set(key, paid_at, None)
        cache.touch(key, (paid_at - now) // 1000 + 1)
        return int(paid_at)

    def _cache_failed(self, exc: Exception) -> None:
        messaging_logger.throttled(
            "connection_error",
            f"work:{self.name}",
            f"MESSAGING_FETCH_WORK_LIMIT not enforced: the cache failed: {type(exc).__name__}: {exc}",
            None,
        )

    async def _acache_failed(self, exc: Exception) -> None:
        await messaging_logger.athrottled(
            "connection_error",
            f"work:{self.name}",
            f"MESSAGING_FETCH_WORK_LIMIT not enforced: the cache failed: {type(exc).__name__}: {exc}",
            None,
        )


def _as_int(value: object) -> int:
    """A stored paid-back time: an int from Django's cache, the digits as bytes from ``redis.asyncio``."""
    if isinstance(value, (int, bytes, str)):
        return int(value)
    raise TypeError(f"a fetch budget holds an integer, not {type(value).__name__}")


# The charge in one round trip, for the Redis cache: the debt moves on from
# the paid-back time or from now, whichever is later, and the key lives until
# it is paid back. A plain integer, so Django's own ``get`` reads it.
_CHARGE_SCRIPT = """
local now = tonumber(ARGV[1])
local paid = tonumber(redis.call('GET', KEYS[1]) or now)
if paid < now then paid = now end
local new = paid + tonumber(ARGV[2])
redis.call('SET', KEYS[1], new, 'PX', new - now + 1000)
return new
"""


def fetch_budget(rate: Rate | None) -> WorkBudget:
    """The users' fetch budget for ``rate`` (every socket, HTTP request and process of a user draws from the same)."""
    return WorkBudget(rate)


def work_refusal(what: str, owed: float) -> RateLimited:
    """The refusal of a fetch (``what``) while its user owes ``owed`` seconds of database work."""
    return rate_limited(
        f"your fetches used your share of the server's database time (MESSAGING_FETCH_WORK_LIMIT);"
        f" {what} again after retry_after seconds",
        owed,
        FetchWorkLimited,
    )
