"""``manage.py bench_chat``: throughput, latency, fan-out, loss and memory of LinkUp vs a bare relay.

By default it starts its own daphne (free loopback port, its own SQLite file
unless ``DATABASE_URL``/``REDIS_URL`` are set, migrated, benchmark users,
conversations and group created, relay mounted); ``--nginx`` puts Debian's
nginx with ``docs/deployment.md``'s config in front of it and a second daphne
(``bench/nginx.py``; the deployment stack only); ``--url`` targets a server
that is already running (its database is seeded with ``manage.py
bench_users`` run with this command's environment, which must name the
server's database; start it with ``MESSAGING_BENCH_RELAY=1`` or pass
``--no-relay``).
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bench import abuse
from bench.client import ENDPOINTS
from bench.flame import find_py_spy
from bench.nginx import NginxTopology, nginx_binary
from bench.report import (
    GROUP_MARKDOWN_HEADER,
    MARKDOWN_HEADER,
    format_group_markdown_row,
    format_markdown_row,
    format_report,
)
from bench.runner import BenchConfig, profile_report, run_against, sign_in
from bench.server import SEARCH_INDEXERS, UNLIMITED_RATE, BenchServer, RunningServer, raise_fd_limit
from bench.users import DEFAULT_PASSWORD

#: file descriptors per socket on the client side, plus headroom for the rest
FDS_PER_SOCKET = 1
FD_HEADROOM = 512


class Command(BaseCommand):
    help = "Benchmark persisted, acknowledged, delivered chat messages against a bare relay on the same daphne."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--pairs",
            type=int,
            default=1,
            help="sender/recipient pairs sending at once; 0 skips the pairs (default: 1)",
        )
        parser.add_argument(
            "--endpoint",
            choices=sorted(ENDPOINTS),
            default="chat",
            help="the pairs' LinkUp socket: chat (ws/chat/, default) or direct (the one-to-one view ws/chat/<peer>/)",
        )
        parser.add_argument(
            "--messages",
            type=int,
            default=200,
            help="measured messages per sender (default: 200; the --flood run's honest load is --flood-messages instead)",
        )
        parser.add_argument(
            "--window", type=int, default=1, help="unacknowledged messages a sender keeps in flight (default: 1)"
        )
        parser.add_argument(
            "--idle",
            type=int,
            default=200,
            help="idle authenticated sockets for the memory figure, per target; 0 skips (default: 200)",
        )
        parser.add_argument(
            "--idle-tabs",
            action="store_true",
            help="open LinkUp's idle sockets as browser tabs do: the user socket and the bell's, half each",
        )
        parser.add_argument(
            "--idle-concurrency",
            type=int,
            default=16,
            help="idle handshakes in progress at once (default: 16); daphne refuses one not accepted within 5 s",
        )
        parser.add_argument(
            "--duration", type=float, default=None, help="send for this many seconds instead of --messages"
        )
        parser.add_argument("--warmup", type=int, default=20, help="untimed messages per sender first (default: 20)")
        parser.add_argument(
            "--rounds",
            type=int,
            default=1,
            help="measure the 1:1 load and the group (LinkUp and the relay, alternating which goes first) or the"
            " --flood run (alone, then flooded) this many times back to back and print every round's ratio, their"
            " median and how many met the goal; the first round's figures are the main ones (default: 1). The"
            " ratios need the relay (not with --no-relay). With --flood, give --abuse-rate-limit room for every"
            " round's honest messages",
        )
        parser.add_argument("--size", type=int, default=64, help="code points of content per message (default: 64)")
        parser.add_argument(
            "--group-members",
            type=int,
            default=1000,
            help="members of the group of the fan-out run; 0 skips it (default: %(default)s)",
        )
        parser.add_argument(
            "--group-online",
            type=int,
            default=200,
            help="group members online, besides the sender, that each group message goes to (default: %(default)s)",
        )
        parser.add_argument(
            "--group-messages", type=int, default=100, help="measured group messages (default: %(default)s)"
        )
        parser.add_argument(
            "--group-window",
            type=int,
            default=1,
            help="group messages not yet at every recipient that the sender allows (default: 1, one at a time)",
        )
        parser.add_argument(
            "--group-warmup", type=int, default=5, help="untimed group messages first (default: %(default)s)"
        )
        parser.add_argument(
            "--group-receipts",
            action="store_true",
            help="the group's recipients confirm what they get with received frames, as a browser does; each"
            " confirmation is announced to every member, about K*K receipt frames a message (off by default)",
        )
        parser.add_argument("--url", default=None, help="benchmark a running server (http://host:port) instead")
        parser.add_argument(
            "--server-pid",
            type=int,
            default=None,
            help="with --url: the server's pid, to read its memory and CPU time (psutil)",
        )
        parser.add_argument(
            "--nginx",
            action="store_true",
            help="the deployment topology: Debian's nginx with docs/deployment.md's config in front of two daphne"
            " processes, every client through nginx (needs DATABASE_URL and REDIS_URL; no server CPU or memory figures)",
        )
        parser.add_argument("--password", default=DEFAULT_PASSWORD, help="the benchmark users' password")
        parser.add_argument("--no-relay", action="store_true", help="skip the bare relay (and the ratio)")
        parser.add_argument(
            "--rate-limit",
            default=UNLIMITED_RATE,
            help="MESSAGING_RATE_LIMIT of the server this command starts (default: %(default)s, never limits)",
        )
        parser.add_argument("--debug", action="store_true", help="start the server with DEBUG on (off by default)")
        parser.add_argument("--keep", action="store_true", help="keep the started server's directory (log, database)")
        parser.add_argument(
            "--search-indexer",
            choices=SEARCH_INDEXERS,
            default="worker",
            help="how the started server indexes messages for search: worker (manage.py search_index --loop as a"
            " process of its own, as scripts/start and a deployment run it; default), thread (the server's own"
            " indexer thread) or off (messages stay queued: no indexing at all)",
        )
        parser.add_argument(
            "--py-spy",
            dest="profile_dir",
            default=None,
            help="record py-spy profiles of each measured phase into this directory (py-spy must be installed;"
            " it pauses the server for each sample, so the run's figures are not comparable with others')",
        )
        parser.add_argument(
            "--flood",
            type=int,
            default=0,
            help="the abuse run: one account floods from this many sockets (every frame kind, reconnecting) beside"
            " the pairs' load, which runs alone first; prints the fairness ratio (default: 0, off)",
        )
        parser.add_argument(
            "--flood-rate", type=float, default=2000, help="the flood's frames a second, all sockets (default: 2000)"
        )
        parser.add_argument(
            "--flood-messages",
            type=int,
            default=100,
            help="measured messages per honest sender in each of the flood run's two phases (default: 100)",
        )
        parser.add_argument(
            "--slow-readers",
            type=int,
            default=0,
            help="the abuse run: this many sockets stop reading while their senders push them the longest messages;"
            " prints the server's memory per socket (default: 0, off)",
        )
        parser.add_argument(
            "--slow-messages", type=int, default=200, help="messages pushed to each slow reader (default: 200)"
        )
        parser.add_argument(
            "--unsent-bytes",
            type=int,
            default=None,
            help="MESSAGING_MAX_UNSENT_BYTES of the abuse runs' server (default: the setting's default)",
        )
        parser.add_argument(
            "--abuse-rate-limit",
            default="600/60s",
            help="MESSAGING_RATE_LIMIT of the abuse runs' server (default: %(default)s: the honest senders stay within"
            " it for two phases of up to 295 messages, the flooder does not; the run prints the honest resends)",
        )
        parser.add_argument("--json", action="store_true", help="print the result as JSON")
        parser.add_argument(
            "--plot",
            metavar="DIR",
            default=None,
            help="keep this run in DIR/runs/ and redraw DIR's PNG charts from every run there (bench/plot.py)",
        )
        parser.add_argument(
            "--label",
            default=None,
            help="with --plot: the name of the code this run measured (a branch, 'before'/'after'); runs with "
            "--rounds are drawn per label in DIR/rounds.png",
        )
        parser.add_argument("--markdown", action="store_true", help="also print the run as a row of the README's table")

    def handle(self, *args: Any, **options: Any) -> None:
        config = self.config(options)
        if options["nginx"] and (options["url"] or options["flood"] or options["slow_readers"]):
            raise CommandError(
                "--nginx starts its own servers for the load run: not with --url, --flood or --slow-readers"
            )
        if options["nginx"]:
            self.check_nginx()
        if config.rounds > 1 and not config.relay and not (options["flood"] or options["slow_readers"]):
            raise CommandError("--rounds compares LinkUp with the relay, round by round: not with --no-relay")
        if options["flood"] or options["slow_readers"]:
            self.abuse(config, options)
            return
        raise_fd_limit(FD_HEADROOM + FDS_PER_SOCKET * (config.idle + 2 * config.pairs + config.group_online + 1) * 2)
        if options["url"]:
            url = options["url"].rstrip("/")
            stack = {"database": "its own database", "channel_layer": "its own"}
            result = asyncio.run(run_against(RunningServer(url, options["server_pid"]), config, stack))
        else:
            server = BenchServer(
                pairs=config.pairs,
                password=config.password,
                rate_limit=options["rate_limit"],
                debug=options["debug"],
                keep=options["keep"],
                group_members=config.group_members,
                group_online=config.group_online,
                search_indexer=options["search_indexer"],
            )
            if options["nginx"]:
                server = NginxTopology(server)
            with server:
                try:
                    result = asyncio.run(run_against(server, config, server.stack))
                except Exception:
                    self.stderr.write(f"daphne log ({server.log_path}):\n{server.log_tail()}")
                    raise
            if options["keep"]:
                self.stderr.write(f"kept {server.var_dir}")
            if isinstance(server, BenchServer) and server.worker is not None:
                result["search_worker"] = server.search_lag
        if options["plot"]:
            from bench import plot  # matplotlib: a benchmark-only dependency, imported only when asked for

            if options["label"]:
                result["label"] = options["label"]
            plot.record(result, Path(options["plot"]))
            for chart in plot.draw(Path(options["plot"])):
                self.stderr.write(f"chart: {chart}")
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2))
        else:
            self.stdout.write(format_report(result))
            if "search_worker" in result:
                lag = result["search_worker"]
                self.stdout.write(
                    "  search worker: indexed nothing"
                    if lag is None
                    else f"  search worker: {lag['indexed']} messages in {lag['passes']} passes; the oldest of a pass"
                    f" waited {lag['median_wait_s']:.2f} s (median), {lag['max_wait_s']:.2f} s (max) to be searchable;"
                    + (
                        " the queue was not empty 120 s after the load"
                        if lag.get("drained_after_s") is None
                        else f" the queue was empty {lag['drained_after_s']:.1f} s after the load"
                    )
                )
            if config.profile_dir:
                self.stdout.write("\n" + profile_report(result))
            if options["markdown"] and result["load"]:
                self.stdout.write("\n" + MARKDOWN_HEADER + "\n" + format_markdown_row(result))
            if options["markdown"] and result["group"]:
                self.stdout.write("\n" + GROUP_MARKDOWN_HEADER + "\n" + format_group_markdown_row(result))
        if not result["ok"]:
            raise CommandError("messages were lost, duplicated, reordered or refused: see the correctness lines")

    def check_nginx(self) -> None:
        """``--nginx``: two daphnes share one database and channel layer only on the deployment stack."""
        if not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")):
            raise CommandError("--nginx needs the deployment stack: set DATABASE_URL and REDIS_URL (scripts/services)")
        if nginx_binary() is None:
            raise CommandError("--nginx needs Debian's nginx: run 'sudo scripts/system-deps'")

    def abuse(self, config: BenchConfig, options: dict[str, Any]) -> None:
        """The flood and slow-reader runs (bench/abuse.py) on a server of their own."""
        if options["url"]:
            raise CommandError("--flood and --slow-readers start their own server: drop --url")
        if options["flood"] and not config.pairs:
            raise CommandError("--flood measures the pairs' load beside it: give --pairs")
        honest = config.pairs if options["flood"] else 0
        readers = options["slow_readers"]
        total = honest + 1 + readers
        extra = {"MESSAGING_MAX_LENGTH": str(abuse.SLOW_MESSAGE_LENGTH)}
        if options["unsent_bytes"] is not None:
            extra["MESSAGING_MAX_UNSENT_BYTES"] = str(options["unsent_bytes"])
        raise_fd_limit(FD_HEADROOM + 4 * total + 2 * options["flood"])
        server = BenchServer(
            pairs=total,
            password=config.password,
            rate_limit=options["abuse_rate_limit"],
            debug=options["debug"],
            keep=options["keep"],
            extra_env=extra,
        )
        with server:
            try:
                result = asyncio.run(self.run_abuse(server, config, options, honest, readers))
            except Exception:
                self.stderr.write(f"daphne log ({server.log_path}):\n{server.log_tail()}")
                raise
        self.stdout.write(json.dumps(result, indent=2) if options["json"] else abuse.format_abuse(result))
        if result.get("flood") and not result["flood"]["ok"]:
            raise CommandError("honest messages were lost, duplicated, reordered or refused during the flood")

    async def run_abuse(
        self, server: BenchServer, config: BenchConfig, options: dict[str, Any], honest: int, readers: int
    ) -> dict[str, Any]:
        seed = await asyncio.to_thread(server.seed, honest + 1 + readers, config.password, 0, 0)
        pairs = await asyncio.to_thread(sign_in, server.base_url, honest + 1 + readers, config.password, seed)
        result: dict[str, Any] = {
            "stack": server.stack,
            "unsent_bytes": options["unsent_bytes"] or "default",
            "rate_limit": options["abuse_rate_limit"],
        }
        if options["flood"]:
            result["flood"] = await abuse.measure_flood_rounds(
                server.base_url,
                server.pid,
                pairs[:honest],
                pairs[honest],
                abuse.abuse_config(config, options["flood_messages"]),
                options["flood"],
                options["flood_rate"],
            )
        if readers:
            result["slow_readers"] = await abuse.measure_slow_readers(
                server.base_url, server.pid, pairs[honest + 1 :], options["slow_messages"]
            )
            # What the server held for each reader when it closed it, as it recorded it.
            recorded = await asyncio.to_thread(server.manage, "shell", "-c", abuse.HELD_AT_CLOSE_QUERY)
            result["slow_readers"]["held_at_close_bytes"] = json.loads(recorded.strip().splitlines()[-1])
        result["loadavg"] = " ".join(f"{v:.2f}" for v in os.getloadavg())
        return result

    def config(self, options: dict[str, Any]) -> BenchConfig:
        for name in ("window", "idle_concurrency", "group_window"):
            if options[name] < 1:
                raise CommandError(f"--{name.replace('_', '-')} must be at least 1")
        for name in (
            "pairs",
            "messages",
            "idle",
            "warmup",
            "group_members",
            "group_online",
            "group_messages",
            "group_warmup",
        ):
            if options[name] < 0:
                raise CommandError(f"--{name.replace('_', '-')} must not be negative")
        if options["idle"] and not options["pairs"]:
            raise CommandError("--idle opens its sockets for the pairs' users: give --pairs, or --idle 0")
        if options["group_members"] == 1:
            raise CommandError("--group-members must be 0 (no group run) or at least 2")
        if options["group_members"] and not 1 <= options["group_online"] < options["group_members"]:
            raise CommandError("--group-online must be at least 1 and less than --group-members (the sender is one)")
        if not options["pairs"] and not options["group_members"]:
            raise CommandError("nothing to run: --pairs 0 and --group-members 0")
        if options["size"] < 1:
            raise CommandError("--size must be at least 1")
        if options["profile_dir"] and find_py_spy() is None:
            raise CommandError("--py-spy needs py-spy: `.venv/bin/pip install py-spy` (a dev tool, not a requirement)")
        if options["profile_dir"] and options["url"] and not options["server_pid"]:
            raise CommandError("--py-spy with --url needs --server-pid")
        return BenchConfig(
            pairs=options["pairs"],
            messages=options["messages"],
            window=options["window"],
            idle=options["idle"],
            idle_concurrency=options["idle_concurrency"],
            idle_tabs=options["idle_tabs"],
            duration=options["duration"],
            warmup=options["warmup"],
            size=options["size"],
            relay=not options["no_relay"],
            password=options["password"],
            profile_dir=options["profile_dir"],
            endpoint=options["endpoint"],
            group_members=options["group_members"],
            group_online=options["group_online"] if options["group_members"] else 0,
            group_messages=options["group_messages"],
            group_window=options["group_window"],
            group_warmup=options["group_warmup"],
            group_receipts=options["group_receipts"],
            rounds=max(1, options["rounds"]),
        )
