"""Fetches on database threads and connections of their own, so a commit never waits behind a page.

Every socket's writes run in one database thread per process
(``messaging/async_handlers.py``): the group commit, receipts, presence, one
call at a time. The fair turns (:mod:`.fair_turns`) bound how long one user's
backlog delays another user's call to one call of theirs, but not below it:
an honest commit that arrives while a flooder's ``history`` page is being
read (10 to 20 ms on a loaded machine) waits for that page. Measured on a
quiet machine, that wait alone put the honest p99 at 2.1 to 3.1 times its
value without the flood (docs/benchmark.md, issue 13).

So the fetches (``sync``, ``history``, ``resume``, ``conversations``,
``members``, ``list``, search, edit history: every call that only reads) run
on ``MESSAGING_READ_THREADS`` threads of their own, each with its own
database connection, with fair turns of their own. PostgreSQL serves them
beside the writer's transactions, and SQLite in WAL mode lets readers run
beside its one writer, each reading the last committed state: what a client
was acknowledged is committed, so a read that follows an ack sees it. The
threads share the GIL with the writer and the event loop; what they still
cost the writer is measured by ``bench_chat --flood``.

``MESSAGING_READ_THREADS = 0`` puts the reads back on the database thread
(one connection per process, as before).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from ..conf import int_setting

_executors: dict[int, ThreadPoolExecutor] = {}
_lock = threading.Lock()


def read_threads() -> int:
    """``MESSAGING_READ_THREADS``, read at call time (a test's override takes effect at once)."""
    return max(0, int_setting("MESSAGING_READ_THREADS"))


def read_executor(size: int) -> ThreadPoolExecutor | None:
    """The process's pool of ``size`` read threads, or None (``size`` 0) when reads share the database thread.

    One pool per configured size for the life of the process: its threads
    keep their connections (SQLite's persistent one, or one lent by
    PostgreSQL's pool per call), like the database thread.
    """
    if size == 0:
        return None
    found = _executors.get(size)
    if found is None:
        with _lock:
            found = _executors.get(size)
            if found is None:
                found = _executors[size] = ThreadPoolExecutor(max_workers=size, thread_name_prefix="linkup-db-read")
    return found
