"""Time the reads that grow with data at several corpus sizes, each in a fresh database.

    manage.py bench_growth --sizes 10000,100000,1000000 --runs 20 [--markdown] [--keep]

See :mod:`bench.growth_bench`; the figures are in docs/benchmark.md ("How cost grows with data").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bench import growth_bench
from bench.growth_bench import Shape

DEFAULTS = Shape()


def _sizes(value: str) -> list[int]:
    try:
        sizes = sorted({int(part) for part in value.split(",") if part.strip()})
    except ValueError as exc:
        raise CommandError(f"--sizes takes message counts separated by commas, not {value!r}") from exc
    if not sizes or sizes[0] < 1:
        raise CommandError("--sizes takes at least one message count, each at least 1")
    return sizes


class Command(BaseCommand):
    help = "Print p50/p95 and queries of each read that grows with data, per corpus size, with the growth ratio."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--sizes",
            default="10000,100000,1000000",
            help="messages per corpus, comma-separated (default: %(default)s)",
        )
        parser.add_argument("--runs", type=int, default=20, help="timed runs per operation (default: %(default)s)")
        parser.add_argument(
            "--archive-runs", type=int, default=3, help="months archived, each a timed run (default: %(default)s)"
        )
        parser.add_argument("--users", type=int, default=DEFAULTS.users, help="users (default: %(default)s)")
        parser.add_argument(
            "--conversations", type=int, default=DEFAULTS.conversations, help="conversations (default: %(default)s)"
        )
        parser.add_argument(
            "--hub-conversations",
            type=int,
            default=DEFAULTS.hub_conversations,
            help="conversations of the hub user (default: %(default)s)",
        )
        parser.add_argument(
            "--backlog",
            type=int,
            default=DEFAULTS.backlog,
            help="unread messages of the member furthest behind, added to each size (default: %(default)s)",
        )
        parser.add_argument(
            "--contacts",
            type=int,
            default=DEFAULTS.contacts,
            help="peers whose presence is read (default: %(default)s)",
        )
        parser.add_argument("--markdown", action="store_true", help="print the table as Markdown (for the docs)")
        parser.add_argument("--json-dir", help="also write each size's figures there (growth-<database>-<size>.json)")
        parser.add_argument(
            "--plot",
            metavar="DIR",
            help="write each size's figures into DIR/growth/ and redraw DIR's charts (growth.png: bench/plot.py)",
        )
        parser.add_argument("--keep", action="store_true", help="keep each size's database and say where it is")
        parser.add_argument(
            "--one-size",
            type=int,
            help="measure one size in the database the environment names (empty, or see --measure-only)",
        )
        parser.add_argument("--result", help="where --one-size writes its figures, as JSON")
        parser.add_argument(
            "--measure-only",
            action="store_true",
            help="with --one-size: time a corpus already there (kept with --keep), after migrating it",
        )
        parser.add_argument(
            "--results-from", help="print the table of figures written by --one-size (JSON files, comma-separated)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["runs"] < 1 or options["archive_runs"] < 1:
            raise CommandError("--runs and --archive-runs must be at least 1")
        shape = Shape(
            users=options["users"],
            conversations=options["conversations"],
            hub_conversations=options["hub_conversations"],
            backlog=options["backlog"],
            contacts=options["contacts"],
        )
        if not 0 <= shape.hub_conversations <= shape.conversations or shape.backlog < 0 or shape.contacts < 1:
            raise CommandError("--hub-conversations must be from 0 to --conversations, --backlog at least 0")
        if options["results_from"]:
            results = [growth_bench.read_result(path) for path in options["results_from"].split(",")]
            for line in growth_bench.report(results, markdown=options["markdown"]):
                self.stdout.write(line)
            return
        if options["one_size"] is not None:
            if not options["result"]:
                raise CommandError("--one-size needs --result")
            result = growth_bench.measure_size(
                options["one_size"],
                options["runs"],
                options["archive_runs"],
                shape,
                self.stderr.write,
                generate=not options["measure_only"],
            )
            growth_bench.write_result(result, options["result"])
            return
        if options["plot"]:
            options["json_dir"] = options["json_dir"] or str(Path(options["plot"]) / "growth")
            Path(options["json_dir"]).mkdir(parents=True, exist_ok=True)
        results = []
        for size in _sizes(options["sizes"]):
            self.stderr.write(f"size {size}: generating and measuring in a fresh database")
            try:
                results.append(
                    growth_bench.run_size(
                        size,
                        options["runs"],
                        options["archive_runs"],
                        shape,
                        options["keep"],
                        self.stderr.write,
                        json_dir=options["json_dir"],
                    )
                )
            except RuntimeError as exc:
                raise CommandError(str(exc)) from exc
        for line in growth_bench.report(results, markdown=options["markdown"]):
            self.stdout.write(line)
        if options["plot"]:
            from bench import plot  # matplotlib: a benchmark-only dependency, imported only when asked for

            for chart in plot.draw(Path(options["plot"])):
                self.stderr.write(f"chart: {chart}")
