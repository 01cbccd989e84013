"""The indexer of one server process: a thread that drains the search queue soon after messages are stored.

Storing a message only queues it (a trigger, in the send transaction); the
work of indexing it (folding its text, the FTS5 or GIN index update) happens
here, off the send path and in batches: a trigram index costs several times
more per message written alone than written with a few hundred others (see
docs/benchmark.md, "Search"). :func:`poke` is called after messages are
stored; the thread waits :data:`~messaging.conf.DEFAULT_SEARCH_INDEX_INTERVAL_SECONDS`
to gather a batch, then drains the queue. It also drains every
``10 × interval`` unpoked, for what other processes or other code (an edit
through the admin) queued.

A thread, not a task on the event loop: indexing is database and CPU work
that must not wait behind, or hold up, the consumers' database thread.
"""

from __future__ import annotations

from django.db import DatabaseError, close_old_connections

from ... import conf
from ...error_models import ErrorCategory
from ...logging_utils import messaging_logger
from ..background import PokedThread
from . import index

#: an unpoked indexer still looks at the queue this many intervals apart
IDLE_FACTOR = 10


class Indexer(PokedThread):
    name = "linkup-search-indexer"

    def interval(self) -> float:
        return conf.limits().search_index_interval

    def _loop(self) -> None:
        while not self._stop.is_set():
            interval = max(0.01, self.interval())
            poked = self._wake.wait(interval * IDLE_FACTOR)
            if self._stop.is_set():
                return
            if poked:
                self._stop.wait(interval)  # gather what else is being stored
            self._wake.clear()
            self.drain_now()

    def drain_now(self) -> int:
        """Drain the whole queue from this thread; the queued rows taken."""
        close_old_connections()
        try:
            return index.drain_all()
        except DatabaseError as exc:
            messaging_logger.error(
                ErrorCategory.DATABASE_ERROR, "the search indexer could not drain the queue", exc=exc
            )
            return 0


indexer = Indexer()
