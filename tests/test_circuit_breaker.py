"""CircuitBreaker: closed -> open -> half-open -> closed, for any sequence of outcomes."""

from __future__ import annotations

import smtplib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from messaging.guards.circuit_breaker import BreakerState, CircuitBreaker, CircuitOpen

# The breaker alone, on a fake clock: no database, layer, cache or storage (run once, on the embedded default).
pytestmark = pytest.mark.stack_independent


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breaker(threshold: int = 3, reset: float = 10.0) -> tuple[CircuitBreaker, Clock]:
    clock = Clock()
    return CircuitBreaker("test", failure_threshold=threshold, reset_timeout=reset, clock=clock), clock


def fail() -> None:
    raise ConnectionRefusedError("down")


def ok() -> str:
    return "ok"


def test_the_full_cycle_closed_open_half_open_closed() -> None:
    b, clock = breaker()
    seen = []
    b.listeners.append(lambda _, old, new: seen.append((old.value, new.value)))
    for _ in range(3):
        with pytest.raises(ConnectionRefusedError):
            b.call(fail)
    assert b.state is BreakerState.OPEN
    with pytest.raises(CircuitOpen):
        b.call(ok)  # fails fast: the call is not even made
    clock.now += 10
    assert b.call(ok) == "ok"  # the half-open probe
    assert b.state is BreakerState.CLOSED
    assert seen == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]


def test_a_failed_probe_opens_it_again_for_another_period() -> None:
    b, clock = breaker()
    for _ in range(3):
        with pytest.raises(ConnectionRefusedError):
            b.call(fail)
    clock.now += 10
    with pytest.raises(ConnectionRefusedError):
        b.call(fail)
    assert b.state is BreakerState.OPEN
    clock.now += 9
    with pytest.raises(CircuitOpen):
        b.call(ok)


def test_only_one_probe_at_a_time() -> None:
    b, clock = breaker(threshold=1)
    with pytest.raises(ConnectionRefusedError):
        b.call(fail)
    clock.now += 10
    assert b.allow() is True
    assert b.allow() is False


def test_permanent_errors_do_not_count() -> None:
    b, _ = breaker(threshold=1)

    def bad_address() -> None:
        raise smtplib.SMTPRecipientsRefused({"x@y": (550, b"no such user")})

    for _ in range(5):
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            b.call(bad_address)
    assert b.state is BreakerState.CLOSED


async def test_async_calls_are_guarded_too() -> None:
    b, _ = breaker(threshold=2)

    async def down() -> None:
        raise ConnectionError("redis")

    for _ in range(2):
        with pytest.raises(ConnectionError):
            await b.acall(down)
    with pytest.raises(CircuitOpen):
        await b.acall(down)


events = st.lists(st.one_of(st.just("ok"), st.just("fail"), st.floats(0, 30)), max_size=60)


@given(st.integers(1, 5), st.floats(0.5, 20), events)
def test_the_breaker_follows_its_model_for_any_sequence(threshold: int, reset: float, steps: list) -> None:
    """A reference model of the rules; the breaker must agree with it at every step."""
    b, clock = breaker(threshold, reset)
    state, failures, opened_at = "closed", 0, 0.0
    for step in steps:
        if isinstance(step, float):
            clock.now += step
            continue
        # What the model expects.
        if state == "open" and clock.now - opened_at >= reset:
            state = "half_open"
        allowed = state != "open"
        try:
            b.call(ok if step == "ok" else fail)
            called = True
        except CircuitOpen:
            called = False
        except ConnectionRefusedError:
            called = True
        assert called == allowed, (step, state)
        if allowed:
            if step == "ok":
                state, failures = "closed", 0
            else:
                failures += 1
                if state == "half_open" or failures >= threshold:
                    state, opened_at = "open", clock.now
        assert b.state.value == state
        # Invariants: an open breaker is never older than the clock; closed means under the threshold.
        assert b.state is not BreakerState.CLOSED or b.failures < threshold
