"""A socket's incoming messages, one at a time, without a task per message.

Channels' ``AsyncConsumer.__call__`` feeds a consumer through
``await_many_dispatch``: for every message, from the client or from the
channel layer, it creates a new task for the next read of that source and
waits on both sources with ``asyncio.wait`` (a waiter future, a callback
added to each task and removed again). A LinkUp socket dispatches several
messages per chat message (the frame, the event pushed to it, receipts), and
profiled with one message in flight per pair that machinery was 15% of the
server's GIL-holding samples (docs/benchmark.md, "The consumers' dispatch").

:func:`dispatch_in_order` keeps what ``await_many_dispatch`` guarantees:
one message dispatched at a time, each awaited before the next, a source
read again only after its last message was dispatched, a failing source
ending the loop with its error, and the readers cancelled when the
dispatcher stops (``StopConsumer``, or the socket's task cancelled). It reads
each source with one long-lived task instead, which hands what it read over
and waits for it to be dispatched.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any


async def dispatch_in_order(
    sources: Sequence[Callable[[], Awaitable[Any]]], dispatch: Callable[[Any], Awaitable[None]]
) -> None:
    """Dispatch every message of ``sources`` as it arrives, one at a time, until ``dispatch`` or a source raises.

    Each source is read again only once its last message was dispatched, as
    ``await_many_dispatch`` does: a busy socket leaves what it has not taken
    in daphne's queue and the channel layer's. Per socket it keeps two reader
    tasks, a deque and at most one future waiting (an idle socket's memory).
    """
    loop = asyncio.get_running_loop()
    #: (message, the source's error, the future that lets its reader read on), in arrival order
    arrived: collections.deque[tuple[Any, Exception | None, asyncio.Future[None]]] = collections.deque()
    waiting: asyncio.Future[None] | None = None  # the dispatcher's, while nothing has arrived

    async def read(source: Callable[[], Awaitable[Any]]) -> None:
        while True:
            failure: Exception | None = None
            try:
                message = await source()
            except Exception as exc:  # noqa: BLE001 - raised by the dispatcher, as await_many_dispatch would
                message, failure = None, exc
            taken: asyncio.Future[None] = loop.create_future()
            arrived.append((message, failure, taken))
            if waiting is not None and not waiting.done():
                waiting.set_result(None)
            if failure is not None:
                return
            await taken

    readers = [loop.create_task(read(source)) for source in sources]
    try:
        while True:
            if not arrived:
                waiting = loop.create_future()
                try:
                    await waiting
                finally:
                    waiting = None
                continue
            message, failure, taken = arrived.popleft()
            if failure is not None:
                raise failure
            await dispatch(message)  # if it raises, the readers are cancelled below
            taken.set_result(None)
    finally:
        for reader in readers:
            reader.cancel()
        for reader in readers:
            with contextlib.suppress(asyncio.CancelledError):
                await reader
