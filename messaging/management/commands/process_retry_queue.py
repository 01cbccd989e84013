"""Work off the durable retry queue: once, or forever with ``--loop``."""

from __future__ import annotations

import signal
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError, close_old_connections

from messaging.error_models import ErrorCategory
from messaging.logging_utils import messaging_logger
from messaging.retry_handler import process_due


class Command(BaseCommand):
    help = "Run the retry queue's due items (queued emails and other deferred work)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", action="store_true", help="keep running, checking every --interval seconds")
        parser.add_argument("--interval", type=float, default=5.0, help="seconds between checks with --loop")
        parser.add_argument("--limit", type=int, default=100, help="most items per pass")

    def handle(self, *args: Any, loop: bool, interval: float, limit: int, **options: Any) -> None:
        stopping = False

        def stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        if loop:
            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)
        while True:
            try:
                run = process_due(limit=limit)
            except DatabaseError as exc:
                # The worker outlives a database outage; the items wait in the table.
                messaging_logger.error(ErrorCategory.DATABASE_ERROR, "retry queue pass failed", exc=exc)
                close_old_connections()
            else:
                if run.total or not loop:
                    self.stdout.write(
                        f"retry queue: {run.succeeded} succeeded, {run.rescheduled} rescheduled, "
                        f"{run.exhausted} exhausted"
                    )
            if not loop or stopping:
                return
            time.sleep(interval)
            if stopping:
                return
