"""TokenBucket: N/Ss allows a burst of N, then refills at N per S seconds."""

from __future__ import annotations

import asyncio
import os
from unittest import mock

import pytest
from django.core.exceptions import ImproperlyConfigured
from hypothesis import given
from hypothesis import strategies as st

from messaging.conf import Rate, parse_rate
from messaging.guards import rate_limit
from messaging.guards.rate_limit import TokenBucket


def test_parse_rate_reads_the_contract_form() -> None:
    assert parse_rate("60/10s") == Rate(60, 10)
    assert parse_rate(" 5 / 1s ") == Rate(5, 1)
    assert parse_rate("off") is None


@pytest.mark.parametrize("bad", ["60", "60/10", "0/10s", "ten/1s", "60/0s"])
def test_parse_rate_refuses_malformed_values(bad: str) -> None:
    with pytest.raises(ImproperlyConfigured):
        parse_rate(bad)


@given(st.integers(1, 30), st.integers(1, 60))
def test_bucket_allows_exactly_a_burst_of_n(count: int, seconds: int) -> None:
    from django.core.cache import cache

    cache.clear()
    bucket = TokenBucket("test", Rate(count, seconds))
    with mock.patch("messaging.guards.rate_limit._now_ms", return_value=1_000_000):
        results = [bucket.take("u") for _ in range(count + 5)]
    assert results == [True] * count + [False] * 5


def test_bucket_refills_one_token_per_interval() -> None:
    bucket = TokenBucket("refill", Rate(2, 10))
    now = [1_000_000]
    with mock.patch("messaging.guards.rate_limit._now_ms", side_effect=lambda: now[0]):
        assert bucket.take("u") and bucket.take("u")
        assert not bucket.take("u")
        now[0] += 5_000
        assert bucket.take("u")
        assert not bucket.take("u")


def test_given_back_tokens_can_be_taken_again() -> None:
    bucket = TokenBucket("giveback", Rate(1, 60))
    with mock.patch("messaging.guards.rate_limit._now_ms", return_value=5_000_000):
        assert bucket.take("u")
        assert not bucket.take("u")
        bucket.give_back("u")
        assert bucket.take("u")


def test_no_rate_means_no_limit() -> None:
    bucket = TokenBucket("off", None)
    assert all(bucket.take("u") for _ in range(1000))


@given(st.integers(1, 30), st.integers(1, 60))
def test_local_bucket_allows_a_burst_of_n_then_refills(count: int, seconds: int) -> None:
    from messaging.guards.rate_limit import LocalBucket

    now = [100.0]
    bucket = LocalBucket(Rate(count, seconds), clock=lambda: now[0])
    assert [bucket.take() for _ in range(count + 3)] == [True] * count + [False] * 3
    now[0] += seconds / count
    assert bucket.take() and not bucket.take()


@given(
    st.integers(1, 20),
    st.integers(1, 30),
    st.lists(st.tuples(st.integers(0, 4_000), st.booleans()), min_size=1, max_size=60),
)
def test_local_memory_bucket_answers_as_the_generic_cache_bucket(count: int, seconds: int, steps) -> None:
    """The embedded default's one-step bucket and the add/incr/touch one agree on every take's answer."""
    from django.core.cache.backends.locmem import LocMemCache

    one_step, generic = LocMemCache("bucket-one-step", {}), LocMemCache("bucket-generic", {})
    one_step.clear()
    generic.clear()
    bucket = TokenBucket("agree", Rate(count, seconds))
    now = [1_000_000]
    with mock.patch("messaging.guards.rate_limit._now_ms", side_effect=lambda: now[0]):
        for advance, take in steps:
            now[0] += advance
            if take:
                assert bucket._take_in_local_memory(one_step, "u") == bucket._take_in_cache(generic, "u")
            key = one_step.make_key(bucket._key("u"))
            assert one_step.get(bucket._key("u")) == generic.get(bucket._key("u")), key


# --- On Redis: the takes of one turn of the event loop as one script call ---------------


async def _eval_calls() -> int:
    from redis.asyncio import Redis

    redis = Redis.from_url(os.environ["REDIS_URL"])
    try:
        stats = await redis.info("commandstats")
    finally:
        await redis.aclose()
    return int(stats.get("cmdstat_eval", {}).get("calls", 0))


@pytest.mark.requires_redis
async def test_takes_made_in_one_turn_of_the_loop_go_to_redis_as_one_script_call() -> None:
    bucket = TokenBucket("batched", Rate(5, 60))
    await bucket.atake_or_wait("warm-up")  # the client's connection, and its HELLO, before counting
    before = await _eval_calls()
    waits = await asyncio.gather(*(bucket.atake_or_wait(f"user{i}") for i in range(20)))
    assert waits == [0.0] * 20
    assert await _eval_calls() - before == 1


@pytest.mark.requires_redis
async def test_one_users_takes_in_one_batch_draw_from_one_bucket() -> None:
    bucket = TokenBucket("batched-one-user", Rate(3, 60))
    waits = await asyncio.gather(*(bucket.atake_or_wait("alice") for _ in range(5)))
    assert waits[:3] == [0.0, 0.0, 0.0]
    # The fourth and fifth are refused with the time until the next token: one interval (20 s) away.
    assert all(19 < wait <= 20 for wait in waits[3:])
    assert await bucket.atake_or_wait("bob") == 0.0


@pytest.mark.requires_redis
@pytest.mark.django_db(transaction=True)  # the failure is recorded as a MessagingError, from a thread
async def test_a_batch_that_redis_cannot_take_lets_every_taker_through_and_is_recorded() -> None:
    from redis.asyncio import Redis

    from messaging.models import MessagingError

    # A real client for a port nothing listens on: this loop's takes fail as when Redis is down.
    rate_limit._async_clients[asyncio.get_running_loop()] = Redis.from_url("redis://127.0.0.1:9/0")
    bucket = TokenBucket("batched-down", Rate(1, 60))
    waits = await asyncio.gather(*(bucket.atake_or_wait("alice") for _ in range(3)))
    assert waits == [0.0, 0.0, 0.0]
    recorded = MessagingError.objects.filter(message__startswith="rate limit batched-down not enforced")
    assert await recorded.acount() == 1  # throttled: one row, however many takers failed


@pytest.mark.requires_redis
async def test_a_taker_cancelled_while_its_batch_is_out_leaves_the_others_their_answers() -> None:
    bucket = TokenBucket("batched-cancel", Rate(5, 60))
    first = asyncio.ensure_future(bucket.atake_or_wait("alice"))
    second = asyncio.ensure_future(bucket.atake_or_wait("bob"))
    await asyncio.sleep(0)  # both joined the batch, which is now being sent
    first.cancel()
    assert await second == 0.0
    with pytest.raises(asyncio.CancelledError):
        await first
