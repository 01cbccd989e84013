"""Fill a database at ``messaging 0005_tick_index`` (before the event log) with generated direct conversations.

For timing the upgrade to the event log on a deployment-sized database::

    manage.py migrate messaging 0005 && manage.py generate_legacy_data --messages 1000000
    /usr/bin/time -v manage.py migrate

(see docs/operations.md, "Upgrading to the event log").
"""

from __future__ import annotations

import random
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from bench.legacy_data import LEGACY_MIGRATION, LegacyWriter, applied_messaging_migrations, generated_conversations


class Command(BaseCommand):
    help = "Write generated users, direct conversations and messages (statuses, some archived) in the pre-event-log schema."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--messages", type=int, default=1_000_000, help="messages in all (default: %(default)s)")
        parser.add_argument("--users", type=int, default=2000, help="users (default: %(default)s)")
        parser.add_argument(
            "--per-conversation", type=int, default=200, help="average messages a conversation (default: %(default)s)"
        )
        parser.add_argument(
            "--archived", type=float, default=0.2, help="share of each conversation archived (default: %(default)s)"
        )
        parser.add_argument("--seed", type=int, default=12, help="random seed (default: %(default)s)")

    def handle(
        self, *args: Any, messages: int, users: int, per_conversation: int, archived: float, seed: int, **options: Any
    ) -> None:
        applied = applied_messaging_migrations()
        if not applied or applied[-1] != LEGACY_MIGRATION[1]:
            raise CommandError(
                f"the database must be at {LEGACY_MIGRATION[0]} {LEGACY_MIGRATION[1]} (the schema before the event log), "
                f"not {applied[-1] if applied else 'unmigrated'}: run `manage.py migrate messaging 0005` on an empty database"
            )
        if users < 2 or messages < 1 or per_conversation < 1 or not 0 <= archived <= 1:
            raise CommandError(
                "--users must be at least 2, --messages and --per-conversation at least 1, --archived in 0..1"
            )
        rng = random.Random(seed)
        started = time.perf_counter()
        with transaction.atomic():
            writer = LegacyWriter()
            user_ids = writer.users(users)
            writer.conversations(
                user_ids, generated_conversations(messages, users, per_conversation, rng, archived=archived)
            )
            writer.finish()
        done = writer.written
        self.stdout.write(
            f"{done.users} users, {done.conversations} conversations, {done.messages} messages "
            f"({done.archived} archived) in {time.perf_counter() - started:.1f} s"
        )
