"""The group commit's plain hop to the database thread (messaging/guards/database_thread.py)."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.db import connections

from messaging.guards.database_thread import on_database_thread
from messaging.guards.work import metered, metering

# The database thread sweeps stale connections around each call (as Channels does): it may touch its connection.
pytestmark = pytest.mark.django_db(transaction=True)

_seen: contextvars.ContextVar[str] = contextvars.ContextVar("test_database_thread_seen", default="unset")


def where() -> tuple[int, int]:
    """The thread a call ran on, and its database connection object."""
    return threading.get_ident(), id(connections["default"])


async def test_it_runs_on_the_thread_and_connection_database_sync_to_async_uses() -> None:
    plain = await on_database_thread(where)
    assert plain == await database_sync_to_async(where)()
    assert plain[0] != threading.get_ident()


async def test_the_functions_exception_is_raised_to_the_caller() -> None:
    def fails(reason: str) -> None:
        raise LookupError(reason)

    with pytest.raises(LookupError, match="no such row"):
        await on_database_thread(fails, "no such row")


async def test_the_function_gets_its_arguments_and_its_result_comes_back() -> None:
    assert await on_database_thread(lambda a, *, b: (a, b), 1, b=[2]) == (1, [2])


async def test_the_callers_context_is_seen_in_the_thread() -> None:
    _seen.set("the caller's")
    assert await on_database_thread(_seen.get) == "the caller's"


async def test_its_time_counts_toward_the_callers_meter() -> None:
    def busy() -> None:
        threading.Event().wait(0.02)

    with metering() as meter:
        await on_database_thread(metered(busy))
    assert meter.seconds >= 0.02


async def test_a_cancelled_caller_leaves_the_thread_serving_the_next_call() -> None:
    started, release = threading.Event(), threading.Event()

    def slow() -> str:
        started.set()
        release.wait(5)
        return "done"

    call = asyncio.ensure_future(on_database_thread(slow))
    await asyncio.to_thread(started.wait, 5)
    call.cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert await on_database_thread(lambda: "next") == "next"  # the thread went on


def test_inside_async_to_sync_it_runs_where_database_sync_to_async_would() -> None:
    """Under ``async_to_sync`` asgiref runs thread-sensitive calls on the sync caller's thread: so does this."""
    caller = threading.get_ident()

    async def both() -> tuple[int, int]:
        return (await on_database_thread(where))[0], (await database_sync_to_async(where)())[0]

    assert async_to_sync(both)() == (caller, caller)
