"""The search worker's pacing and its lag log: every queued message indexed, and the lag read back as logged."""

from __future__ import annotations

import datetime
import threading
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from bench.server import search_worker_lag
from messaging.management.commands.search_index import pass_line
from messaging.models import Event, SearchEntry, SearchQueue
from messaging.ops.archive import archive
from messaging.store import conversations
from messaging.store.search import index
from messaging.store.search.indexer import Indexer

from .groups import make_group, new_client_id
from .support.waiting import until
from .test_search_visibility import send

pytestmark = pytest.mark.django_db(transaction=True)


def test_draining_with_a_pause_between_batches_indexes_every_queued_message(alice: Any, bob: Any) -> None:
    group = make_group(alice, [bob])
    for n in range(7):
        send(alice, group, f"paced {n}")
    assert SearchQueue.objects.count() >= 7
    assert index.drain_all(batch=2, pause=0.01) >= 7
    assert SearchQueue.objects.count() == 0
    assert SearchEntry.objects.filter(text__contains="paced").count() == 7


def test_a_message_edited_while_its_batch_is_being_prepared_is_indexed_with_its_new_text(
    alice: Any, bob: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The drain reads and folds a batch before its write transaction; an edit
    # between the two must not leave the old text in the index.
    group = make_group(alice, [bob])
    send(alice, group, "meet at noon")
    read = index._current_messages
    calls = []

    def edited_after_the_first_read(event_ids: Any) -> Any:
        rows = read(event_ids)
        if not calls:
            Event.objects.filter(conversation_id=group, content="meet at noon").update(content="meet at midnight")
        calls.append(event_ids)
        return rows

    monkeypatch.setattr(index, "_current_messages", edited_after_the_first_read)
    index.drain(10)
    texts = SearchEntry.objects.filter(conversation_id=group).values_list("text", flat=True)
    assert [text.strip() for text in texts] == ["meet at midnight"]


def test_two_indexers_that_read_the_same_queued_rows_index_each_message_once(
    alice: Any, bob: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = make_group(alice, [bob])
    for n in range(3):
        send(alice, group, f"twice read {n}")
    peek = index._peek

    def another_indexer_drains_first(limit: int, **kwargs: Any) -> Any:
        rows = peek(limit, **kwargs)
        monkeypatch.setattr(index, "_peek", peek)
        assert index.drain(limit).indexed == 3
        return rows

    monkeypatch.setattr(index, "_peek", another_indexer_drains_first)
    assert index.drain(10).taken == 0
    assert SearchEntry.objects.filter(text__contains="twice read").count() == 3
    assert SearchQueue.objects.count() == 0


def test_the_worker_pauses_longer_while_messages_keep_being_queued_behind_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # Three batches while the servers are still queueing, then two after they stopped.
    newest = iter([10, 20, 30, 40, 40, 40])
    batches = iter([index.Drained(1, 1)] * 5 + [index.Drained(0, 0)])
    factors: list[float] = []
    clock = iter(range(100))
    monkeypatch.setattr(index, "_newest_queued", lambda: next(newest))
    monkeypatch.setattr(index, "drain", lambda batch: next(batches))
    monkeypatch.setattr(index.time, "monotonic", lambda: float(next(clock)))  # each batch takes 1 s
    monkeypatch.setattr(index.time, "sleep", factors.append)
    assert index.drain_all(batch=1, pause=1.0, busy_pause=8.0) == 5
    assert factors == [8.0, 8.0, 8.0, 1.0, 1.0]


def test_the_worker_stops_yielding_once_the_oldest_queued_message_has_waited_too_long(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    newest = iter([10, 20, 30, 40])
    batches = iter([index.Drained(1, 1)] * 3 + [index.Drained(0, 0)])
    ages = iter([2.0, 12.0])
    factors: list[float] = []
    clock = iter(range(100))
    monkeypatch.setattr(index, "_newest_queued", lambda: next(newest))
    monkeypatch.setattr(index, "drain", lambda batch: next(batches))
    monkeypatch.setattr(index, "oldest_pending_age", lambda: next(ages, 12.0))
    monkeypatch.setattr(index.time, "monotonic", lambda: float(next(clock)))
    monkeypatch.setattr(index.time, "sleep", factors.append)
    index.drain_all(batch=1, pause=1.0, busy_pause=8.0, max_lag=10.0)
    assert factors == [8.0, 1.0, 1.0]


def test_the_benchmark_reads_back_the_lag_the_worker_logs() -> None:
    log = "\n".join(
        [
            "starting",
            pass_line(200, 0.12, 1.5),
            "search index: 0 queued message(s) indexed",
            pass_line(1000, 0.6, 0.75),
            pass_line(5, 0.01, 3.25),
        ]
    )
    assert search_worker_lag(log) == {"passes": 3, "indexed": 1205, "max_wait_s": 3.25, "median_wait_s": 1.5}
    assert search_worker_lag("search index: 0 queued message(s) indexed") is None


def _indexed(text: str) -> Any:
    return lambda: SearchEntry.objects.filter(text=f" {text} ").exists()


def test_a_poked_indexer_drains_in_its_own_thread_stops_when_told_and_starts_again(alice: Any, bob: Any) -> None:
    direct, _ = conversations.get_or_create_direct(alice, bob)
    send(alice, direct.pk, "first words")  # queued; the process's own indexer is off in tests (interval 0)
    worker = Indexer()
    with override_settings(MESSAGING_SEARCH_INDEX_INTERVAL_SECONDS=0.05):
        try:
            worker.poke()
            until(_indexed("first words"), "first words indexed")
            thread = worker._thread
            worker.stop()
            assert thread is not None and not thread.is_alive() and worker._thread is None
            SearchEntry.objects.all().delete()
            SearchQueue.objects.bulk_create(
                SearchQueue(event_id=pk) for pk in Event.objects.values_list("pk", flat=True)
            )
            worker.poke()
            until(_indexed("first words"), "first words indexed")
        finally:
            worker.stop()


def test_an_indexer_thread_an_unexpected_error_ended_is_started_again_by_the_next_poke(
    alice: Any, bob: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    direct, _ = conversations.get_or_create_direct(alice, bob)
    send(alice, direct.pk, "first words")
    ended: list[type[BaseException]] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: ended.append(args.exc_type))
    drain_all = index.drain_all

    def broken(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("a bug in the drain")

    monkeypatch.setattr(index, "drain_all", broken)
    worker = Indexer()
    with override_settings(MESSAGING_SEARCH_INDEX_INTERVAL_SECONDS=0.05):
        try:
            worker.poke()
            until(lambda: ended == [RuntimeError], "the thread ended by the error")
            until(lambda: worker._thread is not None and not worker._thread.is_alive(), "the thread gone")
            monkeypatch.setattr(index, "drain_all", drain_all)
            worker.poke()
            until(_indexed("first words"), "first words indexed by a new thread")
        finally:
            worker.stop()


def test_an_indexer_drains_what_was_queued_without_a_poke_within_its_idle_period(alice: Any, bob: Any) -> None:
    # An edit (or another process's message) queues its event without poking this process's indexer.
    from messaging.store.message_actions import edit_message

    direct, _ = conversations.get_or_create_direct(alice, bob)
    seq = send(alice, direct.pk, "before")
    worker = Indexer()
    with override_settings(MESSAGING_SEARCH_INDEX_INTERVAL_SECONDS=0.05):
        try:
            worker.poke()
            until(_indexed("before"), "before indexed")
            edit_message(alice, direct.pk, seq, "after", new_client_id(), window=None)
            until(_indexed("after"), "after indexed")
        finally:
            worker.stop()


def test_a_drain_the_database_refuses_is_recorded_and_takes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.db import OperationalError

    from messaging.models import MessagingError

    def refused() -> int:
        raise OperationalError("database is locked")

    monkeypatch.setattr(index, "drain_all", refused)
    assert Indexer().drain_now() == 0
    [row] = MessagingError.objects.all()
    assert (row.category, row.message, row.context["exception"]) == (
        "database_error",
        "the search indexer could not drain the queue",
        "OperationalError: database is locked",
    )


def test_a_purged_message_in_a_batch_is_skipped_and_the_rest_are_indexed(alice: Any, bob: Any) -> None:
    from messaging.store.message_actions import delete_message, edit_message

    direct, _ = conversations.get_or_create_direct(alice, bob)
    first = send(alice, direct.pk, "soon gone")
    second = send(alice, direct.pk, "draft")
    index.drain_all()
    delete_message(alice, direct.pk, first, new_client_id(), window=None)  # queued again, with no text
    edit_message(alice, direct.pk, second, "final words", new_client_id(), window=None)
    assert index.drain(10) == index.Drained(taken=2, indexed=1)
    assert list(SearchEntry.objects.values_list("seq", "text")) == [(second, " final words ")]


def test_draining_an_empty_queue_takes_and_indexes_nothing() -> None:
    assert index.drain(10) == index.Drained(0, 0)
    assert index.drain_all() == 0


def test_a_drain_of_at_most_two_batches_takes_two_batches(alice: Any, bob: Any) -> None:
    direct, _ = conversations.get_or_create_direct(alice, bob)
    for n in range(5):
        send(alice, direct.pk, f"batch {n}")
    assert index.drain_all(batch=2, max_batches=2) == 4
    assert SearchQueue.objects.count() == 1


@pytest.mark.django_db(transaction=True, reset_sequences=True)  # the first message has id 1, as on a new deployment
def test_a_rebuild_writes_every_messages_entry_again_live_or_archived_and_empties_the_queue(
    alice: Any, bob: Any
) -> None:
    from messaging.store.message_actions import edit_message, react

    direct, _ = conversations.get_or_create_direct(alice, bob)
    for n in range(5):
        send(alice, direct.pk, f"entry number{n}")
    edit_message(alice, direct.pk, 5, "entry number4 edited", new_client_id(), window=None)  # an event, not a message
    react(bob, direct.pk, 5, "👍", new_client_id(), add=True, max_reactions=20)
    index.drain_all()
    archive(Event.objects.filter(conversation=direct, seq__lte=2))
    SearchEntry.objects.filter(seq=3).update(text=" stale ")  # an entry gone wrong
    SearchEntry.objects.filter(seq=4).delete()  # and one lost
    SearchQueue.objects.create(event_id=Event.objects.get(seq=5).pk)
    progress: list[tuple[int, float]] = []

    written = index.rebuild(batch=2, progress=lambda done, seconds: progress.append((done, seconds)))

    assert written == 5 and not SearchQueue.objects.exists()
    assert sorted(SearchEntry.objects.values_list("seq", "text")) == [
        (1, " entry number0 "),
        (2, " entry number1 "),
        (3, " entry number2 "),
        (4, " entry number3 "),
        (5, " entry number4 edited "),
    ]
    # after each batch, with the time since the start: the live table's two batches, then the archive's
    assert [done for done, _ in progress] == [2, 3, 5]
    assert all(0 <= seconds < 60 for _, seconds in progress)


def test_the_index_lag_is_the_age_of_the_oldest_queued_message_wherever_it_is_kept(alice: Any, bob: Any) -> None:
    group = make_group(alice, [bob])  # its own events first: event ids are not the queue's ids
    send(alice, group, "older")
    send(alice, group, "newer")
    older = Event.objects.get(conversation_id=group, content="older")
    Event.objects.filter(pk=older.pk).update(created_at=timezone.now() - datetime.timedelta(seconds=90))
    assert 89 < index.oldest_pending_age() < 120
    archive(Event.objects.filter(pk=older.pk))
    assert 89 < index.oldest_pending_age() < 120, "read from the archive"
    index.drain_all()
    assert index.oldest_pending_age() is None


def test_the_index_lag_of_a_message_stamped_ahead_of_this_clock_is_zero(alice: Any, bob: Any) -> None:
    direct, _ = conversations.get_or_create_direct(alice, bob)
    send(alice, direct.pk, "from a server whose clock runs ahead")
    Event.objects.update(created_at=timezone.now() + datetime.timedelta(seconds=30))
    assert index.oldest_pending_age() == 0.0
