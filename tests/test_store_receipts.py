"""Receipts (``messaging.store.receipts``): per-member cursors that only move forward, inside the window.

A message's status is derived from the other members' cursors (sent →
delivered → read); nothing per message is stored.
"""

from __future__ import annotations

import pytest

from messaging.store import conversations, events, receipts
from messaging.store.receipts import CursorMark

from .cursors import cursors, deliver, direct, read, send, statuses

pytestmark = pytest.mark.django_db(transaction=True)


def test_read_moves_both_cursors_once_clamped_to_the_log(alice, bob) -> None:
    conversation = direct(alice, bob)
    for _ in range(3):
        send(conversation, alice)
    send(conversation, bob)
    change = read(conversation, bob, 100)
    assert change is not None and change.username == "bob"
    assert (change.delivered_seq, change.read_seq) == (4, 4)
    assert change.delivered_moved and change.read_moved
    assert read(conversation, bob, 100) is None
    assert deliver(conversation, bob, 3) is None
    # bob's read makes alice's messages read; bob's own message is only as far as alice's cursors.
    assert statuses(conversation, alice, bob) == {1: "read", 2: "read", 3: "read", 4: "sent"}
    bob_cursors = cursors(conversation, bob)
    assert bob_cursors.delivered_at is not None and bob_cursors.read_at is not None


def test_delivery_moves_only_the_delivered_cursor(alice, bob) -> None:
    conversation = direct(alice, bob)
    for _ in range(3):
        send(conversation, alice)
    change = deliver(conversation, bob, 2)
    assert change is not None and (change.delivered_seq, change.read_seq) == (2, 0)
    assert change.delivered_moved and not change.read_moved
    assert statuses(conversation, alice, bob) == {1: "delivered", 2: "delivered", 3: "sent"}
    change = read(conversation, bob, 1)
    assert change is not None and (change.delivered_seq, change.read_seq) == (2, 1)
    assert not change.delivered_moved and change.read_moved


def test_a_cursor_never_goes_past_the_members_leave(alice, bob, carol) -> None:
    group = conversations.create_group(alice, "g", ["bob", "carol"], "g1", max_members=10).conversation
    events.create_message(group.pk, alice, "one", "m1")  # 2
    conversations.leave(carol, group.pk, "c-leave")  # 3
    events.create_message(group.pk, alice, "two", "m2")  # 4
    change = read(group, carol, 100)
    assert change is not None and (change.delivered_seq, change.read_seq) == (3, 3)
    assert read(group, carol, 100) is None


def test_a_stale_or_zero_report_announces_nothing(alice, bob) -> None:
    conversation = direct(alice, bob)
    send(conversation, alice)
    assert read(conversation, bob, 0) is None
    assert deliver(conversation, bob, 0) is None
    assert read(conversation, bob, 1) is not None
    assert deliver(conversation, bob, 1) is None


def test_reading_to_the_end_settles_the_new_message_notification(alice, bob) -> None:
    from messaging import notification_service
    from messaging.models import Notification

    conversation = direct(alice, bob)
    for i in range(3):
        appended = send(conversation, alice, f"n{i}")
        notification_service.store_new_message_notifications(appended.event)
    assert Notification.objects.get(user=bob).count == 3
    [partly] = receipts.apply_receipts([CursorMark(conversation.pk, bob.pk, "bob", read=1)])
    assert partly.notification_unread == 2
    assert Notification.objects.get(user=bob).count == 2
    [fully] = receipts.apply_receipts([CursorMark(conversation.pk, bob.pk, "bob", read=3)])
    assert fully.notification_unread == 0
    assert Notification.objects.get(user=bob).read
    [again] = receipts.apply_receipts([CursorMark(conversation.pk, bob.pk, "bob", read=3)])
    assert again.change is None and again.notification_unread is None


def test_a_receipt_carries_the_seq_a_member_joined_at(alice, bob, carol) -> None:
    group = conversations.create_group(alice, "g", ["bob"], "g1", max_members=10).conversation
    events.create_message(group.pk, alice, "before carol", "m1")  # 2
    joined = conversations.add_members(alice, group.pk, ["carol"], "add-carol", max_members=10).appended.event.seq
    events.create_message(group.pk, alice, "after", "m2")
    change = read(group, carol, 100)
    assert change is not None and change.joined_seq == joined > 0
