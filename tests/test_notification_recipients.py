"""Who a new message notifies: current members but the sender, not muted, not viewing it in a live tab."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.utils import timezone

from messaging import conf
from messaging.models import Connection, Conversation, Event, EventKind, Participant
from messaging.notification_service import new_message_recipients
from messaging.store.events import NewMessage, create_messages

pytestmark = pytest.mark.django_db


def a_message_in_a_group_of(make_user: Any, names: list[str]) -> tuple[Event, dict[str, Any]]:
    users = {name: make_user(name) for name in names}
    group = Conversation.objects.create(kind=Conversation.Kind.GROUP, title="t", member_count=len(names))
    Participant.objects.bulk_create([Participant(conversation=group, user=u) for u in users.values()])
    sender = users[names[0]]
    event = Event.objects.create(
        conversation=group, seq=1, kind=EventKind.MESSAGE, sender=sender, content="hi", client_id="c"
    )
    return event, users


def viewing(user: Any, conversation: Conversation | None, *, heartbeat: datetime.datetime, name: str) -> None:
    Connection.objects.create(
        user=user,
        channel_name=name,
        kind=Connection.Kind.CHAT,
        conversation=conversation,
        server_id="s",
        last_heartbeat=heartbeat,
    )


def test_a_message_notifies_every_current_member_but_the_muted_the_viewing_and_the_sender(make_user: Any) -> None:
    event, users = a_message_in_a_group_of(
        make_user, ["sender", "away", "muted", "mute_over", "viewing", "stale_tab", "elsewhere", "left"]
    )
    now = timezone.now()
    members = {
        p.user.username: p for p in Participant.objects.filter(conversation=event.conversation).select_related("user")
    }
    members["muted"].muted_until = now + datetime.timedelta(hours=1)
    members["mute_over"].muted_until = now - datetime.timedelta(seconds=1)
    members["left"].left_seq = 1
    for member in members.values():
        member.save()
    expiry = conf.limits().presence_expiry
    viewing(users["viewing"], event.conversation, heartbeat=now, name="a")
    # A tab whose heartbeat stopped (its process died) views nothing.
    viewing(users["stale_tab"], event.conversation, heartbeat=now - datetime.timedelta(seconds=expiry + 5), name="b")
    viewing(users["elsewhere"], None, heartbeat=now, name="c")

    notified = {u.username for u in users.values() if u.pk in new_message_recipients(event, now)}

    assert notified == {"away", "mute_over", "stale_tab", "elsewhere"}


def test_a_batch_stored_with_notify_expiry_says_whom_each_new_message_notifies(make_user: Any) -> None:
    event, users = a_message_in_a_group_of(make_user, ["sender", "away", "viewing"])
    group = event.conversation
    viewing(users["viewing"], group, heartbeat=timezone.now(), name="a")
    direct = Conversation.objects.create(kind=Conversation.Kind.DIRECT, direct_key="x", member_count=2)
    Participant.objects.bulk_create([Participant(conversation=direct, user=users[n]) for n in ("sender", "viewing")])
    viewing(users["viewing"], direct, heartbeat=timezone.now(), name="b")
    Conversation.objects.filter(pk=group.pk).update(last_seq=1)

    to_group, to_direct = create_messages(
        [NewMessage(group.pk, users["sender"], "hi", "c-1"), NewMessage(direct.pk, users["sender"], "hi", "c-2")],
        notify_expiry=conf.limits().presence_expiry,
    )

    assert to_group.notify == (users["away"].pk,)
    assert to_direct.notify == ()  # the peer has it open: the send path skips the notification step
    # Without notify_expiry nothing is read: the notification step reads it itself.
    assert create_messages([NewMessage(direct.pk, users["sender"], "again", "c-3")])[0].notify is None
