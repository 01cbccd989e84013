"""What each stack promises about its engines: pools, shared buckets, probes, SQLite modes.

Most of the suite runs unchanged on both stacks; these tests check what only
one of them has, and are skipped (with the reason) on the other.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection

from linkup.stack import DATABASE_POOL_MAX_SIZE
from messaging.conf import Rate
from messaging.guards.rate_limit import TokenBucket
from messaging.pubsub import layer_round_trip

from .concurrency import run_in_threads
from .servers import ROOT


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_connections_come_from_a_pool_bounded_per_process() -> None:
    """Under ASGI every request runs in a thread of its own; the pool caps what they hold."""
    threads = DATABASE_POOL_MAX_SIZE * 3

    def query() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid(), pg_sleep(0.1)")
            return cursor.fetchone()[0]

    backends = set(run_in_threads(query, [()] * threads))
    assert 1 <= len(backends) <= DATABASE_POOL_MAX_SIZE


@pytest.mark.requires_redis
def test_a_rate_bucket_is_shared_by_every_process() -> None:
    """Tokens taken here are gone for another process: the bucket lives in Redis."""
    bucket = TokenBucket("shared", Rate(3, 60))
    assert [bucket.take("alice") for _ in range(3)] == [True, True, True]
    code = (
        "import django; django.setup(); "
        "from messaging.conf import Rate; from messaging.guards.rate_limit import TokenBucket; "
        "b = TokenBucket('shared', Rate(3, 60)); "
        "print(b.take('alice'), b.take('bob'))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "linkup.settings"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True"]


@pytest.mark.requires_redis
async def test_health_checks_reuse_one_probe_channel() -> None:
    """A load balancer probes every few seconds: each probe must not leave a subscription behind."""
    from redis.asyncio import Redis

    for _ in range(20):
        await layer_round_trip()
    redis = Redis.from_url(os.environ["REDIS_URL"])
    try:
        probes = await redis.pubsub_channels("*healthz.*")
    finally:
        await redis.aclose()
    assert len(probes) == 1


@pytest.mark.embedded_only
@pytest.mark.django_db
def test_the_embedded_sqlite_runs_in_wal_mode_and_takes_the_write_lock_at_begin() -> None:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
    assert settings.DATABASES["default"]["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
