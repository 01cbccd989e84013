"""Write a generated chat corpus (users, conversations, messages, cursors, notifications, search entries).

    manage.py generate_corpus --users 1000 --conversations 20000 --messages 1000000

See :mod:`bench.corpus` for what it writes and why; docs/benchmark.md for the
search benchmark that uses it.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from bench.corpus import CorpusOptions, CorpusWriter

DEFAULTS = CorpusOptions()


class Command(BaseCommand):
    help = "Write a realistic generated chat corpus in bulk (for the search and growth benchmarks)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--users", type=int, default=DEFAULTS.users, help="users (default: %(default)s)")
        parser.add_argument(
            "--conversations", type=int, default=DEFAULTS.conversations, help="conversations (default: %(default)s)"
        )
        parser.add_argument("--messages", type=int, default=DEFAULTS.messages, help="messages (default: %(default)s)")
        parser.add_argument(
            "--group-share",
            type=float,
            default=DEFAULTS.group_share,
            help="share of groups among conversations (default: %(default)s)",
        )
        parser.add_argument(
            "--max-group-members",
            type=int,
            default=DEFAULTS.max_group_members,
            help="the largest group (default: %(default)s)",
        )
        parser.add_argument(
            "--archived",
            type=float,
            default=DEFAULTS.archived,
            help="share of the oldest events in the archive table (default: %(default)s)",
        )
        parser.add_argument(
            "--days",
            type=int,
            default=DEFAULTS.days,
            help="days the messages span, ending 2026-11-30 (default: %(default)s)",
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=DEFAULTS.seed,
            help="random seed: the same seed writes the same corpus (default: %(default)s)",
        )
        parser.add_argument(
            "--prefix", default=DEFAULTS.prefix, help="usernames start with this (default: %(default)s)"
        )
        parser.add_argument(
            "--password", default=DEFAULTS.password, help="every generated user's password (default: %(default)s)"
        )
        parser.add_argument(
            "--no-index",
            action="store_true",
            help="leave every message queued for the search indexer instead of writing its entry",
        )
        parser.add_argument("--no-notifications", action="store_true", help="write no notification rows")
        parser.add_argument(
            "--hub-conversations",
            type=int,
            default=DEFAULTS.hub_conversations,
            help="put the first user in this many conversations (default: %(default)s: as popularity falls)",
        )
        parser.add_argument(
            "--backlog",
            type=int,
            default=DEFAULTS.backlog,
            help="add this many newest messages to one direct conversation, all unread by one member (default: %(default)s)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        corpus = CorpusOptions(
            users=options["users"],
            conversations=options["conversations"],
            messages=options["messages"],
            group_share=options["group_share"],
            max_group_members=options["max_group_members"],
            archived=options["archived"],
            days=options["days"],
            seed=options["seed"],
            prefix=options["prefix"],
            password=options["password"],
            index=not options["no_index"],
            notifications=not options["no_notifications"],
            hub_conversations=options["hub_conversations"],
            backlog=options["backlog"],
        )
        if not 0 <= corpus.hub_conversations <= corpus.conversations or corpus.backlog < 0:
            raise CommandError("--hub-conversations must be from 0 to --conversations, --backlog at least 0")
        if corpus.users < 2 or corpus.conversations < 1 or corpus.messages < 0:
            raise CommandError("--users must be at least 2, --conversations at least 1, --messages at least 0")
        if corpus.users * (corpus.users - 1) // 2 < corpus.conversations * (1 - corpus.group_share) * 1.5:
            raise CommandError("too few users for that many direct conversations (each pair has one)")
        if not 0 <= corpus.group_share <= 1 or not 0 <= corpus.archived <= 1:
            raise CommandError("--group-share and --archived are shares, from 0 to 1")
        if get_user_model().objects.filter(username__startswith=corpus.prefix).exists():
            raise CommandError(f"users named {corpus.prefix}… exist already: use another --prefix or an empty database")
        with transaction.atomic():
            written = CorpusWriter(corpus, progress=lambda line: self.stderr.write(line)).run()
        self.stdout.write(written.summary())
