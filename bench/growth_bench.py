"""Growth benchmarks: how the cost of each read grows with the data (issue 19).

    manage.py bench_growth --sizes 10000,100000,1000000 --runs 20

For each size the command builds a corpus (:mod:`bench.corpus`) in a
database of its own, in a child process (``manage.py bench_growth
--one-size``) so that nothing of one size (connections, Django's caches, the
page cache of a SQLite file) carries over to the next, then times each
operation through the functions the consumer and the HTTP API call
(:mod:`messaging.store.reading` and its neighbours), counting the queries
each ran. The subjects are picked from the corpus by rule, so every size
measures the same thing: the user in the most conversations (the
``--hub-conversations`` user), the conversation with the most events, the
member furthest behind (the ``--backlog`` one)...

What grows between sizes is the number of messages (and what follows from
them: events, archived events, notifications, search entries); the people,
the conversations and the far end of the tail (the hub's 10,000
conversations, the 10,000 unread messages of the backlog) are the same at
every size, so a ratio between sizes is the cost of the data alone. The goal
is flat: each operation within 2x between the smallest and the largest size.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from .corpus import CorpusOptions, CorpusWriter
from .stats import percentile

#: the people and conversations of every size (only the messages grow)
USERS = 12_000
CONVERSATIONS = 40_000
HUB_CONVERSATIONS = 10_000
BACKLOG = 10_000
CONTACTS = 1_000
#: seconds of timed runs after which an operation stops, once it has LEAST_RUNS
BUDGET = 30.0
LEAST_RUNS = 5
#: the goal: each operation within this factor between the smallest and the largest size
FLAT = 2.0
#: what the benchmark process's CPU time covers, per database
CPU_MEANS = {
    "sqlite": "the database's work too",
    "postgresql": "the client's work only, not the server's",
}

OPERATIONS = (
    "open a chat",
    "history deep in the past",
    "sync after the backlog",
    "inbox of the hub",
    "unread counts of the hub",
    "notification badge",
    "notifications list",
    "presence of 1,000 contacts",
    "archive a month",
    "archive, per 1,000 events",
)


@dataclass
class Shape:
    """The corpus of every size but its messages."""

    users: int = USERS
    conversations: int = CONVERSATIONS
    hub_conversations: int = HUB_CONVERSATIONS
    backlog: int = BACKLOG
    contacts: int = CONTACTS

    def corpus(self, size: int) -> CorpusOptions:
        return CorpusOptions(
            users=self.users,
            conversations=self.conversations,
            messages=size,
            hub_conversations=self.hub_conversations,
            backlog=self.backlog,
            prefix="growth-",
        )


@dataclass
class Measured:
    operation: str
    subject: str
    p50_ms: float
    p95_ms: float
    #: queries of one run (the largest, if runs differ)
    queries: int
    runs: int
    note: str = ""
    #: this process's CPU time per run (p50): on SQLite the database's work too, on PostgreSQL the client's only.
    #: Wall clock on a loaded machine is mostly waiting for a core; this is not (docs/benchmark.md, issue 19).
    cpu_p50_ms: float = 0.0


@dataclass
class SizeResult:
    size: int
    vendor: str
    generated: str
    generation_seconds: float
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    operations: list[Measured] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SizeResult:
        operations = [Measured(**m) for m in data.pop("operations")]
        return cls(**data, operations=operations)


# --- One size, in the child process -----------------------------------------------------


def seed_presence(prefix: str) -> None:
    """Every corpus user has been seen; every tenth has a live socket (what ``presence_of_many`` reads)."""
    from django.contrib.auth import get_user_model

    from messaging.models import Connection, UserStatus

    now = timezone.now()
    ids = list(get_user_model().objects.filter(username__startswith=prefix).order_by("pk").values_list("pk", flat=True))
    UserStatus.objects.bulk_create(
        [UserStatus(user_id=pk, online=n % 10 == 0, last_seen=now) for n, pk in enumerate(ids)], batch_size=5000
    )
    Connection.objects.bulk_create(
        [
            Connection(user_id=pk, channel_name=f"growth.{pk}", kind=Connection.Kind.CHAT, server_id="growth")
            for pk in ids[::10]
        ],
        batch_size=5000,
    )


@dataclass
class Subjects:
    hub: Any
    hub_conversations: list[int]
    busiest: int
    busiest_seq: int
    reader: Any
    behind: Any
    notified: Any
    contacts: list[int]

    @classmethod
    def find(cls, *, contacts: int) -> Subjects:
        from django.contrib.auth import get_user_model

        from messaging.models import Conversation, Notification, Participant

        users = get_user_model().objects
        hub_id = Participant.objects.values("user_id").annotate(n=Count("id")).order_by("-n", "user_id")[0]["user_id"]
        # The corpus gives its backlog to its last direct conversation (see bench.corpus).
        backlog = Conversation.objects.filter(kind=Conversation.Kind.DIRECT).order_by("-pk")[0]
        behind = Participant.objects.filter(conversation=backlog).order_by("read_seq", "pk")[0]
        # The hub opens its busiest conversation: the same person at every size, with a log that grows.
        busiest = (
            Conversation.objects.filter(participants__user_id=hub_id, participants__left_seq__isnull=True)
            .exclude(pk=backlog.pk)
            .order_by("-last_seq", "pk")[0]
        )
        notified = Notification.objects.values("user_id").annotate(n=Count("id")).order_by("-n", "user_id")[0]
        hub_direct = Participant.objects.filter(user_id=hub_id, conversation__kind=Conversation.Kind.DIRECT).values(
            "conversation_id"
        )
        peers = (
            Participant.objects.filter(conversation_id__in=hub_direct)
            .exclude(user_id=hub_id)
            .order_by("user_id")
            .values_list("user_id", flat=True)[:contacts]
        )
        return cls(
            hub=users.get(pk=hub_id),
            hub_conversations=list(
                Participant.objects.filter(user_id=hub_id)
                .order_by("conversation_id")
                .values_list("conversation_id", flat=True)
            ),
            busiest=busiest.pk,
            busiest_seq=busiest.last_seq,
            reader=users.get(pk=hub_id),
            behind=behind,
            notified=users.get(pk=notified["user_id"]),
            contacts=list(peers),
        )


def first_socket(user_id: int) -> None:
    """Leave the user offline with no socket, so each "open a chat" run is their first socket and comes online.

    The corpus gives the hub a live socket (:func:`seed_presence`), so the
    runs were a second tab's opening (11 statements) until that socket's
    heartbeat went stale, ``MESSAGING_PRESENCE_EXPIRY_SECONDS`` after
    seeding, and a first socket's (13: the status flipped online and the
    direct peers read, to tell them) from then on: which one a run measured
    depended on how long generation and the runs before it had taken
    (docs/benchmark.md, "Why open a chat ran 11 or 13 queries").
    """
    from messaging.models import Connection, UserStatus

    Connection.objects.filter(user_id=user_id).delete()
    UserStatus.objects.filter(user_id=user_id).update(online=False)


def _timed(
    operation: str,
    subject: str,
    runs: int,
    work: Callable[[int], Any],
    *,
    reset: Callable[[int], Any] | None = None,
    warm: bool = True,
) -> Measured:
    """``work(run)`` ``runs`` times after one untimed call (unless not ``warm``): wall time and queries per run.

    An operation that has taken :data:`BUDGET` seconds stops after :data:`LEAST_RUNS`
    runs: on a loaded machine a slow read at 1M would otherwise take the hour.
    """
    if warm:
        work(-1)
        if reset is not None:
            reset(-1)
    seconds: list[float] = []
    cpu: list[float] = []
    queries = 0
    for run in range(runs):
        with CaptureQueriesContext(connection) as captured:
            started, cpu_started = time.perf_counter(), time.process_time()
            work(run)
            seconds.append(time.perf_counter() - started)
            cpu.append(time.process_time() - cpu_started)
        queries = max(queries, len(captured.captured_queries))
        if reset is not None:
            reset(run)
        if len(seconds) >= LEAST_RUNS and sum(seconds) > BUDGET:
            break
    ordered = sorted(seconds)
    return Measured(
        operation,
        subject,
        round((percentile(ordered, 50) or 0) * 1000, 2),
        round((percentile(ordered, 95) or 0) * 1000, 2),
        queries,
        len(seconds),
        cpu_p50_ms=round((percentile(sorted(cpu), 50) or 0) * 1000, 2),
    )


def measure(subjects: Subjects, runs: int, archive_runs: int) -> list[Measured]:
    """Each operation of :data:`OPERATIONS`, through the store's functions, the archive last (it moves rows)."""
    from messaging import conf
    from messaging.models import Connection, Event
    from messaging.ops.archive import archive
    from messaging.store import conversations, notifications, presence, reading

    expiry = conf.limits().presence_expiry
    hub, reader, behind = subjects.hub, subjects.reader, subjects.behind
    results: list[Measured] = []

    def open_chat(run: int) -> None:
        reading.open_session(
            reader.pk,
            f"growth.open.{run}",
            Connection.Kind.CHAT,
            "growth",
            max_sockets=None,
            expiry=expiry,
            username=reader.username,
        )
        reading.history_page(reader.pk, subjects.busiest, None, 50)

    def close_chat(run: int) -> None:
        presence.unregister_connection(reader.pk, f"growth.open.{run}", expiry, username=reader.username)

    first_socket(reader.pk)
    results.append(
        _timed(
            "open a chat",
            f"{reader.username}'s first socket in conversation {subjects.busiest} ({subjects.busiest_seq} events): "
            "connected + 50 newest",
            runs,
            open_chat,
            reset=close_chat,
        )
    )
    deep = max(2, subjects.busiest_seq // 20)
    results.append(
        _timed(
            "history deep in the past",
            f"50 before seq {deep} of {subjects.busiest_seq}",
            runs,
            lambda run: reading.history_page(reader.pk, subjects.busiest, deep, 50),
        )
    )
    missed = behind.conversation.last_seq - behind.read_seq
    results.append(
        _timed(
            "sync after the backlog",
            f"{behind.user.username} in conversation {behind.conversation_id}: 100 after seq {behind.read_seq} ({missed} missed)",
            runs,
            lambda run: reading.sync_page(behind.user_id, behind.conversation_id, behind.read_seq, 100),
        )
    )
    results.append(
        _timed(
            "inbox of the hub",
            f"{hub.username} ({len(subjects.hub_conversations)} conversations): first page of 50",
            runs,
            lambda run: reading.inbox(hub, before=None, limit=50, expiry=expiry),
        )
    )
    results.append(
        _timed(
            "unread counts of the hub",
            f"{hub.username}: unread per conversation, all {len(subjects.hub_conversations)}",
            runs,
            lambda run: conversations.unread_counts(hub.pk, subjects.hub_conversations),
        )
    )
    notified = subjects.notified
    results.append(
        _timed(
            "notification badge",
            f"{notified.username} ({notified.notifications.count()} notifications)",
            runs,
            lambda run: notifications.notification_unread_count(notified.pk),
        )
    )
    results.append(
        _timed(
            "notifications list",
            f"{notified.username}: newest 50",
            runs,
            lambda run: notifications.list_notifications(notified.pk, None, 50),
        )
    )
    results.append(
        _timed(
            "presence of 1,000 contacts",
            f"{len(subjects.contacts)} direct peers of {hub.username}",
            runs,
            lambda run: presence.presence_of_many(subjects.contacts, expiry),
        )
    )
    # Successive 30-day months from the oldest hot event on (the oldest tenth is in the archive already).
    oldest = Event.objects.order_by("created_at").values_list("created_at", flat=True).first()
    month = datetime.timedelta(days=30)
    moved: list[int] = []
    start = oldest or timezone.now()

    def archive_month(run: int) -> None:
        begin = start + month * run
        moved.append(archive(Event.objects.filter(created_at__gte=begin, created_at__lt=begin + month)))

    archived = _timed(
        "archive a month", "30 days of events into the archive table", archive_runs, archive_month, warm=False
    )
    events = sum(moved) / max(1, len(moved))
    archived.note = f"{events:.0f} events a month"
    results.append(archived)
    # A month holds as many more events as the corpus has: its cost per event is what should stay flat.
    per = max(1.0, events / 1000)
    results.append(
        Measured(
            "archive, per 1,000 events",
            "the same months",
            round(archived.p50_ms / per, 2),
            round(archived.p95_ms / per, 2),
            round(archived.queries / per),
            archived.runs,
        )
    )
    return results


def measure_size(
    size: int, runs: int, archive_runs: int, shape: Shape, progress: Callable[[str], None], *, generate: bool = True
) -> SizeResult:
    """Migrate the database this process uses, write the corpus in it (unless ``generate`` is false), time the operations."""
    from django.core.management import call_command
    from django.db import transaction

    call_command("migrate", verbosity=0)
    options = shape.corpus(size)
    if generate:
        with transaction.atomic():
            written = CorpusWriter(options, progress=progress).run()
        seed_presence(options.prefix)
        generated, seconds = written.summary(), round(written.seconds, 1)
    else:
        generated, seconds = "the corpus already there (--measure-only)", 0.0
    subjects = Subjects.find(contacts=shape.contacts)
    load_before = os.getloadavg()
    operations = measure(subjects, runs, archive_runs)
    return SizeResult(
        size,
        connection.vendor,
        generated,
        seconds,
        load_before,
        os.getloadavg(),
        operations,
    )


# --- The parent: one fresh database per size ----------------------------------------------


@contextlib.contextmanager
def fresh_database(keep: bool, out: Callable[[str], None]) -> Iterator[dict[str, str]]:
    """The environment of a child that uses a database of its own, dropped afterwards unless ``keep``.

    A SQLite file in a temporary directory, or, when ``DATABASE_URL`` names a
    PostgreSQL server, a new database beside it (as ``tests/servers.py``
    makes them: ``CREATE DATABASE``, the role has CREATEDB).
    """
    directory = Path(tempfile.mkdtemp(prefix="linkup-growth-"))
    env = {**os.environ, "LINKUP_VAR_DIR": str(directory), "PYTHONUNBUFFERED": "1"}
    url = os.environ.get("DATABASE_URL")
    if not url:
        env["SQLITE_PATH"] = str(directory / "growth.sqlite3")
        try:
            yield env
        finally:
            if keep:
                out(f"kept: {env['SQLITE_PATH']}")
            else:
                shutil.rmtree(directory, ignore_errors=True)
        return
    import psycopg
    from psycopg import sql

    name = f"linkup_growth_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    env["DATABASE_URL"] = urllib.parse.urlsplit(url)._replace(path=f"/{name}").geturl()
    try:
        yield env
    finally:
        shutil.rmtree(directory, ignore_errors=True)
        if keep:
            out(f"kept: PostgreSQL database {name}")
        else:
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def run_size(
    size: int,
    runs: int,
    archive_runs: int,
    shape: Shape,
    keep: bool,
    out: Callable[[str], None],
    json_dir: str | None = None,
) -> SizeResult:
    with fresh_database(keep, out) as env, tempfile.NamedTemporaryFile(suffix=".json") as result:
        command = [
            sys.executable,
            str(Path(settings.BASE_DIR) / "manage.py"),
            "bench_growth",
            "--one-size",
            str(size),
            "--runs",
            str(runs),
            "--archive-runs",
            str(archive_runs),
            "--users",
            str(shape.users),
            "--conversations",
            str(shape.conversations),
            "--hub-conversations",
            str(shape.hub_conversations),
            "--backlog",
            str(shape.backlog),
            "--contacts",
            str(shape.contacts),
            "--result",
            result.name,
        ]
        finished = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if finished.returncode:
            raise RuntimeError(f"size {size} failed:\n{finished.stderr[-4000:]}")
        figures = read_result(result.name)
    if json_dir:
        write_result(figures, str(Path(json_dir) / f"growth-{figures.vendor}-{size}.json"))
    return figures


def write_result(result: SizeResult, path: str) -> None:
    Path(path).write_text(json.dumps(asdict(result)))


def read_result(path: str) -> SizeResult:
    return SizeResult.from_json(json.loads(Path(path).read_text()))


# --- The table ---------------------------------------------------------------------------


def _size(size: int) -> str:
    if size >= 1_000_000 and size % 1_000_000 == 0:
        return f"{size // 1_000_000}M"
    if size >= 1000 and size % 1000 == 0:
        return f"{size // 1000}k"
    return str(size)


def growth_ratio(results: list[SizeResult], operation: str) -> float | None:
    """p50 at the largest size over p50 at the smallest."""
    first = next(m for m in results[0].operations if m.operation == operation)
    last = next(m for m in results[-1].operations if m.operation == operation)
    return round(last.p50_ms / first.p50_ms, 2) if first.p50_ms else None


def table(results: list[SizeResult], *, markdown: bool) -> list[str]:
    """Operation x size: p50 / p95 ms and queries, then the largest / smallest p50 ratio (flagged over 2x)."""
    results = sorted(results, key=lambda r: r.size)
    span = f"{_size(results[-1].size)}/{_size(results[0].size)}"
    header = ["operation", *(f"{_size(r.size)}: p50 / p95 ms (queries)" for r in results), f"{span} p50"]
    rows = []
    for operation in OPERATIONS:
        cells = [operation]
        for result in results:
            m = next(m for m in result.operations if m.operation == operation)
            cells.append(f"{m.p50_ms:.2f} / {m.p95_ms:.2f} ({m.queries})")
        ratio = growth_ratio(results, operation)
        flag = "n/a" if ratio is None else f"{ratio:.2f}x" + (" > 2x" if ratio > FLAT else "")
        cells.append(f"**{flag}**" if markdown and ratio and ratio > FLAT else flag)
        rows.append(cells)
    return _lines(header, rows, markdown=markdown)


def cpu_table(results: list[SizeResult], *, markdown: bool) -> list[str]:
    """Operation x size: this process's CPU time p50, then the ratio; empty for figures written without it.

    On a loaded machine the wall clock of each size depends on its share of the
    cores while it ran; CPU time does not, so on SQLite (where the database
    works in this process) this ratio is the data's.
    """
    results = sorted(results, key=lambda r: r.size)
    if not all(any(m.cpu_p50_ms for m in r.operations) for r in results):
        return []
    span = f"{_size(results[-1].size)}/{_size(results[0].size)}"
    header = ["operation", *(f"{_size(r.size)}: CPU p50 ms" for r in results), f"{span} CPU p50"]
    rows = []
    for operation in OPERATIONS:
        if operation.startswith("archive,"):
            continue
        found = [next(m for m in r.operations if m.operation == operation) for r in results]
        ratio = (
            f"{found[-1].cpu_p50_ms / found[0].cpu_p50_ms:.2f}x" if found[0].cpu_p50_ms and found[-1].runs else "n/a"
        )
        rows.append([operation, *(f"{m.cpu_p50_ms:.2f}" for m in found), ratio])
    return _lines(header, rows, markdown=markdown)


def _lines(header: list[str], rows: list[list[str]], *, markdown: bool) -> list[str]:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
        lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    else:
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in [header, *rows]]
    return lines


def describe(result: SizeResult) -> list[str]:
    """The lines above the table for one size: the corpus, its generation time, the load, the subjects."""
    load = lambda values: ", ".join(f"{v:.2f}" for v in values)
    lines = [
        f"{_size(result.size)} ({result.vendor}): {result.generated}; "
        f"load average {load(result.load_before)} before the timings, {load(result.load_after)} after"
    ]
    for m in result.operations:
        lines.append(f"  {m.operation}: {m.subject}" + (f" ({m.note})" if m.note else ""))
    return lines


def report(results: list[SizeResult], *, markdown: bool) -> list[str]:
    lines: list[str] = []
    for result in sorted(results, key=lambda r: r.size):
        lines += describe(result)
    lines.append("")
    lines += table(results, markdown=markdown)
    cpu = cpu_table(results, markdown=markdown)
    if cpu:
        lines += [
            "",
            f"This process's CPU time ({results[0].vendor}: {CPU_MEANS.get(results[0].vendor, 'the client')}):",
            "",
            *cpu,
        ]
    return lines
