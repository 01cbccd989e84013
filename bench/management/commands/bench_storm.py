"""``manage.py bench_storm``: a reconnect storm against a daphne this command starts, kills and restarts.

The server is :class:`bench.server.BenchServer` (its own SQLite file, or
PostgreSQL and Redis when ``DATABASE_URL``/``REDIS_URL`` are set); the
clients, the kill and the checks are :mod:`bench.storm`.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bench.runner import sign_in
from bench.server import BenchServer, raise_fd_limit
from bench.storm import StormConfig, format_storm, run_storm
from bench.users import DEFAULT_PASSWORD

FD_HEADROOM = 512


class Command(BaseCommand):
    help = "Kill (SIGKILL) and restart a daphne under N browser sockets; time until all are back and caught up."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--clients", type=int, default=2000, help="sockets, half ws/chat/ half the bell's (2000)")
        parser.add_argument("--pairs", type=int, default=20, help="pairs of users the sockets are spread over (20)")
        parser.add_argument("--senders", type=int, default=10, help="chat tabs sending when the server dies (10)")
        parser.add_argument("--send-rate", type=float, default=20.0, help="messages a second per sending tab (20)")
        parser.add_argument("--before-kill", type=float, default=3.0, help="seconds of sending before the kill (3)")
        parser.add_argument("--concurrency", type=int, default=16, help="handshakes at once for the first opening")
        parser.add_argument("--deadline", type=float, default=180.0, help="seconds after the kill before giving up")
        parser.add_argument("--seed", type=int, default=19, help="the backoff jitter's random seed")
        parser.add_argument("--password", default=DEFAULT_PASSWORD)
        parser.add_argument("--keep", action="store_true", help="keep the server's directory (log, database)")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        config = StormConfig(
            clients=options["clients"],
            senders=min(options["senders"], options["pairs"]),
            send_rate=options["send_rate"],
            before_kill=options["before_kill"],
            concurrency=options["concurrency"],
            deadline=options["deadline"],
            seed=options["seed"],
        )
        raise_fd_limit(FD_HEADROOM + 2 * config.clients)
        server = BenchServer(pairs=options["pairs"], password=options["password"], keep=options["keep"])
        with server:
            try:
                result = asyncio.run(self.run(server, options["pairs"], options["password"], config))
            except Exception:
                self.stderr.write(f"daphne log ({server.log_path}):\n{server.log_tail()}")
                raise
        result["stack"] = server.stack
        self.stdout.write(json.dumps(result, indent=2) if options["json"] else format_storm(result, server.stack))
        if not result["ok"]:
            raise CommandError("the storm lost, duplicated or stranded something: see the lines above")

    async def run(self, server: BenchServer, pairs: int, password: str, config: StormConfig) -> dict[str, Any]:
        seed = await asyncio.to_thread(server.seed, pairs, password, 0, 0)
        users = await asyncio.to_thread(sign_in, server.base_url, pairs, password, seed)
        # A run of its own: on a database kept between runs (PostgreSQL), a client_id used before is a repeat.
        return await run_storm(server, users, config, f"storm-{uuid.uuid4().hex[:8]}")
