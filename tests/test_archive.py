"""Archiving moves events out of the hot table without breaking seq, sync or history."""

from __future__ import annotations

import datetime
import uuid

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from messaging.models import ArchivedEvent, Event, Message
from messaging.ops.archive import archive
from messaging.store import conversations, events, message_actions

pytestmark = pytest.mark.django_db(transaction=True)


def fill(alice, bob, n: int):
    conversation, _ = conversations.get_or_create_direct(alice, bob)
    for i in range(n):
        events.create_message(conversation.pk, alice, f"m{i + 1}", uuid.uuid4().hex)
    return conversation


def all_seqs(conversation, reader, limit: int, *, newest_first: bool = False) -> list[int]:
    """Every seq the reader can page through: by ``sync`` (after=), or by ``history`` (before=)."""
    seqs, cursor = [], None
    while True:
        member = conversations.member_of(reader.pk, conversation.pk)
        if newest_first:
            page = events.events_before(member, cursor, limit)
        else:
            page = events.events_after(member, cursor or 0, limit)
        seqs += [e.seq for e in page.events]
        if not page.has_more:
            return seqs
        cursor = page.events[-1].seq


def all_by_sync(conversation, reader, limit: int) -> list[int]:
    return all_seqs(conversation, reader, limit)


def all_by_history(conversation, reader, limit: int) -> list[int]:
    return all_seqs(conversation, reader, limit, newest_first=True)


def test_the_command_archives_old_messages_and_sync_still_sees_every_seq(alice, bob, capsys) -> None:
    conversation = fill(alice, bob, 12)
    Message.objects.filter(seq__lte=8).update(created_at=timezone.now() - datetime.timedelta(days=40))
    call_command("archive_messages", "--older-than", "30")
    assert "archived 8 message(s)" in capsys.readouterr().out
    assert Message.objects.count() == 4 and ArchivedEvent.objects.count() == 8
    assert all_by_sync(conversation, bob, limit=5) == list(range(1, 13))
    assert all_by_history(conversation, bob, limit=5) == list(range(12, 0, -1))
    archived = ArchivedEvent.objects.get(seq=3)
    assert archived.content == "m3" and archived.sender == alice


def test_the_command_refuses_less_than_a_day() -> None:
    with pytest.raises(CommandError):
        call_command("archive_messages", "--older-than", "0.5")


@given(st.sets(st.integers(1, 15)), st.integers(1, 7))
def test_sync_and_history_see_every_seq_whatever_was_archived(archived_seqs, limit) -> None:
    from django.contrib.auth import get_user_model

    tag = uuid.uuid4().hex[:8]
    users = get_user_model().objects
    a, b = users.create_user(f"a{tag}"), users.create_user(f"b{tag}")
    conversation = fill(a, b, 15)
    archive(Message.objects.filter(conversation=conversation, seq__in=archived_seqs))
    assert all_by_sync(conversation, b, limit) == list(range(1, 16))
    assert all_by_history(conversation, b, limit) == list(range(15, 0, -1))


def test_new_messages_continue_the_seq_after_archiving(alice, bob) -> None:
    conversation = fill(alice, bob, 3)
    archive(Message.objects.all())
    appended = events.create_message(conversation.pk, alice, "after", "after-1")
    assert appended.event.seq == 4


def test_archiving_in_small_batches_moves_every_match_once(alice, bob, carol) -> None:
    conversation = fill(alice, bob, 11)
    other = fill(alice, carol, 4)
    moved = archive(Message.objects.filter(conversation=conversation).exclude(seq=6), batch_size=3)
    assert moved == 10
    assert sorted(ArchivedEvent.objects.values_list("seq", flat=True)) == [s for s in range(1, 12) if s != 6]
    assert list(Message.objects.filter(conversation=conversation).values_list("seq", flat=True)) == [6]
    assert Message.objects.filter(conversation=other).count() == 4
    assert archive(Message.objects.filter(conversation=conversation).exclude(seq=6), batch_size=3) == 0
    assert all_by_sync(conversation, bob, limit=4) == list(range(1, 12))


def test_the_admin_archives_selected_messages_and_cannot_delete(alice, bob, staff_client) -> None:
    fill(alice, bob, 3)
    ids = list(Message.objects.filter(seq__lte=2).values_list("pk", flat=True))
    staff_client.post("/admin/messaging/message/", {"action": "archive_selected", "_selected_action": ids})
    assert sorted(ArchivedEvent.objects.values_list("seq", flat=True)) == [1, 2]
    assert staff_client.get(f"/admin/messaging/message/{Message.objects.get().pk}/delete/").status_code == 403
    history = Client()
    history.force_login(bob)
    page = history.get("/messages/api/alice/history").json()
    assert [m["seq"] for m in page["messages"]] == [3, 2, 1]


def test_archived_group_events_keep_their_kind_and_place_and_the_window_still_applies(alice, bob, carol) -> None:
    group = conversations.create_group(alice, "Trip", ["bob"], "g1", max_members=10).conversation
    events.create_message(group.pk, alice, "before carol", "m1")  # 2
    conversations.add_members(alice, group.pk, ["carol"], "add", max_members=10)  # 3
    conversations.rename(bob, group.pk, "Trip 2026", "rename")  # 4
    events.create_message(group.pk, carol, "hi all", "m2")  # 5
    kinds = list(Event.objects.filter(conversation=group).order_by("seq").values_list("seq", "kind"))
    archive(Event.objects.filter(conversation=group, seq__lte=4))
    assert ArchivedEvent.objects.count() == 4
    founder = conversations.member_of(bob.pk, group.pk)
    assert [(e.seq, e.kind) for e in events.events_after(founder, 0, 2).events] == kinds[:2]
    assert all_by_sync(group, bob, limit=2) == [1, 2, 3, 4, 5]
    assert all_by_history(group, bob, limit=2) == [5, 4, 3, 2, 1]
    assert all_by_sync(group, carol, limit=2) == [3, 4, 5]
    assert all_by_history(group, carol, limit=2) == [5, 4, 3]


def test_the_inbox_preview_is_read_from_the_archive_when_the_last_message_was_archived(alice, bob) -> None:
    conversation = fill(alice, bob, 3)
    archive(Message.objects.all())
    [summary] = conversations.summaries(bob, [conversations.member_of(bob.pk, conversation.pk)])
    assert summary.last_message is not None and summary.last_message.content == "m3"


def test_the_inbox_preview_read_from_the_archive_is_the_last_message_not_a_later_reaction(alice, bob) -> None:
    conversation = fill(alice, bob, 2)
    message_actions.react(bob, conversation.pk, 2, "👍", "r1", add=True, max_reactions=20)  # seq 3
    archive(Event.objects.filter(conversation=conversation))
    [summary] = conversations.summaries(bob, [conversations.member_of(bob.pk, conversation.pk)])
    assert summary.last_message is not None and (summary.last_message.seq, summary.last_message.content) == (2, "m2")


def test_a_message_its_reader_deleted_for_themselves_stays_hidden_once_archived(alice, bob) -> None:
    conversation = fill(alice, bob, 3)
    message_actions.hide_messages(bob, conversation.pk, [3])
    archive(Message.objects.all())
    assert all_by_history(conversation, bob, limit=2) == [2, 1]
    assert all_by_history(conversation, alice, limit=2) == [3, 2, 1]


def test_a_sync_page_the_live_table_answers_whole_does_not_read_the_archive(alice, bob) -> None:
    conversation = fill(alice, bob, 5)
    archive(Event.objects.filter(conversation=conversation, seq=5))  # an archive that holds something
    member = conversations.member_of(bob.pk, conversation.pk)
    with CaptureQueriesContext(connection) as queries:
        page = events.events_after(member, 0, 3)
    assert [e.seq for e in page.events] == [1, 2, 3] and page.has_more
    assert not [q for q in queries.captured_queries if ArchivedEvent._meta.db_table in q["sql"]]
    with CaptureQueriesContext(connection) as queries:
        page = events.events_after(member, 3, 3)
    assert [e.seq for e in page.events] == [4, 5] and not page.has_more
    assert [q for q in queries.captured_queries if ArchivedEvent._meta.db_table in q["sql"]]
