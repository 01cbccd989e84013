"""SQLite's FTS5 table over the search entries: written by the indexer a batch at a time, always matching the entries."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from messaging.models import Event, SearchEntry
from messaging.ops.archive import archive
from messaging.store import message_actions
from messaging.store.search import index

from .groups import make_group, new_client_id
from .test_search_visibility import send

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "sqlite", reason="the FTS5 table is SQLite's"),
]


def fts_matches_its_entries() -> None:
    """FTS5's own check of an external-content index against its table (raises if they differ)."""
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {index.FTS} ({index.FTS}, rank) VALUES ('integrity-check', 1)")


def fts_finds(text: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {index.FTS} WHERE {index.FTS} MATCH %s", [f'"{text}"'])
        return cursor.fetchone()[0]


def test_no_trigger_writes_the_full_text_rows_of_an_entry() -> None:
    # A trigger per entry made FTS5 write a segment per entry (migration 0019).
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s AND sql LIKE %s",
            [SearchEntry._meta.db_table, "%AFTER INSERT%"],
        )
        assert cursor.fetchall() == []


def test_a_drained_batch_is_found_by_the_full_text_index_and_matches_its_entries(alice: Any, bob: Any) -> None:
    group = make_group(alice, [bob])
    for n in range(30):
        send(alice, group, f"batched words {n}")
    assert index.drain(100).indexed == 30
    assert fts_finds("batched words") == 30
    fts_matches_its_entries()


def test_the_full_text_index_follows_edits_deletions_archiving_and_a_rebuild(alice: Any, bob: Any) -> None:
    group = make_group(alice, [bob])
    seqs = [send(alice, group, f"river stone {n}") for n in range(6)]
    index.drain_all()
    message_actions.edit_message(alice, group, seqs[0], "mountain lake", new_client_id(), window=None)
    message_actions.delete_message(alice, group, seqs[1], new_client_id(), window=None)
    index.drain_all()
    assert (fts_finds("river stone"), fts_finds("mountain lake")) == (4, 1)
    fts_matches_its_entries()
    archive(Event.objects.filter(conversation_id=group, seq__lte=seqs[3]))
    index.drain_all()
    fts_matches_its_entries()
    assert index.rebuild(batch=2) == 5
    assert (fts_finds("river stone"), fts_finds("mountain lake")) == (4, 1)
    fts_matches_its_entries()
