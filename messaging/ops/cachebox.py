"""One cache client per process, for the cache calls on the hot path.

Django gives every context its own cache backend instance (``caches`` is
context-local), and every ``database_sync_to_async`` call runs in a fresh
context. For the Redis cache a new instance means a new connection pool, so
each rate-limit check opened a TCP connection to Redis: measured, that was
over a quarter of the server's time per message on the deployment stack.
Backends are safe to share between threads (Redis through its connection
pool, local memory through its lock), so the hot path shares one.
"""

from __future__ import annotations

from django.core.cache import DEFAULT_CACHE_ALIAS, BaseCache, caches

_client: BaseCache | None = None


def shared_cache() -> BaseCache:
    global _client
    if _client is None:
        _client = caches.create_connection(DEFAULT_CACHE_ALIAS)
    return _client
