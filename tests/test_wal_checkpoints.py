"""SQLite's write-ahead log is copied into the database by a thread of the server, not by the send's commit."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
from django.conf import settings
from django.db import OperationalError, connection
from django.test import override_settings

from messaging.models import MessagingError
from messaging.store import conversations, events, wal
from messaging.store.wal import Checkpointer, checkpointer

from .groups import new_client_id

pytestmark = pytest.mark.django_db(transaction=True)

on_sqlite = pytest.mark.skipif(connection.vendor != "sqlite", reason="the write-ahead log is SQLite's")

#: the WAL file: a 32-byte header, then per frame a 24-byte header and a page
WAL_HEADER, FRAME_HEADER = 32, 24


def wal_frames() -> int:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA page_size")
        page_size = cursor.fetchone()[0]
    size = os.path.getsize(f"{connection.settings_dict['NAME']}-wal")
    return max(0, size - WAL_HEADER) // (FRAME_HEADER + page_size)


def send_many(user: Any, conversation_id: int, count: int) -> None:
    for index in range(count):
        events.create_message(conversation_id, user, f"message {index}", new_client_id())


def wait_for_checkpoint(deadline: float = 10.0) -> wal.Checkpoint | None:
    until = time.monotonic() + deadline
    while checkpointer.last is None and time.monotonic() < until:
        time.sleep(0.02)
    return checkpointer.last


@pytest.fixture
def running_checkpointer() -> Any:
    checkpointer.last = None
    with override_settings(MESSAGING_SQLITE_CHECKPOINT_SECONDS=0.05):
        try:
            yield checkpointer
        finally:
            checkpointer.stop()
            checkpointer.last = None


@on_sqlite
def test_the_connections_own_checkpoint_waits_for_the_raised_threshold() -> None:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        assert cursor.fetchone()[0] == settings.SQLITE_WAL_AUTOCHECKPOINT_PAGES == 10_000


@on_sqlite
def test_sending_does_not_copy_the_log_at_sqlites_default_of_a_thousand_pages(alice: Any, bob: Any) -> None:
    direct, _ = conversations.get_or_create_direct(alice, bob)
    send_many(alice, direct.pk, 300)  # about ten pages of log each
    # SQLite's default would have copied and started the log over at 1,000 pages.
    assert wal_frames() > 1_500


@on_sqlite
def test_the_checkpointer_thread_copies_what_the_sends_logged(
    alice: Any, bob: Any, running_checkpointer: Checkpointer
) -> None:
    direct, _ = conversations.get_or_create_direct(alice, bob)
    send_many(alice, direct.pk, 20)
    done = wait_for_checkpoint()
    assert done is not None and done.logged > 0
    assert done.complete  # nothing else was writing: every logged frame is in the database


@on_sqlite
def test_a_receipt_alone_wakes_the_checkpointer(alice: Any, bob: Any, running_checkpointer: Checkpointer) -> None:
    from messaging.store.receipts import CursorMark, apply_receipts

    direct, _ = conversations.get_or_create_direct(alice, bob)
    seq = events.create_message(direct.pk, alice, "hello", new_client_id()).event.seq
    assert wait_for_checkpoint() is not None
    checkpointer.last = None
    apply_receipts([CursorMark(direct.pk, bob.pk, bob.username, seq, None)])
    done = wait_for_checkpoint()
    assert done is not None and done.complete


@on_sqlite
def test_with_the_setting_at_zero_no_thread_is_started(alice: Any, bob: Any) -> None:
    direct, _ = conversations.get_or_create_direct(alice, bob)
    fresh = Checkpointer()
    with override_settings(MESSAGING_SQLITE_CHECKPOINT_SECONDS=0):
        events.create_message(direct.pk, alice, "hello", new_client_id())
        fresh.poke()
    assert not fresh.running


@pytest.mark.skipif(connection.vendor == "sqlite", reason="the other stacks have no SQLite log")
def test_no_checkpointer_runs_beside_other_databases(alice: Any, bob: Any, running_checkpointer: Checkpointer) -> None:
    direct, _ = conversations.get_or_create_direct(alice, bob)
    events.create_message(direct.pk, alice, "hello", new_client_id())
    assert not checkpointer.running


def test_a_checkpoint_the_database_refuses_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused() -> wal.Checkpoint:
        raise OperationalError("disk I/O error")

    monkeypatch.setattr(wal, "checkpoint", refused)
    assert Checkpointer().checkpoint_now() is None
    [row] = MessagingError.objects.all()
    assert (row.category, row.message, row.context["exception"]) == (
        "database_error",
        "could not checkpoint the SQLite log",
        "OperationalError: disk I/O error",
    )


def test_a_pass_checkpoints_again_while_frames_were_logged_during_the_last(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter([wal.Checkpoint(False, 900, 850), wal.Checkpoint(False, 905, 905), wal.Checkpoint(False, 1, 1)])
    monkeypatch.setattr(wal, "checkpoint", lambda: next(answers))
    assert Checkpointer().checkpoint_now() == wal.Checkpoint(False, 905, 905)


def test_a_pass_stops_at_another_checkpoint_in_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def busy() -> wal.Checkpoint:
        calls.append(1)
        return wal.Checkpoint(True, 900, 10)

    monkeypatch.setattr(wal, "checkpoint", busy)
    assert Checkpointer().checkpoint_now() == wal.Checkpoint(True, 900, 10)
    assert len(calls) == 1
