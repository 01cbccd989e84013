"""MessageRetryHandler: backoff properties, classification and the durable queue."""

from __future__ import annotations

import datetime
import random
import smtplib
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import IntegrityError, OperationalError, connection
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from messaging import retry_handler
from messaging.models import MessagingError, RetryQueueItem
from messaging.retry_handler import (
    Backoff,
    MessageRetryHandler,
    RetriesExhausted,
    RetryPolicy,
    enqueue,
    is_transient,
    process_due,
    retry_operation,
)
from tests.faults import SqliteWriteLock, on_sqlite_only, sqlite_busy_timeout

policies = st.builds(
    RetryPolicy,
    strategy=st.sampled_from(list(Backoff)),
    base_delay=st.floats(0, 100, allow_nan=False),
    max_delay=st.floats(0, 1000, allow_nan=False),
    max_attempts=st.integers(1, 10),
    multiplier=st.floats(1, 10, allow_nan=False),
    jitter=st.booleans(),
)


@given(policies, st.integers(0, 10_000), st.randoms(use_true_random=False))
def test_delays_are_never_negative_nor_above_the_cap(policy: RetryPolicy, retry: int, rng: random.Random) -> None:
    delay = policy.delay(retry, rng)
    assert 0 <= delay <= max(policy.max_delay, 0)


@given(policies.filter(lambda p: not p.jitter and p.strategy is not Backoff.FIXED), st.integers(1, 200))
def test_delays_without_jitter_never_shrink_for_exponential_and_linear(policy: RetryPolicy, retry: int) -> None:
    assert policy.delay(retry + 1) >= policy.delay(retry)


@given(policies, st.integers(0, 30))
def test_a_transient_failure_is_tried_at_most_max_attempts_times(policy: RetryPolicy, failures: int) -> None:
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) <= failures:
            raise OperationalError("database is locked")
        return "ok"

    handler = MessageRetryHandler(policy, sleep=lambda _: None)
    if failures < policy.max_attempts:
        assert handler.call(flaky) == "ok"
        assert len(calls) == failures + 1
    else:
        with pytest.raises(RetriesExhausted) as caught:
            handler.call(flaky)
        assert caught.value.attempts == policy.max_attempts
    assert len(calls) <= policy.max_attempts


@given(
    policies,
    st.sampled_from([IntegrityError("dup"), ValueError("bug"), smtplib.SMTPRecipientsRefused({"a@b": (550, b"no")})]),
)
def test_permanent_errors_are_tried_once(policy: RetryPolicy, error: Exception) -> None:
    calls = []

    def broken() -> None:
        calls.append(1)
        raise error

    with pytest.raises(type(error)):
        MessageRetryHandler(policy, sleep=lambda _: None).call(broken)
    assert calls == [1]


async def test_async_calls_retry_too() -> None:
    calls = []

    async def flaky() -> int:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("layer down")
        return 7

    handler = MessageRetryHandler(RetryPolicy(base_delay=0.001, max_attempts=5))
    assert await handler.acall(flaky) == 7
    assert handler.stats.retries == 2 and handler.stats.succeeded_after_retry == 1


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (OperationalError("database is locked"), True),
        (OperationalError("could not serialize access due to concurrent update"), True),
        (OperationalError("no such table: messaging_message"), False),
        (IntegrityError("UNIQUE constraint failed"), False),
        (smtplib.SMTPResponseException(451, b"try later"), True),
        (smtplib.SMTPResponseException(550, b"no such user"), False),
        (smtplib.SMTPServerDisconnected("gone"), True),
        (smtplib.SMTPConnectError(421, b"busy"), True),
        (ConnectionRefusedError(), True),
        (TimeoutError(), True),
        (ValueError("bug"), False),
    ],
)
def test_errors_are_classified(error: Exception, transient: bool) -> None:
    assert is_transient(error) is transient


# --- The durable queue -----------------------------------------------------------

attempts_seen: list[dict] = []


@retry_operation("test.flaky")
def flaky_operation(payload: dict) -> None:
    attempts_seen.append(payload)
    if payload.get("fail_with") == "transient":
        raise ConnectionRefusedError("service down")
    if payload.get("fail_with") == "permanent":
        raise ValueError("cannot ever work")


@pytest.fixture(autouse=True)
def clear_attempts() -> None:
    attempts_seen.clear()


@pytest.mark.django_db
def test_a_due_item_runs_once_and_succeeds() -> None:
    item = enqueue("test.flaky", {"n": 1})
    run = process_due()
    assert (run.succeeded, run.rescheduled, run.exhausted) == (1, 0, 0)
    item.refresh_from_db()
    assert item.state == "succeeded" and item.attempts == 1
    assert process_due().total == 0
    assert attempts_seen == [{"n": 1}]


@pytest.mark.django_db
def test_a_transient_failure_is_rescheduled_with_backoff() -> None:
    item = enqueue("test.flaky", {"fail_with": "transient"})
    before = timezone.now()
    assert process_due().rescheduled == 1
    item.refresh_from_db()
    assert item.state == "pending" and item.attempts == 1 and "service down" in item.last_error
    assert item.next_attempt_at >= before
    assert process_due().total == 0  # not due yet


@pytest.mark.django_db
def test_an_exhausted_item_becomes_a_delivery_error() -> None:
    item = enqueue("test.flaky", {"fail_with": "transient"}, max_attempts=2)
    for _ in range(2):
        RetryQueueItem.objects.filter(pk=item.pk).update(next_attempt_at=timezone.now())
        process_due()
    item.refresh_from_db()
    assert item.state == "exhausted" and item.attempts == 2
    error = MessagingError.objects.get(category="delivery_error", message__startswith="retry queue gave up")
    assert error.context["retry_item"] == item.pk
    # the failed attempt before it is on record too
    assert MessagingError.objects.filter(message__contains="failed and will be retried").count() == 1


@pytest.mark.django_db
def test_a_permanent_failure_is_not_retried() -> None:
    item = enqueue("test.flaky", {"fail_with": "permanent"})
    assert process_due().exhausted == 1
    item.refresh_from_db()
    assert item.state == "exhausted" and item.attempts == 1


@pytest.mark.django_db
def test_an_item_is_claimed_by_one_worker_only() -> None:
    item = enqueue("test.flaky", {})
    assert retry_handler.claim(item.pk) is True
    assert retry_handler.claim(item.pk) is False


@pytest.mark.django_db
def test_a_claim_of_a_dead_worker_is_released() -> None:
    item = enqueue("test.flaky", {})
    retry_handler.claim(item.pk)
    RetryQueueItem.objects.filter(pk=item.pk).update(claimed_until=timezone.now() - datetime.timedelta(seconds=1))
    assert process_due().succeeded == 1


@pytest.mark.django_db
def test_the_management_command_works_off_the_queue(capsys) -> None:
    enqueue("test.flaky", {})
    call_command("process_retry_queue")
    assert "1 succeeded" in capsys.readouterr().out


# --- create_message retries a locked database -----------------------------------


@pytest.mark.django_db(transaction=True)
@on_sqlite_only
def test_create_message_waits_out_a_locked_sqlite_database(alice, bob) -> None:
    from messaging.store import conversations
    from messaging.store import events as handlers

    conversation, _ = conversations.get_or_create_direct(alice, bob)
    retries_before = handlers.database_retry.stats.retries
    real_sleep = handlers.database_retry.sleep
    sleeps: list[float] = []

    def sleep_then_unlock(seconds: float) -> None:
        # The first attempt met the lock (that is why there is a retry): let
        # the lock go before the next attempt, and wait until it is gone.
        sleeps.append(seconds)
        if len(sleeps) == 1:
            lock.release(wait=True)
        real_sleep(seconds)

    with (
        SqliteWriteLock() as lock,
        sqlite_busy_timeout(0.05),
        mock.patch.object(handlers.database_retry, "sleep", sleep_then_unlock),
    ):
        connection.close()
        appended = handlers.create_message(conversation.pk, alice, "patient", "locked-1")
    connection.close()
    assert appended.created and appended.event.seq == 1
    assert handlers.database_retry.stats.retries > retries_before
    assert len(sleeps) == 1, "the attempt after the lock was released did not succeed"
