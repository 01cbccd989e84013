"""Keeping the index current: the queue the event triggers fill, drained into search entries.

Triggers on the event tables queue every message that is stored, edited,
purged, deleted or archived, in the transaction that does it, and delete its
entry at once when its text changed (see :mod:`messaging.models.search`).
:func:`drain` takes a batch from the queue and writes each message's entry
from what the message holds *now*: its current text, whichever table it is
in, or no entry if it is gone or no longer a message. A message queued twice
is written twice, with the same result; so two indexers (two server
processes, or the worker command beside them) may drain at once.

Who drains: every server process, in a thread of its own, soon after it
stores messages (:mod:`.indexer`); ``manage.py search_index --loop`` for a
deployment that prefers a worker; and every search first, for what is left
(a searcher always sees their own last message). ``manage.py search_index
--rebuild`` writes every entry again from the messages.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

from ...models import ArchivedEvent, Event, EventKind, SearchEntry, SearchQueue
from .text import is_segmented, search_text

#: queued rows one drain takes: one short transaction, so SQLite's single
#: writer (the message writer's batches) never waits long behind it
DRAIN_BATCH = 500
#: a word longer than this (in UTF-8 bytes) is indexed by its start only:
#: PostgreSQL refuses lexemes over 2047 bytes, and no query word is this long
MAX_LEXEME_BYTES = 2000
#: the mark of a trigram lexeme in the PostgreSQL vector (never part of a word)
TRIGRAM = "~"
#: SQLite's FTS5 table over the entries' text (external content: the entries hold the text)
FTS = "messaging_search_fts"

_MESSAGE_COLUMNS = "id, conversation_id, seq, sender_id, created_at, content"


@dataclass(frozen=True)
class Drained:
    """What one drain did: queued rows taken, entries written."""

    taken: int
    indexed: int


def on_postgres() -> bool:
    return connection.vendor == "postgresql"


def drain(limit: int = DRAIN_BATCH, *, newest_first: bool = False) -> Drained:
    """Index up to ``limit`` queued messages, oldest first (``newest_first``: the latest queued).

    A search drains newest first: behind a backlog (a migration queued every
    old message, a burst) the searcher's own last message is still found.

    The reading and folding, most of a batch's work, happen before the write
    transaction, which only claims the queued rows, re-reads the messages
    and writes their entries: on SQLite that transaction holds the one write
    lock every send needs, so it is kept to the part that must be in it
    (a batch of 500 held it 257 ms with the folding inside, docs/benchmark.md).
    A message changed between the two reads is folded again inside.
    """
    queued = _peek(limit, newest_first=newest_first)
    if not queued:
        return Drained(0, 0)
    prepared = {row[0]: (row, entry) for row, entry in _entries(_current_messages(sorted({e for _, e in queued})))}
    with transaction.atomic():
        event_ids = sorted(set(_claim([queue_id for queue_id, _ in queued])))
        if not event_ids:
            return Drained(0, 0)
        _delete_entries(event_ids)
        rows = []
        for row in _current_messages(event_ids):
            known = prepared.get(row[0])
            if known is not None and known[0] == row:
                rows.append(known[1])
            else:
                rows.extend(entry for _, entry in _entries([row]))
        return Drained(len(event_ids), _insert(rows))


def drain_all(
    *,
    batch: int = DRAIN_BATCH,
    max_batches: int | None = None,
    pause: float = 0.0,
    busy_pause: float | None = None,
    max_lag: float | None = None,
) -> int:
    """Drain until the queue is empty (or ``max_batches``); the queued rows taken.

    ``pause``: after each batch, sleep ``pause`` times as long as the batch
    took: the worker's way of leaving the database (on SQLite, its one write
    lock, which each batch's write holds) and the CPU to the servers between
    batches. ``busy_pause``: the same, used instead while messages are still
    being queued behind the drain (the servers are sending): indexing then
    takes at most ``1 / (1 + busy_pause)`` of the time, and catches up at
    ``pause`` once the sends are quiet. ``max_lag``: seconds the oldest
    queued message may wait before the drain stops yielding (back to
    ``pause``), so a long burst cannot leave search behind without bound.
    The lag this leaves is measured in docs/benchmark.md.
    """
    taken = 0
    batches = 0
    newest = _newest_queued()
    while max_batches is None or batches < max_batches:
        started = time.monotonic()
        done = drain(batch)
        if not done.taken:
            break
        taken += done.taken
        batches += 1
        factor = pause
        if busy_pause is not None:
            latest = _newest_queued()
            if latest is not None and (newest is None or latest > newest) and not _too_far_behind(max_lag):
                factor = busy_pause
            newest = latest
        if factor:
            time.sleep(factor * (time.monotonic() - started))
    return taken


def _too_far_behind(max_lag: float | None) -> bool:
    if max_lag is None:
        return False
    age = oldest_pending_age()
    return age is not None and age > max_lag


def _newest_queued() -> int | None:
    """The id of the newest queued row (ids only grow: a larger one means messages were queued since)."""
    return SearchQueue.objects.order_by("-id").values_list("id", flat=True).first()


def pending() -> int:
    """Queued rows (an upper bound of the messages waiting: one may be queued twice)."""
    return SearchQueue.objects.count()


def oldest_pending_age() -> float | None:
    """Seconds since the oldest queued message was stored (None: nothing queued or it is gone): the index's lag."""
    first = SearchQueue.objects.order_by("id").values_list("event_id", flat=True).first()
    if first is None:
        return None
    stamp = (
        Event.objects.filter(pk=first).values_list("created_at", flat=True).first()
        or ArchivedEvent.objects.filter(pk=first).values_list("created_at", flat=True).first()
    )
    if stamp is None:
        return None
    return max(0.0, (datetime.datetime.now(datetime.UTC) - stamp).total_seconds())


def _peek(limit: int, *, newest_first: bool = False) -> list[tuple[int, int]]:
    """Up to ``limit`` of the oldest (or newest) queued rows, read without taking them: ``(id, event_id)``."""
    order = "DESC" if newest_first else ""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, event_id FROM {SearchQueue._meta.db_table} ORDER BY id {order} LIMIT %s", [limit])
        return [(row[0], row[1]) for row in cursor.fetchall()]


def _claim(queue_ids: Sequence[int]) -> list[int]:
    """Remove these queued rows, those still there and (on PostgreSQL) not being taken by another indexer; their event ids.

    Two indexers may have read the same rows; each writes the entries of
    the rows it removed, so a message queued once is indexed once.
    """
    table = SearchQueue._meta.db_table
    marks = ", ".join(["%s"] * len(queue_ids))
    with connection.cursor() as cursor:
        if on_postgres():
            # Skip rows another indexer has locked rather than wait for it.
            cursor.execute(
                f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE id IN ({marks}) FOR UPDATE SKIP LOCKED) "
                "RETURNING event_id",
                list(queue_ids),
            )
        else:
            cursor.execute(f"DELETE FROM {table} WHERE id IN ({marks}) RETURNING event_id", list(queue_ids))
        return [row[0] for row in cursor.fetchall()]


def write_entries(event_ids: Sequence[int]) -> int:
    """Write the entries of these events from their current state (inside the caller's transaction); entries written."""
    rows = _current_messages(event_ids)
    _delete_entries(event_ids)
    return insert_entries(rows)


def _delete_entries(event_ids: Sequence[int]) -> None:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for chunk in _chunks(list(event_ids), 500):
            cursor.execute(
                f"DELETE FROM {quote(SearchEntry._meta.db_table)} WHERE event_id IN ({', '.join(['%s'] * len(chunk))})",
                chunk,
            )


def _current_messages(event_ids: Sequence[int]) -> list[tuple[Any, ...]]:
    """The message rows of these events, from the log or (for those not found there) the archive."""
    found: list[tuple[Any, ...]] = []
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for chunk in _chunks(list(event_ids), 500):
            for model in (Event, ArchivedEvent):
                cursor.execute(
                    f"SELECT {_MESSAGE_COLUMNS} FROM {quote(model._meta.db_table)} "
                    f"WHERE id IN ({', '.join(['%s'] * len(chunk))}) AND kind = %s",
                    [*chunk, EventKind.MESSAGE.value],
                )
                rows = cursor.fetchall()
                found.extend(rows)
                if len(rows) == len(chunk):
                    break  # all in the log (the usual batch): the archive is not read
                seen = {row[0] for row in rows}
                chunk = [event_id for event_id in chunk if event_id not in seen]
    return found


def insert_entries(rows: Iterable[tuple[Any, ...]]) -> int:
    """Insert entries for message rows ``(id, conversation_id, seq, sender_id, created_at, content)`` (none may exist)."""
    return _insert([entry for _, entry in _entries(rows)])


def _entries(rows: Iterable[tuple[Any, ...]]) -> Iterable[tuple[tuple[Any, ...], list[Any]]]:
    """Each message row with its entry's column values (the folded text; the vector on PostgreSQL); none for a purged message."""
    for row in rows:
        event_id, conversation_id, seq, sender_id, created_at, content = row
        text = search_text(content)
        if text == " ":
            continue  # nothing to find (a purged message)
        entry = [event_id, conversation_id, seq, sender_id, _stamp(created_at), text]
        if on_postgres():
            entry.append(vector_literal(text))
        yield row, entry


def _insert(values: list[list[Any]]) -> int:
    if not values:
        return 0
    table = connection.ops.quote_name(SearchEntry._meta.db_table)
    columns = "event_id, conversation_id, seq, sender_id, created_at, text"
    marks = "%s, %s, %s, %s, %s, %s"
    if on_postgres():
        columns += ", vector"
        marks += ", %s::tsvector"
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", values)
        if not on_postgres():
            insert_fts_rows(cursor, [(v[0], v[5]) for v in values])
    return len(values)


def insert_fts_rows(cursor: Any, rows: list[tuple[int, str]]) -> None:
    """SQLite: the FTS5 rows ``(event_id, text)`` of entries just inserted, one statement for them all.

    Not a trigger per entry: FTS5 writes what it holds as a segment at the
    end of every trigger run, so a batch took four times as long to insert
    and left segments for later inserts to merge (migration 0019).
    """
    cursor.executemany(f"INSERT INTO {FTS} (rowid, text) VALUES (%s, %s)", rows)


def _stamp(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return connection.ops.adapt_datetimefield_value(value)
    return value


def lexemes(text: str) -> list[str]:
    """The PostgreSQL vector's lexemes for a search text: its words, and the trigrams of its words of 3 letters or more.

    The words find whole words and prefixes (``'deplo':*``); the trigrams
    find a part inside a word (``eplo`` → ``~epl & ~plo``). Either way the
    index only narrows the candidates: the search checks every needle in
    the text itself.
    """
    found: set[str] = set()
    for word in set(text.split()):
        found.add(_clip(word))
        if len(word) >= 3 and not is_segmented(word):
            found.update(TRIGRAM + word[i : i + 3] for i in range(len(word) - 2))
    return sorted(found)


def _clip(word: str) -> str:
    data = word.encode("utf-8")
    if len(data) <= MAX_LEXEME_BYTES:
        return word
    return data[:MAX_LEXEME_BYTES].decode("utf-8", "ignore")


def quote_lexeme(lexeme: str) -> str:
    """A lexeme as tsvector/tsquery text reads it."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def vector_literal(text: str) -> str:
    return " ".join(quote_lexeme(lexeme) for lexeme in lexemes(text))


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- Rebuilding -------------------------------------------------------------------


def rebuild(*, batch: int = 5000, progress: Any = None) -> int:
    """Write every message's entry again from the messages, in batches of ids (each one transaction).

    Online: searches and sends go on meanwhile (a message stored during the
    rebuild is queued as always). Returns the entries written.
    """
    with transaction.atomic():
        SearchQueue.objects.all().delete()
    written = 0
    started = time.monotonic()
    for model in (Event, ArchivedEvent):
        last = 0
        while True:
            ids = list(
                model.objects.filter(pk__gt=last, kind=EventKind.MESSAGE)
                .order_by("pk")
                .values_list("pk", flat=True)[:batch]
            )
            if not ids:
                break
            last = ids[-1]
            with transaction.atomic():
                written += write_entries(ids)
            if progress is not None:
                progress(written, time.monotonic() - started)
    return written
