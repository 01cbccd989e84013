"""A user's share of the database thread: fetches priced by the database work they cost.

Every socket's database work runs in one thread per process
(``messaging/async_handlers.py``), one call at a time, so a user who keeps
it busy delays everyone else's commits. Counting fetch frames does not bound
that: a ``history`` page of a long conversation, an inbox read or a ``sync``
from seq 0 each cost that thread 10 to 20 ms on a loaded machine, and one
account with many sockets multiplies any per-socket count. So a fetch
(``sync``, ``history``, ``resume``, ``conversations``, ``members``, ``list``)
is priced by the time the database thread spent on it, measured in that
thread (:func:`metered`: from the call's start to its end, so not the time it
waited its turn, which is other users' work; but including what the thread
waited for inside the call, the GIL and PostgreSQL's answer, since nobody
else's call could run meanwhile), and charged to the user across all their sockets in this
process (``MESSAGING_FETCH_WORK_LIMIT``, milliseconds per window). A user in
debt is refused further fetches (``rate_limited`` with ``retry_after``) until
the debt is paid back, before any database work is done for them.

Per process, not shared through the cache: the thread being protected is
this process's own, so is the share; and the check costs no round trip.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import time
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

from ..conf import Rate

P = ParamSpec("P")
R = TypeVar("R")


class WorkMeter:
    """Seconds of database-thread time spent on behalf of one frame."""

    __slots__ = ("seconds",)

    def __init__(self) -> None:
        self.seconds = 0.0


_meter: contextvars.ContextVar[WorkMeter | None] = contextvars.ContextVar("messaging_work_meter", default=None)


def metered(function: Callable[P, R]) -> Callable[P, R]:
    """``function`` (run in the database thread), adding its running time to the caller's :class:`WorkMeter`.

    The thread runs in a copy of the caller's context (asgiref), which holds
    the same meter object, so the time is seen by the caller on the event loop.
    """

    @functools.wraps(function)
    def timed(*args: P.args, **kwargs: P.kwargs) -> R:
        meter = _meter.get()
        if meter is None:
            return function(*args, **kwargs)
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            meter.seconds += time.perf_counter() - started

    return timed


@contextlib.contextmanager
def metering() -> Iterator[WorkMeter]:
    """Count the database time of every call made inside the block (and by tasks it starts)."""
    meter = WorkMeter()
    token = _meter.set(meter)
    try:
        yield meter
    finally:
        _meter.reset(token)


#: users whose budget is full again are forgotten once this many are remembered
PRUNE_AT = 10_000


class WorkBudget:
    """Per user, the milliseconds of database work ``rate`` allows (GCRA, with debt).

    ``Rate(count, seconds)``: ``count`` ms of work per ``seconds``, at most
    ``count`` ms in a burst. A fetch is let in while the user has any budget
    left; its cost is charged after it ran, so one expensive fetch may put
    the user in debt, and the next waits until the debt is paid.
    """

    def __init__(self, rate: Rate | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.clock = clock
        #: per user, the time at which all the work charged so far is paid back
        self.paid_at: dict[int, float] = {}

    def wait(self, user_id: int) -> float:
        """0.0 when the user may start a fetch now, else the seconds until they may."""
        if self.rate is None:
            return 0.0
        over = self.paid_at.get(user_id, 0.0) - self.clock() - self.rate.seconds
        return over if over > 0 else 0.0

    def charge(self, user_id: int, seconds: float) -> None:
        """The user's fetch took ``seconds`` of the database thread."""
        if self.rate is None or seconds <= 0:
            return
        now = self.clock()
        if len(self.paid_at) >= PRUNE_AT:
            self.paid_at = {user: at for user, at in self.paid_at.items() if at > now}
        payback = seconds * 1000 * self.rate.seconds / self.rate.count
        self.paid_at[user_id] = max(self.paid_at.get(user_id, 0.0), now) + payback


_budgets: dict[Rate | None, WorkBudget] = {}


def fetch_budget(rate: Rate | None) -> WorkBudget:
    """The process's one budget for ``rate`` (every socket of a user draws from the same)."""
    budget = _budgets.get(rate)
    if budget is None:
        budget = _budgets[rate] = WorkBudget(rate)
    return budget


def forget_all() -> None:
    """Every user's budget full again (each test starts so, as a new process does)."""
    _budgets.clear()
