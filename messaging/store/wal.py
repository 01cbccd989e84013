"""SQLite's write-ahead log, copied back into the database off the send path.

On the embedded default (SQLite in WAL mode) every commit appends its pages
to the ``-wal`` file, and SQLite copies them into the database file (a
*checkpoint*, with an fsync) once the log has passed ``wal_autocheckpoint``
pages: by default 1,000, inside the commit that crossed the mark, on the
connection that made it. On a server that connection is the consumers'
database thread, so about every hundredth one-to-one message waited 4–6 ms
for the copy (docs/benchmark.md, "The write-ahead log's checkpoints").

Here a thread of each server process checkpoints instead, soon after the
group commit wrote (:meth:`Checkpointer.poke`) and at most once per
``MESSAGING_SQLITE_CHECKPOINT_SECONDS``: a ``PASSIVE`` checkpoint, which
neither waits for nor blocks writers and readers. The connections' own
threshold is raised (``SQLITE_WAL_AUTOCHECKPOINT_PAGES`` in
``linkup/settings.py``), so it only bounds the log's size. The log starts over
from its beginning only when a write begins with every frame already copied;
under a steady stream of sends that moment rarely comes, the log runs on to
that bound, and the commit that crosses it copies what this thread had not
yet copied (at most an interval's worth) and starts it over: the file holds
up to that many pages (40 MB by default, 4 MB before) and the send path
pays a short copy about every 10,000 pages instead of a long one every
1,000. Nothing here runs on PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import DatabaseError, close_old_connections, connection

from .. import conf
from ..error_models import ErrorCategory
from ..logging_utils import messaging_logger
from .background import PokedThread

#: checkpoints a pass runs at most: frames appended while one copied are copied by the next
#: (a write that begins with the whole log copied starts it over from its beginning)
PASSES = 3


@dataclass(frozen=True)
class Checkpoint:
    """What one ``PRAGMA wal_checkpoint(PASSIVE)`` answered: the log's frames and how many are in the database."""

    busy: bool
    logged: int
    copied: int

    @property
    def complete(self) -> bool:
        return not self.busy and self.copied >= self.logged


def checkpoint() -> Checkpoint:
    """One passive checkpoint on this thread's connection (SQLite only)."""
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
        busy, logged, copied = cursor.fetchone()
    return Checkpoint(bool(busy), logged, copied)


class Checkpointer(PokedThread):
    """The thread that checkpoints this process's SQLite log; started by the first :meth:`poke`."""

    name = "linkup-wal-checkpointer"

    def __init__(self) -> None:
        super().__init__()
        #: what the last checkpoint of this process's thread answered (the tests read it)
        self.last: Checkpoint | None = None

    def interval(self) -> float:
        """``MESSAGING_SQLITE_CHECKPOINT_SECONDS`` on SQLite; 0 (off) on any other database."""
        return conf.limits().sqlite_checkpoint if connection.vendor == "sqlite" else 0.0

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            # Gather an interval's writes into one checkpoint.
            if self._stop.wait(self.interval()):
                return
            self._wake.clear()
            self.checkpoint_now()

    def checkpoint_now(self) -> Checkpoint | None:
        """Copy the log into the database from this thread; the last checkpoint's answer (None: it failed)."""
        close_old_connections()
        try:
            for _ in range(PASSES):
                self.last = checkpoint()
                if self.last.complete or self.last.busy:
                    break
        except DatabaseError as exc:
            messaging_logger.error(ErrorCategory.DATABASE_ERROR, "could not checkpoint the SQLite log", exc=exc)
            return None
        return self.last


checkpointer = Checkpointer()
