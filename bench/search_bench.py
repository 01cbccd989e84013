"""The search benchmark: first-page latency of each kind of query on a generated corpus, and the indexer's speed.

Run it on a database that holds a corpus (``manage.py generate_corpus``)::

    manage.py bench_search --runs 40

The queries are picked from the corpus itself, so the same command means the
same thing on any corpus: a word in about 0.1% of the messages, a phrase
taken from a message, a prefix of 4 letters, ``from:`` a busy sender plus a
common word, a word in about 10% of the messages (100,000 of a million: the
first page of a very common word), and a word in no message. Each is
searched by random corpus users (``--searchers``) and by the users who can
read the most messages (``--heavy``), as the API does it: the first page,
newest first, with the total. Figures are printed, never asserted.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, transaction

from messaging.models import Participant, SearchEntry, SearchQueue
from messaging.store.search import index as search_index
from messaging.store.search import search, window_size

from .corpus import closest, word_frequencies

#: search texts read to count word frequencies (a sample, spread over the whole corpus)
SAMPLE = 50_000


@dataclass
class Figures:
    name: str
    query: str
    seconds: list[float] = field(default_factory=list)
    #: this process's CPU seconds per search: on SQLite the whole search's work, whatever else loads the machine
    cpu: list[float] = field(default_factory=list)
    plans: dict[str, int] = field(default_factory=dict)
    totals: list[int] = field(default_factory=list)
    #: runs whose total was exact
    exact: int = 0

    def line(self) -> str:
        ms = sorted(s * 1000 for s in self.seconds)
        p50 = statistics.median(ms)
        p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
        cpu = sorted(s * 1000 for s in self.cpu)
        cpu_p95 = cpu[min(len(cpu) - 1, round(0.95 * (len(cpu) - 1)))]
        plans = ", ".join(f"{k} {v}" for k, v in sorted(self.plans.items()))
        total = statistics.median(self.totals) if self.totals else 0
        return (
            f"{self.name:<28} {self.query[:34]:<34} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  max {ms[-1]:7.1f} ms"
            f"  cpu p50 {statistics.median(cpu):6.1f} p95 {cpu_p95:6.1f} ms"
            f"  (median total {total:g}, exact in {self.exact}/{len(ms)}; plans: {plans})"
        )


def pick_queries(prefix: str, rng: random.Random) -> list[tuple[str, str]]:
    """(name, query) for each kind, chosen from word frequencies in a sample of the corpus's search texts."""
    total = SearchEntry.objects.count()
    if not total:
        raise ValueError("no search entries: generate a corpus first (manage.py generate_corpus)")
    step = max(1, total // SAMPLE)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT text FROM {SearchEntry._meta.db_table} WHERE event_id %% %s = 0 LIMIT %s", [step, SAMPLE]
        )
        texts = [row[0] for row in cursor.fetchall()]
    counts = word_frequencies(texts)
    scale = total / max(1, len(texts))
    scaled = {word: count * scale for word, count in counts.items()}
    ascii_words = {w: c for w, c in scaled.items() if w.isascii() and w.isalpha()}
    word, _ = closest(ascii_words, total * 0.001, min_length=5)
    common, _ = closest(ascii_words, total * 0.1, min_length=3)
    prefix_word, _ = closest({w: c for w, c in ascii_words.items() if len(w) >= 6}, total * 0.002, min_length=6)
    phrase_source = next(
        t for t in texts if len([w for w in t.split() if w.isascii() and w.isalpha() and len(w) > 3]) >= 3
    )
    phrase_words = [w for w in phrase_source.split() if w.isascii() and w.isalpha() and len(w) > 3]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT u.username FROM {SearchEntry._meta.db_table} se JOIN auth_user u ON u.id = se.sender_id "
            "WHERE u.username LIKE %s AND se.event_id %% %s = 0 GROUP BY u.username ORDER BY COUNT(*) DESC LIMIT 1",
            [f"{prefix}%", step],
        )
        sender = cursor.fetchone()[0]
    return [
        ("one word (~0.1%)", word),
        ("phrase", f'"{phrase_words[0]} {phrase_words[1]}"'),
        ("prefix", prefix_word[:4] + "*"),
        ("from: + word", f"from:{sender} {common}"),
        ("word in ~10% (first page)", common),
        ("word in no message", "zqxjvkw"),
    ]


def searchers(prefix: str, rng: random.Random, count: int, heavy: int) -> tuple[list[Any], list[Any]]:
    """Random corpus users, and the ``heavy`` ones whose windows span the most events."""
    users = list(get_user_model().objects.filter(username__startswith=prefix).order_by("pk"))
    if not users:
        raise ValueError(f"no users named {prefix}…: generate a corpus first, or pass its --prefix")
    sample = rng.sample(users, min(count, len(users)))
    busiest = Participant.objects.filter(user__username__startswith=prefix).values_list("user_id", flat=True).order_by()
    by_members = {}
    for user_id in busiest:
        by_members[user_id] = by_members.get(user_id, 0) + 1
    top = sorted(by_members, key=by_members.get, reverse=True)[: heavy * 4]
    ranked = sorted(top, key=window_size, reverse=True)[:heavy]
    lookup = {u.pk: u for u in users}
    return sample, [lookup[pk] for pk in ranked]


def measure(
    queries: list[tuple[str, str]],
    users: list[Any],
    runs: int,
    rng: random.Random,
    plan: str | None = None,
    count: str = "estimate",
) -> list[Figures]:
    results = []
    for name, query in queries:
        figures = Figures(name, query)
        search(users[0], query, force_plan=plan, count=count)  # warm the caches once
        for _ in range(runs):
            user = rng.choice(users)
            started, cpu = time.perf_counter(), time.process_time()
            page = search(user, query, force_plan=plan, count=count)
            figures.seconds.append(time.perf_counter() - started)
            figures.cpu.append(time.process_time() - cpu)
            figures.plans[page.plan] = figures.plans.get(page.plan, 0) + 1
            figures.totals.append(page.total.count if page.total else 0)
            figures.exact += bool(page.total and page.total.exact)
        results.append(figures)
    return results


def indexing_rate(messages: int) -> tuple[int, float]:
    """Queue ``messages`` already indexed messages again and drain them: (indexed, seconds)."""
    table = SearchQueue._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (event_id) SELECT event_id FROM {SearchEntry._meta.db_table} ORDER BY event_id DESC LIMIT %s",
            [messages],
        )
    started = time.perf_counter()
    taken = search_index.drain_all()
    return taken, time.perf_counter() - started


def run(
    *,
    prefix: str,
    runs: int,
    searcher_count: int,
    heavy: int,
    seed: int,
    index_messages: int,
    out: Callable[[str], None],
    plan: str | None = None,
    count: str = "estimate",
) -> None:
    """Print the figures; ``plan`` forces one way of reading (``member`` or ``index``) instead of search()'s choice."""
    rng = random.Random(seed)
    out(
        f"database: {connection.vendor}; search entries: {SearchEntry.objects.count()}; queued: {SearchQueue.objects.count()}"
    )
    queries = pick_queries(prefix, rng)
    sample, busiest = searchers(prefix, rng, searcher_count, heavy)
    out(
        f"searchers: {len(sample)} random corpus users; heavy: {', '.join(u.username for u in busiest)} "
        f"(windows of {', '.join(str(window_size(u.pk)) for u in busiest)} events)"
    )
    for label, users in (("random users", sample), ("heaviest users", busiest)):
        out(f"-- {label}: first page (20 hits, newest first, with the total, count={count}), {runs} runs per query")
        for figures in measure(queries, users, runs, rng, plan, count):
            out(figures.line())
    if index_messages:
        taken, seconds = indexing_rate(index_messages)
        out(f"indexer: {taken} queued messages indexed in {seconds:.2f} s ({taken / seconds:,.0f} messages/s)")
