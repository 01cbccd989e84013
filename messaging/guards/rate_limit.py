"""A token bucket per user in Django's cache, shared across processes on Redis.

The bucket is kept as GCRA's "theoretical arrival time" (TAT) in milliseconds,
a single integer that only ever moves by ``cache.incr``/``cache.decr``. Those
are atomic on both the local-memory and the Redis cache, so two processes
taking a token from the same bucket at the same moment cannot both get the
last one. A bucket of ``N/Ss`` holds N tokens and refills one every S/N
seconds: a burst of N, then N per S seconds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from ..conf import Rate
from ..logging_utils import messaging_logger
from ..ops.cachebox import shared_cache


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

    def take(self, subject: object) -> bool:
        """Take one token for ``subject``; False when the bucket is empty.

        When the cache itself fails (Redis restarting), the bucket lets the
        message through: a lost rate limit for a minute costs less than a
        chat that refuses every message. The failure is recorded.
        """
        if self.rate is None:
            return True
        try:
            return self._take(subject)
        except Exception as exc:  # noqa: BLE001 - any cache failure: fail open, and say so
            self._cache_failed(exc)
            return True

    def _cache_failed(self, exc: Exception) -> None:

        messaging_logger.throttled(
            "connection_error",
            f"bucket:{self.name}",
            f"rate limit {self.name} not enforced: the cache failed: {type(exc).__name__}: {exc}",
            None,
        )

    def _take(self, subject: object) -> bool:
        assert self.rate is not None
        key = self._key(subject)
        ttl = self.rate.seconds + 1
        interval = self._interval_ms
        # Measured in whole intervals so that exactly N tokens fit, however
        # S/N rounds.
        capacity_ms = interval * self.rate.count
        now = _now_ms()
        cache = shared_cache()
        redis = _redis_client(cache, key)
        if redis is not None:
            return bool(
                redis.eval(_GCRA_SCRIPT, 1, cache.make_and_validate_key(key), now, interval, capacity_ms, ttl * 1000)
            )
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
            return False
        cache.touch(key, ttl)
        return True

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
        capacity_ms = self._interval_ms * self.rate.count
        return max(0.0, (int(tat) + self._interval_ms - capacity_ms - _now_ms()) / 1000)

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


# The same bucket in one round trip, for the Redis cache: GET the TAT, move it
# on by one interval unless that overflows the capacity, SET it with its TTL.
# Redis runs a script atomically, so concurrent takers cannot share a token.
# The value stays a plain integer, as Django's cache stores ints, so
# ``give_back``'s DECRBY and Django's own ``get`` still read it.
_GCRA_SCRIPT = """
local now = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new = tat + tonumber(ARGV[2])
if new - now > tonumber(ARGV[3]) then return 0 end
redis.call('SET', KEYS[1], new, 'PX', ARGV[4])
return 1
"""


def _redis_client(cache: object, key: str) -> object | None:
    """The raw redis-py client behind Django's Redis cache, or None for any other cache."""
    client = getattr(cache, "_cache", None)
    get_client = getattr(client, "get_client", None)
    if get_client is None or type(cache).__name__ != "RedisCache":
        return None
    return get_client(cache.make_and_validate_key(key), write=True)


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
        if self.rate is None:
            return True
        interval = self.rate.seconds / self.rate.count
        now = self.clock()
        tat = max(self.tat, now) + interval
        if tat - now > interval * self.rate.count + 1e-9:
            return False
        self.tat = tat
        return True
