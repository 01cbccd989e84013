"""The deployment stack's settings: PostgreSQL, channels-redis and the Redis cache.

Kept out of ``settings.py`` so that the channel-layer measurement
(``scripts/measure_channel_layers.py``) builds its layers from exactly the
configuration a deployment runs, and so that each number sits next to the
reason for it. docs/deployment.md has the figures behind the choices.
"""

from __future__ import annotations

from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from linkup.env import env_number

# --- PostgreSQL ---------------------------------------------------------------

# Each daphne process reaches the database from three places: every
# consumer's write runs in one shared thread (so one connection), their
# fetches on MESSAGING_READ_THREADS threads of their own (one connection
# each, default 1), and each HTTP request runs its sync view in a thread of
# its own.
# Persistent connections (CONN_MAX_AGE > 0) do not work under ASGI: every
# request's connection stays open in a context nobody reuses (measured: 50
# parallel requests left 52 connections open in one process). So connections
# come from a psycopg pool per process: 2 for the consumers' threads plus a few
# concurrent HTTP requests. N processes hold at most N * max_size connections;
# keep that under PostgreSQL's max_connections (100 by default) less its
# reserved superuser slots.
DATABASE_POOL_MIN_SIZE = 2
DATABASE_POOL_MAX_SIZE = 8
# A caller that cannot get a connection for this long fails (a server_error
# frame on a socket, an HTTP error) instead of queueing without bound.
DATABASE_POOL_TIMEOUT_SECONDS = 10.0
# Idle connections above min_size are closed after this long.
DATABASE_POOL_MAX_IDLE_SECONDS = 300


def database_config(url: str) -> dict[str, Any]:
    """``DATABASES["default"]`` for a ``postgres://`` URL: psycopg 3 with a per-process pool."""
    config = dj_database_url.parse(
        url,
        # The pool owns the connections; Django refuses CONN_MAX_AGE with a pool.
        conn_max_age=0,
        # With a pool this makes psycopg check a connection before lending it,
        # so a restarted PostgreSQL costs one reconnect, not a failed request.
        conn_health_checks=True,
    )
    if config["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured(
            f"DATABASE_URL must be a postgres:// URL (got an {config['ENGINE']} URL); "
            "unset it to run on the embedded SQLite database."
        )
    config.setdefault("OPTIONS", {})["pool"] = {
        "min_size": env_number("DATABASE_POOL_MIN_SIZE", DATABASE_POOL_MIN_SIZE),
        "max_size": env_number("DATABASE_POOL_MAX_SIZE", DATABASE_POOL_MAX_SIZE),
        "timeout": env_number("DATABASE_POOL_TIMEOUT_SECONDS", DATABASE_POOL_TIMEOUT_SECONDS),
        "max_idle": float(DATABASE_POOL_MAX_IDLE_SECONDS),
    }
    return {**config}


# --- Channel layer ------------------------------------------------------------

PUBSUB_LAYER = "channels_redis.pubsub.RedisPubSubChannelLayer"
CORE_LAYER = "channels_redis.core.RedisChannelLayer"
CHANNEL_LAYER_BACKENDS = {"pubsub": PUBSUB_LAYER, "core": CORE_LAYER}

# LinkUp runs the pub/sub layer: measured, it fans out several times faster
# with a fraction of the latency (docs/deployment.md). It has none of the
# knobs below, on purpose: an event is PUBLISHed once and delivered now or
# never (the database and ``sync`` repair "never"), nothing queues in Redis,
# and a group membership is a subscription of the process's own connection,
# so it lives exactly as long as the socket's consumer and dies with a killed
# process instead of lingering for ``group_expiry``.
#
# RedisChannelLayer, as the measurement configures it:
# Messages waiting for one *process*: channels-redis keeps all the sockets of
# a process in one Redis key, so this bounds the process's whole backlog, not
# one socket's (the library's 100 lost most of a burst in the measurement).
# Its receive loop drained about 2,000 messages a second here, so 5,000 is a
# couple of seconds of backlog; past it group_send drops silently.
CORE_CAPACITY = 5000
# An event older than this is stale (typing, presence) or repaired by sync.
CORE_EXPIRY_SECONDS = 30
# A membership is dropped after this long even for a live socket (which then
# silently misses its conversation's events), and a killed process's channels
# stay in their groups, still written to, until then. The library default:
# it must outlive the longest socket, since sockets do not refresh it.
CORE_GROUP_EXPIRY_SECONDS = 86400


def channel_layer_config(url: str, backend: str = "pubsub") -> dict[str, Any]:
    """``CHANNEL_LAYERS["default"]`` for a ``redis://`` URL; ``backend`` is "pubsub" (LinkUp's) or "core"."""
    if backend not in CHANNEL_LAYER_BACKENDS:
        raise ValueError(f"backend must be one of {sorted(CHANNEL_LAYER_BACKENDS)}, not {backend!r}")
    config: dict[str, Any] = {"hosts": [url], "prefix": "linkup"}
    if backend == "core":
        config.update(
            capacity=CORE_CAPACITY,
            expiry=CORE_EXPIRY_SECONDS,
            group_expiry=CORE_GROUP_EXPIRY_SECONDS,
        )
    return {"BACKEND": CHANNEL_LAYER_BACKENDS[backend], "CONFIG": config}


def cache_config(url: str) -> dict[str, Any]:
    """``CACHES["default"]``: rate-limit buckets shared by every process."""
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": url,
        "KEY_PREFIX": "linkup",
    }
