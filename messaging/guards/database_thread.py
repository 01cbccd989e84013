"""A call on the database thread without asgiref's per-call bookkeeping, for the group commit.

Every message's commit reaches the database thread and comes back (commit
before ack), so the cost of that hop is on the path of every message.
``database_sync_to_async`` (Channels over asgiref's ``SyncToAsync``) pays,
per call, for cases the group commit never has: it re-homes every context
variable into the thread and back (``_restore_context``, twice), wraps the
executor's future in an asyncio one through ``run_in_executor`` and
``asyncio.shield``, and keeps the deadlock and thread-sensitive-context
checks. Measured on the development machine, a call of a function that does
nothing cost 118.9–137.5 µs of wall time and 116–125 µs of CPU that way, and
98.5–108.7 µs and 93–97 µs through this module (docs/benchmark.md, "The
group commit's hop and its per-batch settings").

:func:`on_database_thread` hands the function to **the same thread**
``database_sync_to_async`` uses (asgiref's single thread executor; Django's
connections are thread-local, so it is the same connection and the calls are
still one at a time), in a copy of the caller's context (so
``guards.work``'s meter and ``guards.fair_turns``' subject are seen as
there), closes stale connections before and after as Channels does, and
resolves an asyncio future from the thread with ``call_soon_threadsafe``.
What it does not do: carry context variables the function *sets* back to
the caller (the group commit's store functions set none). Where asgiref
would pick another thread (inside ``async_to_sync``, or a
``ThreadSensitiveContext``), it falls back to ``database_sync_to_async``.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import Executor
from typing import ParamSpec, TypeVar

from asgiref.sync import AsyncToSync, SyncToAsync
from channels.db import database_sync_to_async
from django.db import close_old_connections

P = ParamSpec("P")
R = TypeVar("R")


def _plain_executor(loop: asyncio.AbstractEventLoop) -> Executor | None:
    """The thread asgiref would run a thread-sensitive call on, when it is its single thread executor; else None."""
    if getattr(AsyncToSync.executors, "current", None) is not None:
        return None
    if SyncToAsync.thread_sensitive_context.get(None) is not None or loop in AsyncToSync.loop_thread_executors:
        return None
    return SyncToAsync.single_thread_executor


def _settle(future: asyncio.Future[R], result: R | None, error: BaseException | None) -> None:
    if future.done():  # the caller was cancelled meanwhile
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)  # type: ignore[arg-type]  # result is R whenever error is None


def _run_and_settle(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[R],
    context: contextvars.Context,
    call: Callable[[], R],
) -> None:
    """In the database thread: the call between two stale-connection sweeps, its outcome handed to the loop."""
    result: R | None = None
    error: BaseException | None = None
    try:
        close_old_connections()
        try:
            result = context.run(call)
        finally:
            close_old_connections()
    except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine, which re-raises it
        error = exc
    # RuntimeError: the loop closed meanwhile (shutdown), nobody awaits the outcome.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(_settle, future, result, error)


async def on_database_thread(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """``await database_sync_to_async(function)(*args, **kwargs)``, with a plainer hop when that is the same thread."""
    loop = asyncio.get_running_loop()
    executor = _plain_executor(loop)
    if executor is None:
        return await database_sync_to_async(function)(*args, **kwargs)
    future: asyncio.Future[R] = loop.create_future()
    executor.submit(
        _run_and_settle, loop, future, contextvars.copy_context(), functools.partial(function, *args, **kwargs)
    )
    return await future
