"""Measure search on a generated corpus: first-page latency per kind of query, and the indexer's rate.

    manage.py generate_corpus --users 1000 --conversations 20000 --messages 1000000
    manage.py bench_search --runs 40

See :mod:`bench.search_bench`; the figures are in docs/benchmark.md ("Search").
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bench import search_bench
from bench.corpus import CorpusOptions


class Command(BaseCommand):
    help = "Print p50/p95 first-page search latency per kind of query on a generated corpus, and the indexer's rate."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--runs", type=int, default=40, help="searches per query and group of users (default: %(default)s)"
        )
        parser.add_argument(
            "--searchers", type=int, default=50, help="random corpus users to search as (default: %(default)s)"
        )
        parser.add_argument(
            "--heavy",
            type=int,
            default=3,
            help="the users who can read the most, searched as too (default: %(default)s)",
        )
        parser.add_argument(
            "--prefix", default=CorpusOptions().prefix, help="the corpus's username prefix (default: %(default)s)"
        )
        parser.add_argument("--seed", type=int, default=16, help="random seed (default: %(default)s)")
        parser.add_argument(
            "--plan",
            choices=("auto", "member", "index"),
            default="auto",
            help="how searches read: search()'s choice, or always one way (default: %(default)s)",
        )
        parser.add_argument(
            "--count",
            choices=("estimate", "exact"),
            default="estimate",
            help="the total each first page asks for, as the API's count= (default: %(default)s)",
        )
        parser.add_argument(
            "--index-messages",
            type=int,
            default=5000,
            help="re-index this many messages through the queue to time the indexer; 0: skip (default: %(default)s)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["runs"] < 1 or options["searchers"] < 1 or options["heavy"] < 0 or options["index_messages"] < 0:
            raise CommandError("--runs and --searchers must be at least 1, --heavy and --index-messages at least 0")
        try:
            search_bench.run(
                prefix=options["prefix"],
                runs=options["runs"],
                searcher_count=options["searchers"],
                heavy=options["heavy"],
                seed=options["seed"],
                index_messages=options["index_messages"],
                out=self.stdout.write,
                plan=None if options["plan"] == "auto" else options["plan"],
                count=options["count"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
