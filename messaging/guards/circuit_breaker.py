"""Circuit breakers around the dependencies that fail slowly: SMTP, push services and a Redis layer.

When a dependency keeps failing, waiting for each call to time out only
spreads the outage: every caller queues behind it. After
``failure_threshold`` failures in a row the breaker *opens* and calls fail at
once with :class:`CircuitOpen` (callers fall back: the email stays in the
retry queue, the push is left to ``sync``). After ``reset_timeout`` seconds
one call is let through as a *half-open* probe: success closes the breaker,
failure opens it again.

Each process has its own breakers (their state is per process by nature: it
is this process's experience of the dependency). Transitions are logged and
exported as the ``linkup_circuit_breaker_state`` metric, which the admin
shows for every process.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from .. import conf
from ..error_models import MessagingError
from ..logging_utils import messaging_logger
from ..ops import metrics
from ..retry_handler import is_transient

T = TypeVar("T")
log = logging.getLogger("messaging.breakers")


class BreakerState(str, enum.Enum):
    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"


class CircuitOpen(ConnectionError):
    """The breaker is open: the call was not attempted.

    A ``ConnectionError``, so the retry machinery treats it as transient.
    """


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        reset_timeout: float = 30.0,
        counts_as_failure: Callable[[BaseException], bool] = is_transient,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self.counts_as_failure = counts_as_failure
        self.clock = clock
        self.state = BreakerState.CLOSED
        self.failures = 0
        self.opened_at = 0.0
        self.probing = False
        self.listeners: list[Callable[[CircuitBreaker, BreakerState, BreakerState], None]] = []
        self._lock = threading.Lock()

    # --- The state machine ---------------------------------------------------

    def allow(self) -> bool:
        """Whether a call may go ahead now (taking the half-open probe if it is due)."""
        moved = None
        with self._lock:
            if self.state is BreakerState.CLOSED:
                return True
            if self.state is BreakerState.OPEN:
                if self.clock() - self.opened_at < self.reset_timeout:
                    return False
                moved = self._move(BreakerState.HALF_OPEN)
            allowed = not self.probing
            self.probing = True
        self._notify(moved)
        return allowed

    def record_success(self) -> None:
        moved = None
        with self._lock:
            self.failures = 0
            self.probing = False
            if self.state is not BreakerState.CLOSED:
                moved = self._move(BreakerState.CLOSED)
        self._notify(moved)

    def record_failure(self) -> None:
        moved = None
        with self._lock:
            self.failures += 1
            self.probing = False
            if self.state is BreakerState.HALF_OPEN or (
                self.state is BreakerState.CLOSED and self.failures >= self.failure_threshold
            ):
                self.opened_at = self.clock()
                moved = self._move(BreakerState.OPEN)
        self._notify(moved)

    def release(self) -> None:
        """A call that was allowed ended without saying anything about the dependency."""
        with self._lock:
            self.probing = False

    def reset(self) -> None:
        """Closed, with no failures counted (tests; an operator after a fix): as after a success."""
        self.record_success()

    def _move(self, new: BreakerState) -> tuple[BreakerState, BreakerState]:
        """Change state (under the lock); the listeners hear of it from :meth:`_notify`, outside it."""
        old, self.state = self.state, new
        return old, new

    def _notify(self, moved: tuple[BreakerState, BreakerState] | None) -> None:
        if moved is None:
            return
        old, new = moved
        log.warning("circuit breaker %s: %s -> %s", self.name, old.value, new.value)
        for listener in self.listeners:
            listener(self, old, new)

    # --- Calls ---------------------------------------------------------------

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if not self.allow():
            raise CircuitOpen(f"the {self.name} circuit breaker is open")
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            self._settle(exc)
            raise
        self.record_success()
        return result

    async def acall(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        if not self.allow():
            raise CircuitOpen(f"the {self.name} circuit breaker is open")
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            self._settle(exc)
            raise
        self.record_success()
        return result

    def _settle(self, exc: BaseException) -> None:
        if isinstance(exc, Exception) and self.counts_as_failure(exc):
            self.record_failure()
        else:
            # A permanent error (a bad address) says nothing about the
            # dependency's health; a cancellation says nothing at all.
            self.release()


def export_state(breaker: CircuitBreaker, old: BreakerState, new: BreakerState) -> None:
    metrics.BREAKER_STATE.labels(breaker.name).set(metrics.BREAKER_VALUES[new.value])
    metrics.BREAKER_TRANSITIONS.labels(breaker.name, new.value).inc()


#: the MessagingError category of each breaker's dependency failing
BREAKER_CATEGORIES = {"smtp": "delivery_error", "webpush": "delivery_error", "channel_layer": "connection_error"}


def record_transition(breaker: CircuitBreaker, old: BreakerState, new: BreakerState) -> None:
    """Keep every breaker change for operators (rare, so one row each).

    A breaker may change state in the event loop (the channel layer's) where
    the database cannot be touched directly: the record is then stored from
    a task.
    """

    arguments = (
        BREAKER_CATEGORIES.get(breaker.name, "connection_error"),
        f"circuit breaker {breaker.name}: {old.value} -> {new.value}",
    )
    severity = "warning" if new is BreakerState.OPEN else "info"
    context = {"breaker": breaker.name, "from": old.value, "to": new.value, "failures": breaker.failures}
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        messaging_logger.error(*arguments, severity=severity, context=context)
    else:
        # The loop keeps only a weak reference to a task: hold it until it is done.
        task = loop.create_task(messaging_logger.aerror(*arguments, severity=severity, context=context))
        _transition_records.add(task)
        task.add_done_callback(_transition_records.discard)


_transition_records: set[asyncio.Task[MessagingError | None]] = set()


def make_breaker(name: str, *, reset_setting: str = "MESSAGING_BREAKER_RESET_SECONDS") -> CircuitBreaker:
    """A breaker configured from ``MESSAGING_BREAKER_FAILURES`` and ``reset_setting``.

    Read when the module using it is imported (settings are loaded by then).
    Both are messaging/conf.py settings and take their defaults from there.
    """
    breaker = CircuitBreaker(
        name,
        failure_threshold=conf.int_setting("MESSAGING_BREAKER_FAILURES"),
        reset_timeout=conf.float_setting(reset_setting),
    )
    breaker.listeners += [export_state, record_transition]
    if not metrics.MULTIPROCESS:
        # In multiprocess mode every short-lived command (migrate, ...) would
        # leave a "closed" behind; there a breaker shows once it has moved.
        metrics.BREAKER_STATE.labels(name).set(metrics.BREAKER_VALUES[breaker.state.value])
    BREAKERS[name] = breaker
    return breaker


BREAKERS: dict[str, CircuitBreaker] = {}
