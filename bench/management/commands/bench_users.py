"""Create the benchmark's users, conversations and group in this project's database.

``bench_chat`` runs it against the server it starts; for ``bench_chat --url``
it runs it with the caller's environment, which must therefore name the
server's database. ``--json`` prints what the run needs (conversation ids,
the group's session cookies).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bench.users import DEFAULT_PASSWORD, seed


class Command(BaseCommand):
    help = (
        "Create or reset the benchmark users bench-s1/bench-r1 ... bench-sN/bench-rN and their direct "
        "conversations, and optionally a group of bench-g1 ... bench-gM with sessions for some of them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--pairs", type=int, default=10, help="sender/recipient pairs (default: %(default)s)")
        parser.add_argument("--password", default=DEFAULT_PASSWORD, help="their password (default: %(default)s)")
        parser.add_argument(
            "--group-members", type=int, default=0, help="members of the benchmark group; 0: no group (default)"
        )
        parser.add_argument(
            "--group-online",
            type=int,
            default=0,
            help="group members besides the sender to open sessions for (default: %(default)s)",
        )
        parser.add_argument("--json", action="store_true", help="print the seed (ids, cookies) as JSON")

    def handle(self, *args: Any, pairs: int, password: str, **options: Any) -> None:
        members, online = options["group_members"], options["group_online"]
        if pairs < 0 or members < 0 or online < 0:
            raise CommandError("--pairs, --group-members and --group-online must not be negative")
        if members == 1:
            raise CommandError("--group-members must be 0 (no group) or at least 2")
        if members and online > members - 1:
            raise CommandError("--group-online counts members besides the sender: at most --group-members - 1")
        result = seed(pairs, password, group_members=members, group_online=online)
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        self.stdout.write(f"{2 * pairs} pair users and {len(result['pairs'])} direct conversations ready")
        if result["group"]:
            group = result["group"]
            self.stdout.write(
                f"group {group['conversation']} of {members} members (bench-g1 .. bench-g{members}), "
                f"{len(group['online'])} sessions besides the sender's"
            )
