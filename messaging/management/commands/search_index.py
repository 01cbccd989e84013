"""The search index: drain its queue once or for ever, rebuild it, or say how far behind it is.

manage.py search_index             index what is queued, then say what is left
manage.py search_index --loop      keep indexing (a worker beside the servers; set
                                   MESSAGING_SEARCH_INDEX_INTERVAL_SECONDS=0 for them then),
                                   at a lower CPU priority (--nice), in batches (--batch),
                                   pausing between them (--pause, longer while the servers
                                   are sending: --busy-pause, until the oldest queued message
                                   has waited --max-lag), each pass logged with how long its
                                   oldest message waited
manage.py search_index --rebuild   write every message's entry again from the messages
manage.py search_index --status    queued messages and the age of the oldest
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError, close_old_connections

from messaging import conf
from messaging.error_models import ErrorCategory
from messaging.logging_utils import messaging_logger
from messaging.store.search import index

#: the worker's niceness: the servers' sends come first on a shared machine (docs/benchmark.md, "Third round")
LOOP_NICENESS = 10
#: the worker sleeps this many times as long as each batch took before the next (the same measurements)
LOOP_PAUSE = 1.0
#: ... and this many times while messages keep being queued behind it (the servers are sending):
#: indexing then holds SQLite's write lock at most ~1/9 of the time (docs/benchmark.md, "Fourth round")
LOOP_BUSY_PAUSE = 8.0
#: ... unless the oldest queued message has waited this many seconds: then it drains at --pause again
LOOP_MAX_LAG = 10.0
#: queued messages a batch of the loop takes: one write transaction each, a few milliseconds long
LOOP_BATCH = 100


def pass_line(taken: int, seconds: float, waited: float) -> str:
    """The log line of one pass of the loop (``bench.server.search_worker_lag`` reads it back)."""
    return f"search index: {taken} queued message(s) indexed in {seconds:.2f} s; the oldest waited {waited:.2f} s"


class Command(BaseCommand):
    help = "Index the messages queued for search (once, or with --loop for ever), rebuild the index, or show its lag."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", action="store_true", help="keep indexing, looking every --interval seconds")
        parser.add_argument(
            "--interval",
            type=float,
            default=None,
            help="seconds between looks with --loop (default: MESSAGING_SEARCH_INDEX_INTERVAL_SECONDS, or 1)",
        )
        parser.add_argument(
            "--nice",
            type=int,
            default=LOOP_NICENESS,
            help=f"with --loop, lower the worker's CPU priority by this much (default: {LOOP_NICENESS}; 0: unchanged)",
        )
        parser.add_argument(
            "--pause",
            type=float,
            default=LOOP_PAUSE,
            help="with --loop, after each batch sleep this many times as long as the batch took"
            f" (default: {LOOP_PAUSE}; 0: none)",
        )
        parser.add_argument(
            "--busy-pause",
            type=float,
            default=LOOP_BUSY_PAUSE,
            help="with --loop, the pause factor while messages keep being queued (the servers are sending)"
            f" (default: {LOOP_BUSY_PAUSE})",
        )
        parser.add_argument(
            "--max-lag",
            type=float,
            default=LOOP_MAX_LAG,
            help="with --loop, seconds the oldest queued message may wait before --busy-pause gives way to --pause"
            f" (default: {LOOP_MAX_LAG})",
        )
        parser.add_argument(
            "--batch",
            type=int,
            default=LOOP_BATCH,
            help=f"with --loop, queued messages per batch, each one write transaction (default: {LOOP_BATCH})",
        )
        parser.add_argument(
            "--rebuild", action="store_true", help="write every message's entry again from the messages"
        )
        parser.add_argument(
            "--status", action="store_true", help="only say how many messages are queued, and since when"
        )

    def handle(
        self,
        *args: Any,
        loop: bool,
        interval: float | None,
        rebuild: bool,
        status: bool,
        nice: int,
        pause: float,
        busy_pause: float,
        max_lag: float,
        batch: int,
        **options: Any,
    ) -> None:
        if status:
            self.status()
            return
        if rebuild:
            started = time.monotonic()
            written = index.rebuild(
                progress=lambda done, seconds: self.stderr.write(f"{done} entries in {seconds:.0f} s")
            )
            self.stdout.write(f"rebuilt the search index: {written} entries in {time.monotonic() - started:.1f} s")
            return
        if interval is None:
            interval = conf.float_setting("MESSAGING_SEARCH_INDEX_INTERVAL_SECONDS") or 1.0
        stopping = False

        def stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        if loop:
            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)
            if nice:
                os.nice(nice)
        else:
            pause = busy_pause = 0.0
            batch = index.DRAIN_BATCH
        while True:
            try:
                started = time.monotonic()
                waiting = index.oldest_pending_age() if loop else None
                taken = index.drain_all(batch=batch, pause=pause, busy_pause=busy_pause or None, max_lag=max_lag)
            except DatabaseError as exc:
                # The worker outlives a database outage; the queue waits in its table.
                messaging_logger.error(ErrorCategory.DATABASE_ERROR, "search indexing pass failed", exc=exc)
                close_old_connections()
            else:
                if taken and waiting is not None:
                    # The index's lag: the oldest message of this pass became searchable this long after it was stored.
                    seconds = time.monotonic() - started
                    self.stdout.write(pass_line(taken, seconds, waiting + seconds))
                elif taken or not loop:
                    self.stdout.write(f"search index: {taken} queued message(s) indexed")
                self.stdout.flush()
            if not loop or stopping:
                if not loop:
                    self.status()
                return
            time.sleep(interval)
            if stopping:
                return

    def status(self) -> None:
        age = index.oldest_pending_age()
        queued = index.pending()
        self.stdout.write(
            f"search queue: {queued} queued" + (f", the oldest stored {age:.1f} s ago" if age is not None else "")
        )
