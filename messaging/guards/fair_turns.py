"""Turns at the database thread, taken round robin between users instead of first come, first served.

Every socket's database work runs in one thread per process, one call at a
time (``messaging/async_handlers.py``). In arrival order, a user with many
sockets, each with a call waiting, puts all of them ahead of another user's
one commit: that commit waits for every one of them. Here at most
:data:`DEPTH` calls are handed to the thread at once (one running, one ready
behind it, so the thread never idles between two), and when one finishes the
next turn goes to the user after the last one served, each user's own calls
staying in their order. A user's backlog then delays another user's call by
at most one call of theirs, whatever the number of their sockets.

The user is the socket's signed-in user (:func:`act_for`, set once per
consumer: its handlers and the tasks they start inherit it). Work on behalf
of everyone (the group commit's batches, ``messaging/realtime/writer.py``)
has a lane of its own, ``None``.

The fetches run on read threads of their own (:mod:`.read_threads`), and take
their turns there: :func:`turns` keeps one :class:`FairTurns` per pool.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import weakref

#: calls handed to the database thread at once
DEPTH = 2

_subject: contextvars.ContextVar[object] = contextvars.ContextVar("messaging_db_subject", default=None)


def act_for(subject: object) -> None:
    """From here on, this task's (and its children's) database calls take their turns as ``subject``'s."""
    _subject.set(subject)


def acting_for() -> object:
    """Whose turns this task's database calls take (``None``: the shared lane)."""
    return _subject.get()


def shared_context() -> contextvars.Context:
    """A context whose database calls are everyone's (the ``None`` lane): for tasks that serve many users."""
    context = contextvars.copy_context()
    context.run(_subject.set, None)
    return context


class FairTurns:
    """Who may hand the database thread their next call (one instance per event loop)."""

    def __init__(self, depth: int = DEPTH) -> None:
        self.depth = depth
        self.running = 0
        #: per subject, its calls waiting for a turn, in order; subjects in the order they are served
        self.waiting: collections.OrderedDict[object, collections.deque[asyncio.Future[None]]] = (
            collections.OrderedDict()
        )

    async def acquire(self) -> None:
        """Wait for this caller's turn (at once when the thread has room and nobody waits)."""
        if self.running < self.depth and not self.waiting:
            self.running += 1
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        subject = acting_for()
        self.waiting.setdefault(subject, collections.deque()).append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.release()  # the turn was given just as the caller was cancelled: pass it on
            else:
                self._forget(subject, turn)
            raise

    def _forget(self, subject: object, turn: asyncio.Future[None]) -> None:
        calls = self.waiting.get(subject)
        if calls is not None and turn in calls:
            calls.remove(turn)
            if not calls:
                del self.waiting[subject]

    def release(self) -> None:
        """A call finished: give the next turn to the next subject in the round."""
        self.running -= 1
        while self.waiting and self.running < self.depth:
            subject, calls = next(iter(self.waiting.items()))
            turn = calls.popleft()
            del self.waiting[subject]
            if calls:
                self.waiting[subject] = calls  # to the back of the round
            if turn.cancelled():
                continue
            self.running += 1
            turn.set_result(None)


_turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[object, FairTurns]] = weakref.WeakKeyDictionary()


def turns(pool: object = None, depth: int = DEPTH) -> FairTurns:
    """The running event loop's turns at ``pool`` (None: the database thread; daphne runs one loop, each test has its own)."""
    loop = asyncio.get_running_loop()
    pools = _turns.get(loop)
    if pools is None:
        pools = _turns[loop] = {}
    found = pools.get(pool)
    if found is None:
        found = pools[pool] = FairTurns(depth)
    return found
