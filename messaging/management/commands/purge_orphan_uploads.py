"""Remove uploads that no message claimed (run it from cron, e.g. hourly)."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from messaging import conf
from messaging.store.attachments import purge_orphans


class Command(BaseCommand):
    help = (
        "Delete uploads (rows and stored files) that no message claimed within --older-than HOURS "
        "(default MESSAGING_UPLOAD_ORPHAN_HOURS)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", type=float, default=None, metavar="HOURS")

    def handle(self, *args: Any, older_than: float | None, **options: Any) -> None:
        hours = older_than if older_than is not None else conf.upload_limits().orphan_hours
        if hours <= 0:
            raise CommandError("--older-than must be positive: a sender's upload waits for their message")
        removed = purge_orphans(datetime.timedelta(hours=hours))
        self.stdout.write(f"removed {removed} upload(s) no message claimed within {hours:g} hour(s)")
