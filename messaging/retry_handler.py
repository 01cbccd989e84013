"""``MessageRetryHandler``: backoff, retrying transient errors, and a durable queue.

Two kinds of retry live here:

* in-process retries of a call that failed for a passing reason (a locked
  SQLite database, a PostgreSQL serialization failure, a dropped connection):
  :meth:`MessageRetryHandler.call` / :meth:`MessageRetryHandler.acall`;
* the durable retry queue (``RetryQueueItem`` rows) for work that may take
  minutes to become possible again (an SMTP server that is down). Work is
  registered under an operation name with :func:`retry_operation`, queued with
  :func:`enqueue` and worked off by :func:`process_due` (the
  ``process_retry_queue`` command). Items that run out of attempts, or fail
  permanently, become ``MessagingError`` records of category
  ``delivery_error``.

Permanent errors (a bad address, an integrity error) are never retried.
"""

from __future__ import annotations

import asyncio
import datetime
import enum
import itertools
import random
import smtplib
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db import DatabaseError, IntegrityError, OperationalError
from django.utils import timezone

from . import conf
from .error_models import ErrorCategory
from .logging_utils import messaging_logger
from .ops import metrics

T = TypeVar("T")


class Backoff(str, enum.Enum):
    EXPONENTIAL = "exponential"
    LINEAR = "linear"
    FIXED = "fixed"


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry.

    ``delay(n)`` is the wait before retry ``n`` (n = 1 after the first
    failure): ``base * multiplier**(n-1)`` (exponential), ``base * n``
    (linear) or ``base`` (fixed), never above ``max_delay``. With ``jitter``
    the wait is drawn uniformly from ``[0, delay]`` ("full jitter"), which
    spreads out clients that failed together.
    """

    strategy: Backoff = Backoff.EXPONENTIAL
    base_delay: float = 0.05
    max_delay: float = 2.0
    max_attempts: int = 4
    multiplier: float = 2.0
    jitter: bool = False

    def delay(self, retry: int, rng: random.Random | None = None) -> float:
        if retry < 1:
            return 0.0
        if self.strategy is Backoff.EXPONENTIAL:
            # Capped before the power can overflow a float.
            exponent = min(retry - 1, 1024)
            try:
                raw = self.base_delay * self.multiplier**exponent
            except OverflowError:
                raw = self.max_delay
        elif self.strategy is Backoff.LINEAR:
            raw = self.base_delay * retry
        else:
            raw = self.base_delay
        capped = max(0.0, min(raw, self.max_delay))
        if self.jitter:
            return (rng or random).uniform(0, capped)
        return capped


# In-process retries of one database transaction: short, so a message is
# acknowledged or refused within a second or two.
DATABASE_POLICY = RetryPolicy(Backoff.EXPONENTIAL, base_delay=0.05, max_delay=1.0, max_attempts=4, jitter=True)


def queue_policy() -> RetryPolicy:
    """The durable queue's backoff: minutes to hours, for services that are down.

    ``MESSAGING_RETRY_BASE_SECONDS``, ``MESSAGING_RETRY_MAX_SECONDS`` and
    ``MESSAGING_RETRY_MAX_ATTEMPTS`` (defaults in messaging/conf.py).
    """
    return RetryPolicy(
        Backoff.EXPONENTIAL,
        base_delay=conf.float_setting("MESSAGING_RETRY_BASE_SECONDS"),
        max_delay=conf.float_setting("MESSAGING_RETRY_MAX_SECONDS"),
        max_attempts=conf.int_setting("MESSAGING_RETRY_MAX_ATTEMPTS"),
        jitter=True,
    )


def _smtp_code(exc: BaseException) -> int | None:
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return min(codes) if codes else None
    return None


_TRANSIENT_DB_MARKERS = (
    "database is locked",
    "database table is locked",
    "could not serialize access",
    "deadlock detected",
    "server closed the connection",
    "connection already closed",
    "terminating connection",
    "could not connect",
    "connection refused",
    "the database system is starting up",
    "the database system is shutting down",
)


# Operational errors that no amount of waiting fixes.
_PERMANENT_DB_MARKERS = ("no such table", "no such column", "syntax error", "does not exist")


def is_transient(exc: BaseException) -> bool:
    """Whether trying again later may succeed.

    Transient: locked/serialization/deadlock/connection database errors, SMTP
    4xx replies and dropped SMTP connections, network errors and channel-layer
    connection errors. Everything else (integrity errors, SMTP 5xx, bad input,
    bugs) is permanent.
    """
    if isinstance(exc, IntegrityError):
        return False
    if isinstance(exc, OperationalError):
        text = str(exc).lower()
        return not any(marker in text for marker in _PERMANENT_DB_MARKERS)
    if isinstance(exc, DatabaseError):
        text = str(exc).lower()
        return any(marker in text for marker in _TRANSIENT_DB_MARKERS)
    code = _smtp_code(exc)
    if code is not None:
        return 400 <= code < 500
    if isinstance(exc, (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError)):
        return True
    if isinstance(exc, smtplib.SMTPException):
        return False
    if isinstance(exc, (ConnectionError, TimeoutError, socket.timeout, asyncio.TimeoutError)):
        return True
    if type(exc).__module__.startswith("redis") and type(exc).__name__ in {"ConnectionError", "TimeoutError"}:
        return True
    if type(exc).__name__ == "ChannelFull":
        return True
    return isinstance(exc, OSError)


@dataclass
class RetryStats:
    retries: int = 0
    succeeded_after_retry: int = 0


def _count(operation: str, outcome: str) -> None:
    """One retry outcome (``retried``, ``recovered``, ``exhausted``) in the ``linkup_retries`` metric."""
    metrics.RETRIES.labels(operation, outcome).inc()


class RetriesExhausted(Exception):
    """The call failed on every attempt; ``__cause__`` is the last error."""

    def __init__(self, attempts: int, last: BaseException) -> None:
        super().__init__(f"gave up after {attempts} attempt(s): {type(last).__name__}: {last}")
        self.attempts = attempts
        self.last = last


@dataclass
class MessageRetryHandler:
    """Call something, retrying transient failures with backoff.

    ``classify`` decides what is transient; a permanent error is raised at
    once, untouched. When every attempt fails, :class:`RetriesExhausted` is
    raised with the last error as its cause.
    """

    policy: RetryPolicy = DATABASE_POLICY
    classify: Callable[[BaseException], bool] = is_transient
    sleep: Callable[[float], None] = time.sleep
    stats: RetryStats = field(default_factory=RetryStats)
    #: the ``operation`` label of the ``linkup_retries`` metric
    operation: str = "call"

    def _after_failure(self, exc: Exception, attempt: int) -> float:
        """The wait before the next attempt; raises when there must be none."""
        if not self.classify(exc):
            raise exc
        if attempt >= self.policy.max_attempts:
            _count(self.operation, "exhausted")
            raise RetriesExhausted(attempt, exc) from exc
        self.stats.retries += 1
        _count(self.operation, "retried")
        return self.policy.delay(attempt)

    def _succeeded(self, attempt: int) -> None:
        if attempt > 1:
            self.stats.succeeded_after_retry += 1
            _count(self.operation, "recovered")

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        for attempt in itertools.count(1):
            try:
                result = fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - classified: permanent ones are re-raised
                self.sleep(self._after_failure(exc, attempt))
                continue
            self._succeeded(attempt)
            return result
        raise AssertionError("unreachable")

    async def acall(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        for attempt in itertools.count(1):
            try:
                result = await fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - classified: permanent ones are re-raised
                await asyncio.sleep(self._after_failure(exc, attempt))
                continue
            self._succeeded(attempt)
            return result
        raise AssertionError("unreachable")


# --- The durable queue -----------------------------------------------------------

Operation = Callable[[dict[str, Any]], None]
OPERATIONS: dict[str, Operation] = {}
#: what to do when an operation's item gives up (e.g. email instead of a push that never went out)
ON_EXHAUSTED: dict[str, Operation] = {}
# A claimed item that was not finished within this long (its worker died)
# may be claimed again.
CLAIM_SECONDS = 300


def retry_operation(name: str, *, on_exhausted: Operation | None = None) -> Callable[[Operation], Operation]:
    """Register ``fn(payload)`` as the queued operation ``name``.

    ``fn`` may change ``payload`` in place before it raises (what is left to
    do): the changed payload is saved with the item and is what the next
    attempt gets. ``on_exhausted(payload)`` runs once the item gives up.
    """

    def register(fn: Operation) -> Operation:
        OPERATIONS[name] = fn
        if on_exhausted is not None:
            ON_EXHAUSTED[name] = on_exhausted
        return fn

    return register


def enqueue(
    operation: str,
    payload: dict[str, Any],
    *,
    due: datetime.datetime | None = None,
    max_attempts: int | None = None,
    notification: Any = None,
) -> Any:
    """Queue ``operation(payload)`` to run at ``due`` (now by default)."""
    from .models import RetryQueueItem

    return RetryQueueItem.objects.create(
        operation=operation,
        payload=payload,
        next_attempt_at=due or timezone.now(),
        max_attempts=max_attempts or queue_policy().max_attempts,
        notification=notification,
    )


def claim(item_id: int) -> bool:
    """Take an item for this worker; False if another worker has it or it is done."""
    from .models import RetryQueueItem

    now = timezone.now()
    return bool(
        RetryQueueItem.objects.filter(pk=item_id, state=RetryQueueItem.State.PENDING, next_attempt_at__lte=now).update(
            state=RetryQueueItem.State.RUNNING, claimed_until=now + datetime.timedelta(seconds=CLAIM_SECONDS)
        )
    )


def run_item(item_id: int, *, policy: RetryPolicy | None = None) -> str:
    """Run one claimed item and record the outcome; return its new state."""
    from .models import RetryQueueItem

    policy = policy or queue_policy()
    item = RetryQueueItem.objects.get(pk=item_id)
    operation = OPERATIONS.get(item.operation)
    item.attempts += 1
    item.last_attempt_at = timezone.now()
    try:
        if operation is None:
            raise LookupError(f"no retry operation is registered as {item.operation!r}")
        operation(item.payload)
    except Exception as exc:  # noqa: BLE001 - recorded on the item and as a MessagingError
        item.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if is_transient(exc) and item.attempts < item.max_attempts:
            item.state = RetryQueueItem.State.PENDING
            item.next_attempt_at = timezone.now() + datetime.timedelta(seconds=policy.delay(item.attempts))
            _count(item.operation, "retried")
            # Each failed attempt is a failure worth seeing, but an outage
            # fails every attempt: one row a minute per operation, with a count.
            messaging_logger.throttled(
                ErrorCategory.DELIVERY_ERROR,
                f"retry:{item.operation}",
                f"{item.operation} failed and will be retried: {item.last_error}",
                None,
                context={"operation": item.operation, "retry_item": item.pk},
            )
        else:
            item.state = RetryQueueItem.State.EXHAUSTED
            _count(item.operation, "exhausted")
            messaging_logger.error(
                ErrorCategory.DELIVERY_ERROR,
                f"retry queue gave up on {item.operation} after {item.attempts} attempt(s)",
                context={"retry_item": item.pk, "operation": item.operation, "payload": item.payload},
                exc=exc,
                message_id=item.notification.message_id if item.notification is not None else None,
            )
            _run_on_exhausted(item)
    else:
        item.state = RetryQueueItem.State.SUCCEEDED
        item.last_error = ""
        if item.attempts > 1:
            _count(item.operation, "recovered")
    item.claimed_until = None
    item.save()
    return item.state


def _run_on_exhausted(item: Any) -> None:
    handler = ON_EXHAUSTED.get(item.operation)
    if handler is None:
        return
    try:
        handler(item.payload)
    except Exception as exc:  # noqa: BLE001 - recorded; the item's own outcome is already decided
        messaging_logger.error(
            ErrorCategory.DELIVERY_ERROR,
            f"the fallback of {item.operation} failed",
            context={"retry_item": item.pk, "operation": item.operation},
            exc=exc,
        )


def release_stale_claims() -> int:
    """Items whose worker died while running them become due again."""
    from .models import RetryQueueItem

    return RetryQueueItem.objects.filter(state=RetryQueueItem.State.RUNNING, claimed_until__lt=timezone.now()).update(
        state=RetryQueueItem.State.PENDING, claimed_until=None
    )


def retry_backlog() -> dict[str, Any]:
    """Items waiting in the retry queue and how long the oldest due one has waited."""
    from .models import RetryQueueItem

    now = timezone.now()
    waiting = RetryQueueItem.objects.filter(state__in=[RetryQueueItem.State.PENDING, RetryQueueItem.State.RUNNING])
    oldest = (
        waiting.filter(next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    return {
        "pending": waiting.count(),
        "oldest_due_seconds": round((now - oldest).total_seconds(), 1) if oldest else 0.0,
        "exhausted_last_hour": RetryQueueItem.objects.filter(
            state=RetryQueueItem.State.EXHAUSTED, last_attempt_at__gte=now - datetime.timedelta(hours=1)
        ).count(),
    }


@dataclass
class QueueRun:
    succeeded: int = 0
    rescheduled: int = 0
    exhausted: int = 0

    @property
    def total(self) -> int:
        return self.succeeded + self.rescheduled + self.exhausted


def process_due(limit: int = 100) -> QueueRun:
    """Work off the items that are due, oldest first."""
    from .models import RetryQueueItem

    release_stale_claims()
    run = QueueRun()
    due = list(
        RetryQueueItem.objects.filter(state=RetryQueueItem.State.PENDING, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    for item_id in due:
        if not claim(item_id):  # one conditional UPDATE: atomic by itself
            continue
        state = run_item(item_id)
        if state == RetryQueueItem.State.SUCCEEDED:
            run.succeeded += 1
        elif state == RetryQueueItem.State.PENDING:
            run.rescheduled += 1
        else:
            run.exhausted += 1
    return run
