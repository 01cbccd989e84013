"""TokenBucket: N/Ss allows a burst of N, then refills at N per S seconds."""

from __future__ import annotations

from unittest import mock

import pytest
from django.core.exceptions import ImproperlyConfigured
from hypothesis import given
from hypothesis import strategies as st

from messaging.conf import Rate, parse_rate
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
