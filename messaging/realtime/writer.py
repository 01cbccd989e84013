"""Group commit: work that arrives while one batch is being written goes into the next.

Every consumer's database work runs in one thread, one call at a time. When
many sockets send at once, storing each message (or each receipt) in
its own call means a hop into that thread and a commit per item. A
:class:`GroupCommit` queues them instead and hands whatever has queued up to
one batch call (one transaction, one commit). Alone, an item is written at
once, as before; under load, batches form by themselves while the previous
one is written.

Nothing about the guarantees changes: each caller waits for its own item's
outcome, which is known only after the commit, so an ``ack`` still follows
the commit; seqs are still taken under the conversation row's lock; a
repeated client_id still comes back as the first message.

The queue is shared by every socket of the process, so what enters it is
bounded at the edge (the user's rate limit and the socket's in-flight cap are
checked before :meth:`GroupCommit.enqueue`), and a socket that closes takes
back whatever it still had waiting (:meth:`GroupCommit.drop`): an abusive
client closed mid-flood leaves no work behind for everyone else to wait on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from .. import conf
from ..async_handlers import AsyncSafeMessageHandler as db
from ..guards.fair_turns import shared_context
from ..store.events import NewMessage, Outcome
from ..store.receipts import CursorMark, ReceiptSettled

T = TypeVar("T")
R = TypeVar("R")

#: most items written in one transaction; a longer transaction holds SQLite's
#: write lock (and PostgreSQL's row locks) for longer
MAX_BATCH = 50


@dataclass
class _Waiting(Generic[T, R]):
    item: T
    future: asyncio.Future[R]
    owner: str | None = None


class Dropped(Exception):
    """The item's socket closed before its batch started: it was never written."""


class GroupCommit(Generic[T, R]):
    """Batches calls of ``run(items) -> outcomes`` (one outcome per item, in order)."""

    def __init__(self, name: str, run: Callable[[list[T]], Awaitable[list[R]]]) -> None:
        self.name = name
        self.run = run
        self._queue: list[_Waiting[T, R]] = []
        self._task: asyncio.Task[None] | None = None
        #: items ever queued and dropped (the metrics and the fairness tests read them)
        self.enqueued = 0
        self.dropped = 0

    def enqueue(self, item: T, owner: str | None = None) -> asyncio.Future[R]:
        """Queue ``item`` for the next batch; the future holds its outcome once committed.

        Items are written, and their futures resolved, in the order they were
        queued. ``owner`` (a socket's channel name) lets :meth:`drop` take
        back the owner's items.
        """
        loop = asyncio.get_running_loop()
        waiting: _Waiting[T, R] = _Waiting(item, loop.create_future(), owner)
        self._queue.append(waiting)
        self.enqueued += 1
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            # Items queued from another, finished event loop (a test's) would
            # be answered into a closed loop: they are dropped.
            self._queue = [w for w in self._queue if w.future.get_loop() is loop]
            # Its batches serve every socket: they take the database thread's
            # turns in the shared lane, not as the user whose item came first.
            self._task = loop.create_task(
                self._drain(), name=f"messaging-group-commit-{self.name}", context=shared_context()
            )
        return waiting.future

    def drop(self, owner: str) -> int:
        """Take ``owner``'s items out of the queue (not those of a batch already running); how many.

        Their futures fail with :class:`Dropped`.
        """
        kept: list[_Waiting[T, R]] = []
        dropped = 0
        for waiting in self._queue:
            if waiting.owner == owner:
                dropped += 1
                if not waiting.future.done():
                    waiting.future.set_exception(Dropped())
            else:
                kept.append(waiting)
        self._queue = kept
        self.dropped += dropped
        return dropped

    def waiting(self) -> int:
        """Items queued and not yet in a running batch."""
        return len(self._queue)

    async def submit(self, item: T) -> R:
        """Write ``item`` with whatever else is queued; its outcome once committed."""
        return await self.enqueue(item)

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            try:
                outcomes = await self.run([waiting.item for waiting in batch])
            except BaseException as exc:  # handed to every waiting caller; fatal ones re-raised below
                for waiting in batch:
                    if not waiting.future.done():
                        waiting.future.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            for waiting, outcome in zip(batch, outcomes, strict=True):
                if not waiting.future.done():
                    waiting.future.set_result(outcome)


async def store_messages(items: list[NewMessage]) -> list[Outcome]:
    """Store a batch, reading who each new message notifies in the same trip (no second trip for "nobody")."""
    return await db.create_messages(items, notify_expiry=conf.limits().presence_expiry)


message_writer: GroupCommit[NewMessage, Outcome] = GroupCommit("messages", store_messages)
receipt_writer: GroupCommit[CursorMark, ReceiptSettled] = GroupCommit("receipts", db.apply_receipts)
