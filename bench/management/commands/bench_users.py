"""Create the benchmark's users in this project's database (``bench_chat --url`` needs them)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bench.users import DEFAULT_PASSWORD, ensure_bench_users


class Command(BaseCommand):
    help = "Create or reset the benchmark users bench-s1/bench-r1 ... bench-sN/bench-rN."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--pairs", type=int, default=10, help="sender/recipient pairs (default: %(default)s)")
        parser.add_argument("--password", default=DEFAULT_PASSWORD, help="their password (default: %(default)s)")

    def handle(self, *args: Any, pairs: int, password: str, **options: Any) -> None:
        if pairs < 1:
            raise CommandError("--pairs must be at least 1")
        names = ensure_bench_users(pairs, password)
        self.stdout.write(f"{len(names)} benchmark users ready: {names[0]} .. {names[-1]}")
