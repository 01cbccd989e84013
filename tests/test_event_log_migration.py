"""The upgrade to the event log (migrations 0006-0008) on data written in the old schema (0005).

The test database is taken back to ``messaging 0005_tick_index``, filled with
direct conversations whose messages carry the old per-message statuses (some
archived), and migrated forward: every member's cursors must be the highest
seq of the messages to them that were delivered or read, every message keeps
its id, seq, sender, content, client_id and time as an event, and the status
each message derives from the cursors equals its old one wherever the old
data was consistent (statuses only ever advanced in seq order). Going back to
0005 restores the statuses.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.legacy_data import (
    DELIVERED,
    LEGACY_MIGRATION,
    RANK,
    READ,
    SENT,
    USER_PREFIX,
    LegacyConversation,
    LegacyMessage,
    LegacyWriter,
    generated_conversations,
    migrate_to,
)

# Each example migrates the test database two or three times (seconds each): few examples.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

USERS = 4
#: the upgrade under test ends here; the migrations after it (profiles, actions, attachments,
#: search) are not its subject and would triple each example's migration time
EVENT_LOG_MIGRATION = ("messaging", "0008_event_log")
MESSAGE_FIELDS = ("id", "conversation_id", "seq", "sender_id", "content", "client_id", "created_at")


def models_at(migration: tuple[str, str]) -> Any:
    """The app registry as it was at ``migration`` (the tables the database has there)."""
    return MigrationExecutor(connection).loader.project_state(migration).apps


def legacy_models() -> tuple[Any, Any, Any]:
    """The old ``Message``, ``ArchivedMessage`` and ``Participant`` as they were at 0005."""
    apps = models_at(LEGACY_MIGRATION)
    return (
        apps.get_model("messaging", "Message"),
        apps.get_model("messaging", "ArchivedMessage"),
        apps.get_model("messaging", "Participant"),
    )


@dataclass(frozen=True)
class OldMessage:
    fields: tuple[Any, ...]
    recipient_id: int
    status: str

    @property
    def key(self) -> tuple[int, int]:
        return self.fields[1], self.fields[2]  # (conversation, seq)


def old_messages() -> dict[tuple[int, int], OldMessage]:
    """Every message of the old schema, hot and archived, by (conversation, seq)."""
    message, archived, _ = legacy_models()
    rows = {}
    for model in (message, archived):
        for row in model.objects.values_list(*MESSAGE_FIELDS, "recipient_id", "status"):
            found = OldMessage(tuple(row[:-2]), row[-2], row[-1])
            rows[found.key] = found
    return rows


def consistent_recipients(messages: dict[tuple[int, int], OldMessage]) -> set[tuple[int, int]]:
    """(conversation, recipient) pairs whose statuses only go down (read, delivered, sent) in seq order."""
    by_pair: dict[tuple[int, int], list[tuple[int, str]]] = {}
    for (conversation, seq), message in messages.items():
        by_pair.setdefault((conversation, message.recipient_id), []).append((seq, message.status))
    return {
        pair
        for pair, items in by_pair.items()
        if all(RANK[a] >= RANK[b] for (_, a), (_, b) in itertools.pairwise(sorted(items)))
    }


def expected_cursors(messages: dict[tuple[int, int], OldMessage]) -> dict[tuple[int, int], tuple[int, int]]:
    """(conversation, user) -> (delivered_seq, read_seq): the highest seq to them delivered or read, and read."""
    cursors: dict[tuple[int, int], tuple[int, int]] = {}
    for (conversation, seq), message in messages.items():
        delivered, read = cursors.get((conversation, message.recipient_id), (0, 0))
        if message.status in (DELIVERED, READ):
            delivered = max(delivered, seq)
        if message.status == READ:
            read = max(read, seq)
        cursors[(conversation, message.recipient_id)] = (delivered, read)
    return cursors


def derived(seq: int, delivered_seq: int, read_seq: int) -> str:
    if read_seq >= seq:
        return READ
    return DELIVERED if delivered_seq >= seq else SENT


@pytest.fixture
def legacy_schema() -> Iterator[None]:
    """The test database at 0005 for the test, back at the newest migrations afterwards."""
    migrate_to(LEGACY_MIGRATION)
    try:
        yield
    finally:
        migrate_to(None)


def write_legacy(conversations: list[LegacyConversation]) -> None:
    """Empty the old tables (a previous example's data), then write ``conversations`` among fresh users."""
    with connection.cursor() as cursor:
        for table in (
            "messaging_archivedmessage",
            "messaging_message",
            "messaging_participant",
            "messaging_conversation",
        ):
            cursor.execute(f"DELETE FROM {table}")
        cursor.execute("DELETE FROM auth_user WHERE username LIKE %s", [f"{USER_PREFIX}%"])
    writer = LegacyWriter()
    users = writer.users(1 + max([max(c.first, c.second) for c in conversations], default=0))
    writer.conversations(users, conversations)
    writer.finish()


def upgraded_state() -> tuple[dict[tuple[int, int], tuple[Any, ...]], dict[tuple[int, int], tuple[int, int]]]:
    """After the upgrade: every event's fields by (conversation, seq), every member's cursors."""
    apps = models_at(EVENT_LOG_MIGRATION)
    Event, ArchivedEvent, Participant = (
        apps.get_model("messaging", n) for n in ("Event", "ArchivedEvent", "Participant")
    )

    events = {}
    for model in (Event, ArchivedEvent):
        for row in model.objects.values_list(*MESSAGE_FIELDS, "kind"):
            assert row[-1] == "message"
            events[(row[1], row[2])] = tuple(row[:-1])
    cursors = {
        (c, u): (d, r)
        for c, u, d, r in Participant.objects.values_list("conversation_id", "user_id", "delivered_seq", "read_seq")
    }
    return events, cursors


def check_upgrade(before: dict[tuple[int, int], OldMessage]) -> None:
    Conversation = models_at(EVENT_LOG_MIGRATION).get_model("messaging", "Conversation")

    events, cursors = upgraded_state()
    assert events == {key: message.fields for key, message in before.items()}
    expected = expected_cursors(before)
    assert {key: cursors[key] for key in expected} == expected
    assert all(value == (0, 0) for key, value in cursors.items() if key not in expected)
    for pk, last_seq, last_message_seq, member_count in Conversation.objects.values_list(
        "pk", "last_seq", "last_message_seq", "member_count"
    ):
        assert (last_message_seq, member_count) == (last_seq, 2), pk
    consistent = consistent_recipients(before)
    for (conversation, seq), message in before.items():
        status = derived(seq, *cursors[(conversation, message.recipient_id)])
        assert RANK[status] >= RANK[message.status], "the upgrade set a message back"
        if (conversation, message.recipient_id) in consistent:
            assert status == message.status, (conversation, seq)


# --- Generated datasets ------------------------------------------------------------------------


@st.composite
def legacy_conversation(draw: st.DrawFn, pair: tuple[int, int]) -> LegacyConversation:
    senders = draw(st.lists(st.booleans(), max_size=12), label="from_first")
    statuses = draw(st.lists(st.sampled_from([SENT, DELIVERED, READ]), min_size=len(senders), max_size=len(senders)))
    if draw(st.booleans(), label="consistent"):
        # As the old rules left them: each recipient's statuses go down in seq order.
        for side in (True, False):
            positions = [i for i, s in enumerate(senders) if s == side]
            ordered = sorted((statuses[i] for i in positions), key=RANK.get, reverse=True)
            for i, status in zip(positions, ordered, strict=True):
                statuses[i] = status
    archived = draw(st.integers(0, len(senders)), label="archived")
    return LegacyConversation(
        pair[0],
        pair[1],
        tuple(
            LegacyMessage(s, status, i < archived) for i, (s, status) in enumerate(zip(senders, statuses, strict=True))
        ),
    )


pairs = st.lists(
    st.tuples(st.integers(0, USERS - 1), st.integers(0, USERS - 1)).filter(lambda p: p[0] < p[1]),
    unique=True,
    min_size=1,
    max_size=4,
)
datasets = pairs.flatmap(lambda ps: st.tuples(*(legacy_conversation(p) for p in ps)).map(list))


def clear_upgraded() -> None:
    """Remove an example's data once upgraded, so the next example goes back to 0005 from empty tables."""
    apps = models_at(EVENT_LOG_MIGRATION)
    ArchivedEvent, Event, Conversation = (
        apps.get_model("messaging", n) for n in ("ArchivedEvent", "Event", "Conversation")
    )

    ArchivedEvent.objects.all().delete()
    Event.objects.all().delete()
    Conversation.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM auth_user WHERE username LIKE %s", [f"{USER_PREFIX}%"])


@settings(max_examples=5)
@given(dataset=datasets)
def test_upgrade_turns_old_statuses_into_cursors_and_keeps_every_message(
    legacy_schema: None, dataset: list[LegacyConversation]
) -> None:
    migrate_to(LEGACY_MIGRATION)
    write_legacy(dataset)
    before = old_messages()
    migrate_to(EVENT_LOG_MIGRATION)
    try:
        check_upgrade(before)
    finally:
        clear_upgraded()


@settings(max_examples=3)
@given(dataset=datasets)
def test_going_back_to_0005_restores_the_statuses_the_cursors_say(
    legacy_schema: None, dataset: list[LegacyConversation]
) -> None:
    migrate_to(LEGACY_MIGRATION)
    write_legacy(dataset)
    before = old_messages()
    migrate_to(EVENT_LOG_MIGRATION)
    _, cursors = upgraded_state()
    migrate_to(LEGACY_MIGRATION)
    after = old_messages()
    consistent = consistent_recipients(before)
    assert set(after) == set(before)
    for key, message in before.items():
        restored = after[key]
        assert (restored.fields, restored.recipient_id) == (message.fields, message.recipient_id)
        assert restored.status == derived(key[1], *cursors[(key[0], message.recipient_id)])
        if (key[0], message.recipient_id) in consistent:
            assert restored.status == message.status, key


def test_upgrade_of_twenty_thousand_messages(legacy_schema: None) -> None:
    rng = random.Random(20_000)
    write_legacy(list(generated_conversations(20_000, 60, 150, rng, archived=0.25)))
    before = old_messages()
    assert len(before) == 20_000
    migrate_to(None)  # the whole chain, on real data
    check_upgrade(before)
