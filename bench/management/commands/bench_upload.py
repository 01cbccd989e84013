"""Upload throughput (1 MB and 20 MB files) and the server's peak memory with 10 clients uploading at once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from bench.uploads import HEADER, run_all


class Command(BaseCommand):
    help = (
        "Start a fresh daphne per scenario and upload real multipart files to it: throughput for 1 MB and 20 MB files, "
        "and the server's RSS growth while 10 clients upload at once (docs/benchmark.md)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--quick", action="store_true", help="tiny numbers (the test suite's run)")

    def handle(self, *args: Any, quick: bool, **options: Any) -> None:
        results = run_all(quick=quick)
        self.stdout.write(HEADER)
        for result in results:
            self.stdout.write(result.row())
        if any(r.refused for r in results):
            raise SystemExit("some uploads were refused (see the table)")
