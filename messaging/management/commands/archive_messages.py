"""Move messages older than N days out of the hot table."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from messaging.ops.archive import archive_older_than


class Command(BaseCommand):
    help = "Move messages older than --older-than DAYS to the archive table (sync and history still see them)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", type=float, required=True, metavar="DAYS")
        parser.add_argument("--batch-size", type=int, default=1000)

    def handle(self, *args: Any, older_than: float, batch_size: int, **options: Any) -> None:
        if older_than < 1:
            raise CommandError(
                "--older-than must be at least 1 day: clients resend unacknowledged messages for minutes"
            )
        moved = archive_older_than(older_than, batch_size=batch_size)
        self.stdout.write(f"archived {moved} message(s) older than {older_than:g} day(s)")
