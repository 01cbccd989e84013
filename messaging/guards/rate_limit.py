"""A token bucket per user in Django's cache, shared across processes on Redis.

The bucket is kept as GCRA's "theoretical arrival time" (TAT) in milliseconds,
a single integer that only ever moves by ``cache.incr``/``cache.decr``. Those
are atomic on both the local-memory and the Redis cache, so two processes
taking a token from the same bucket at the same moment cannot both get the
last one. A bucket of ``N/Ss`` holds N tokens and refills one every S/N
seconds: a burst of N, then N per S seconds.
"""

from __future__ import annotations

import asyncio
import math
import pickle
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache

from ..conf import Rate
from ..logging_utils import messaging_logger
from ..ops.cachebox import shared_cache

if TYPE_CHECKING:
    import redis


def _now_ms() -> int:
    return int(time.time() * 1000)


class TokenBucket:
    def __init__(self, name: str, rate: Rate | None) -> None:
        self.name = name
        self.rate = rate

    def _key(self, subject: object) -> str:
        return f"messaging:bucket:{self.name}:{subject}"

    @property
    def _interval_ms(self) -> int:
        assert self.rate is not None
        return max(1, math.ceil(self.rate.seconds * 1000 / self.rate.count))

    @property
    def _capacity_ms(self) -> int:
        # Measured in whole intervals so that exactly N tokens fit, however
        # S/N rounds.
        assert self.rate is not None
        return self._interval_ms * self.rate.count

    def take(self, subject: object) -> bool:
        """Take one token for ``subject``; False when the bucket is empty."""
        return self.take_or_wait(subject) == 0

    def take_or_wait(self, subject: object) -> float:
        """Take one token for ``subject``: 0.0 when taken, else the seconds until one is back.

        When the cache itself fails (Redis restarting), the bucket lets the
        message through: a lost rate limit for a minute costs less than a
        chat that refuses every message. The failure is recorded.
        """
        if self.rate is None:
            return 0.0
        try:
            cache = shared_cache()
            if isinstance(cache, LocMemCache):
                return self._take_in_local_memory(cache, subject)
            redis = _redis_client(cache, self._key(subject))
            if redis is not None:
                return self._wait(redis.eval(_GCRA_SCRIPT, 1, *self._script_args(cache, subject))[0])
            return self._take_in_cache(cache, subject)
        except Exception as exc:  # noqa: BLE001 - any cache failure: fail open, and say so
            self._cache_failed(exc)
            return 0.0

    async def atake_or_wait(self, subject: object) -> float:
        """:meth:`take_or_wait` for the event loop: never blocks it on the network.

        On the Redis cache the same script runs through ``redis.asyncio``, on
        the same key, so a socket and an HTTP request of one user draw from
        one bucket; the takes of this bucket made in one turn of the event
        loop (many sockets' messages read together) go as one script call
        (:class:`_TakeBatch`). The local-memory cache is in this process and
        answers at once.
        """
        if self.rate is None:
            return 0.0
        try:
            cache = shared_cache()
            if isinstance(cache, LocMemCache):
                return self._take_in_local_memory(cache, subject)
            redis = _async_redis_client(cache)
            if redis is None:
                return self._take_in_cache(cache, subject)
            return self._wait(await _TakeBatch.take(redis, self, cache.make_and_validate_key(self._key(subject))))
        except Exception as exc:  # noqa: BLE001 - any cache failure: fail open, and say so
            await self._acache_failed(exc)
            return 0.0

    def _script_args(self, cache: Any, subject: object) -> list[Any]:
        return [cache.make_and_validate_key(self._key(subject)), _now_ms(), *self._script_params()]

    def _script_params(self) -> tuple[int, int, int]:
        """The bucket's shape as :data:`_GCRA_SCRIPT` takes it after ``now``: interval, capacity, TTL (ms)."""
        assert self.rate is not None
        return self._interval_ms, self._capacity_ms, (self.rate.seconds + 1) * 1000

    @staticmethod
    def _wait(wait_ms: Any) -> float:
        return max(0, int(wait_ms)) / 1000

    def _cache_failed(self, exc: Exception) -> None:
        messaging_logger.throttled(
            "connection_error",
            f"bucket:{self.name}",
            f"rate limit {self.name} not enforced: the cache failed: {type(exc).__name__}: {exc}",
            None,
        )

    async def _acache_failed(self, exc: Exception) -> None:
        await messaging_logger.athrottled(
            "connection_error",
            f"bucket:{self.name}",
            f"rate limit {self.name} not enforced: the cache failed: {type(exc).__name__}: {exc}",
            None,
        )

    def _take_in_local_memory(self, cache: Any, subject: object) -> float:
        """The bucket in Django's local-memory cache (the embedded default), in one step under the cache's lock.

        The same arrival time under the same key as :meth:`_take_in_cache`
        (so ``retry_after``, ``give_back`` and ``cache.clear()`` see it), but
        read, moved and stored at once: the generic path's ``add``, ``incr``
        and ``touch`` each take the lock, (un)pickle the value and check the
        key for memcached's rules, which was most of a message's rate-limit
        cost here. This reaches into the backend's storage as its own
        ``incr`` does (``_lock``, ``_cache``, ``_has_expired``, ``_set``).
        """
        assert self.rate is not None
        key = cache.make_key(self._key(subject))  # ASCII, short: nothing for validate_key to warn about
        interval = self._interval_ms
        now = _now_ms()
        with cache._lock:
            stored = None if cache._has_expired(key) else cache._cache.get(key)
            tat = max(now, pickle.loads(stored)) + interval if stored is not None else now + interval
            if tat - now > self._capacity_ms:
                return max(0.001, (tat - self._capacity_ms - now) / 1000)
            cache._set(key, pickle.dumps(tat, cache.pickle_protocol), self.rate.seconds + 1)
        return 0.0

    def _take_in_cache(self, cache: Any, subject: object) -> float:
        """The bucket with Django's atomic ``incr``/``decr``, for caches other than Redis."""
        assert self.rate is not None
        key = self._key(subject)
        ttl = self.rate.seconds + 1
        interval = self._interval_ms
        capacity_ms = self._capacity_ms
        now = _now_ms()
        cache.add(key, now, ttl)
        try:
            tat = cache.incr(key, interval)
        except ValueError:  # expired between add and incr
            cache.add(key, now, ttl)
            tat = cache.incr(key, interval)
        if tat - interval < now:
            # The bucket had refilled completely: restart it from now. Two
            # racers may both do this; the worst case is one extra token.
            tat = now + interval
            cache.set(key, tat, ttl)
        if tat - now > capacity_ms:
            cache.decr(key, interval)
            return max(0.001, (tat - capacity_ms - now) / 1000)
        cache.touch(key, ttl)
        return 0.0

    def retry_after(self, subject: object) -> float:
        """Seconds until ``subject``'s next :meth:`take` can succeed (0 when it can now).

        Read from the bucket's stored arrival time: the next token is back
        once that time is within the bucket's capacity of now.
        """
        if self.rate is None:
            return 0.0
        try:
            tat = shared_cache().get(self._key(subject))
        except Exception as exc:  # noqa: BLE001 - the cache failed: no estimate, the client may retry at once
            self._cache_failed(exc)
            return 0.0
        if tat is None:
            return 0.0
        return max(0.0, (int(tat) + self._interval_ms - self._capacity_ms - _now_ms()) / 1000)

    def give_back(self, subject: object) -> None:
        """Return a token taken for something that turned out not to count."""
        if self.rate is None:
            return
        try:
            shared_cache().decr(self._key(subject), self._interval_ms)
        except ValueError:
            pass  # the bucket expired: it is full anyway
        except Exception as exc:  # noqa: BLE001 - the cache failed: there is nothing to give back to
            self._cache_failed(exc)

    async def agive_back(self, subject: object) -> None:
        """:meth:`give_back` for the event loop."""
        if self.rate is None:
            return
        cache = shared_cache()
        redis = _async_redis_client(cache)
        if redis is None:
            self.give_back(subject)
            return
        try:
            # DECRBY of a missing key would make a negative one: only an existing bucket.
            await redis.eval(_GIVE_BACK_SCRIPT, 1, cache.make_and_validate_key(self._key(subject)), self._interval_ms)
        except Exception as exc:  # noqa: BLE001 - the cache failed: there is nothing to give back to
            await self._acache_failed(exc)


# The bucket in one round trip, for the Redis cache: GET the TAT, move it on
# by one interval unless that overflows the capacity, SET it with its TTL.
# Redis runs a script atomically, so concurrent takers cannot share a token.
# It answers, for each key in turn, 0 when a token was taken, else the
# milliseconds until the next one is back (retry_after); a key given twice
# (one user's two messages in one batch) draws twice from one bucket. The
# value stays a plain integer, as Django's cache stores ints, so
# ``give_back``'s DECRBY and Django's own ``get`` still read it.
_GCRA_SCRIPT = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local capacity = tonumber(ARGV[3])
local waits = {}
for i, key in ipairs(KEYS) do
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  local new = tat + interval
  local over = new - now - capacity
  if over > 0 then
    waits[i] = over
  else
    redis.call('SET', key, new, 'PX', ARGV[4])
    waits[i] = 0
  end
end
return waits
"""


class _TakeBatch:
    """The takes of one bucket made in one turn of an event loop, sent to Redis as one script call.

    Every message costs a token; with many sockets sending, one ``EVAL`` a
    message was about a fifth of the deployment stack's server CPU per
    message (docs/benchmark.md, "The rate limit's Redis round trips"). The
    first take of a turn opens a batch and schedules its sending for the end
    of the turn (``call_soon``); the takes made meanwhile join it, and each
    taker gets its own answer. A failure reaches every taker of the batch,
    each of which fails open as a single take did.
    """

    _open: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[int, int, int], _TakeBatch]] = (
        weakref.WeakKeyDictionary()
    )
    _sending: set[asyncio.Task[None]] = set()

    def __init__(self, redis: Any, params: tuple[int, int, int]) -> None:
        self.redis = redis
        self.params = params
        self.takers: list[tuple[str, asyncio.Future[int]]] = []

    @classmethod
    async def take(cls, redis: Any, bucket: TokenBucket, key: str) -> int:
        loop = asyncio.get_running_loop()
        params = bucket._script_params()
        batches = cls._open.setdefault(loop, {})
        batch = batches.get(params)
        if batch is None or batch.redis is not redis:
            batch = batches[params] = cls(redis, params)
            loop.call_soon(batch._close, loop)
        future: asyncio.Future[int] = loop.create_future()
        batch.takers.append((key, future))
        return await future

    def _close(self, loop: asyncio.AbstractEventLoop) -> None:
        batches = self._open.get(loop, {})
        if batches.get(self.params) is self:
            del batches[self.params]
        task = loop.create_task(self._send())
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self) -> None:
        keys = [key for key, _ in self.takers]
        try:
            waits = await self.redis.eval(_GCRA_SCRIPT, len(keys), *keys, _now_ms(), *self.params)
        except Exception as exc:  # noqa: BLE001 - handed to every taker, which fails open and records it
            for _, future in self.takers:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), wait in zip(self.takers, waits, strict=True):
            if not future.done():  # a taker whose socket closed meanwhile was cancelled
                future.set_result(wait)


_GIVE_BACK_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECRBY', KEYS[1], ARGV[1]) end
return 0
"""


def _redis_client(cache: BaseCache, key: str) -> redis.Redis | None:
    """The raw redis-py client behind Django's Redis cache, or None for any other cache."""
    client = getattr(cache, "_cache", None)
    get_client = getattr(client, "get_client", None)
    if get_client is None or type(cache).__name__ != "RedisCache":
        return None
    return get_client(cache.make_and_validate_key(key), write=True)


# redis.asyncio clients are bound to the event loop that opened their
# connections: one per loop (daphne runs one; each test has its own).
_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()


def _async_redis_client(cache: object) -> Any | None:
    """A ``redis.asyncio`` client for the server behind Django's Redis cache, or None for any other cache."""
    if type(cache).__name__ != "RedisCache":
        return None
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        import redis.asyncio

        servers = cache._cache._servers  # type: ignore[attr-defined]  # RedisCache keeps its URLs there, undeclared
        client = redis.asyncio.Redis.from_url(servers[0])
        _async_clients[loop] = client
    return client


class LocalBucket:
    """The same token bucket for state that lives in one socket's consumer.

    No cache round trip: used for limits that are per socket by nature
    (typing frames, bad frames), where sharing across processes buys nothing.
    """

    def __init__(self, rate: Rate | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.clock = clock
        self.tat = 0.0

    def take(self) -> bool:
        return self.take_or_wait() == 0

    def take_or_wait(self) -> float:
        """Take one token: 0.0 when taken, else the seconds until one is back."""
        if self.rate is None:
            return 0.0
        interval = self.rate.seconds / self.rate.count
        now = self.clock()
        tat = max(self.tat, now) + interval
        over = tat - now - interval * self.rate.count
        if over > 1e-9:
            return over
        self.tat = tat
        return 0.0
