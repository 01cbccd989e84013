"""``manage.py ops_drill``: chat load with the SMTP server stopped halfway, watched through /metrics."""

from __future__ import annotations

import asyncio
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bench.drill import DrillConfig, run_drill


class Command(BaseCommand):
    help = (
        "Start daphne, a retry worker and an SMTP server, send chat messages to online and away users, "
        "stop SMTP for the middle third, and print what /metrics and the admin show every second."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--pairs", type=int, default=4, help="senders (half their recipients online, half away)")
        parser.add_argument("--duration", type=float, default=30.0, help="seconds of sending (default: 30)")
        parser.add_argument("--rate", type=float, default=4.0, help="messages per second per sender (default: 4)")

    def handle(self, *args: Any, pairs: int, duration: float, rate: float, **options: Any) -> None:
        if pairs < 2:
            raise CommandError("--pairs must be at least 2: some recipients online, some away")
        config = DrillConfig(pairs=pairs, duration=duration, rate=rate)
        result = asyncio.run(run_drill(config, self.stdout.write))
        if result["emails_lost"] or result["emails_duplicated"]:
            raise CommandError("emails were lost or duplicated")
