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

from .groups import make_group, new_client_id

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


def viewing(
    user: Any,
    conversation: Conversation | int | None,
    *,
    heartbeat: datetime.datetime,
    name: str,
    kind: str = Connection.Kind.CHAT,
) -> None:
    """A socket of ``user`` showing ``conversation`` (or an id), its last heartbeat at ``heartbeat``."""
    Connection.objects.create(
        user=user,
        channel_name=name,
        kind=kind,
        conversation_id=conversation.pk if isinstance(conversation, Conversation) else conversation,
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


# --- Who views, who muted, whom a mention reaches (store.notifications' helpers) -----------------

EXPIRY = 30.0


def test_members_viewing_are_those_with_a_live_chat_tab_on_that_conversation(alice, bob, carol, make_user) -> None:
    from messaging.store.notifications import members_viewing

    dave, erin, fay = make_user("dave"), make_user("erin"), make_user("fay")
    group = make_group(alice, [bob, carol, dave, erin, fay])
    elsewhere = make_group(alice, [bob])
    now = timezone.now()
    viewing(alice, group, heartbeat=now, name="alice")  # viewing it now
    viewing(bob, elsewhere, heartbeat=now, name="bob")  # another conversation
    stopped = now - datetime.timedelta(seconds=EXPIRY + 5)
    viewing(carol, group, heartbeat=stopped, name="carol")  # a tab that stopped beating
    viewing(dave, group, heartbeat=now, name="dave", kind=Connection.Kind.NOTIFICATIONS)  # not a chat tab
    viewing(erin, group, heartbeat=now, name="erin")  # viewing, but not asked about
    asked = [alice.pk, bob.pk, carol.pk, dave.pk, fay.pk]
    assert members_viewing(group, asked, now, EXPIRY) == {alice.pk}


def test_members_muting_are_those_who_muted_that_conversation_until_after_now(alice, bob, carol, make_user) -> None:
    from messaging.store.conversations import mute
    from messaging.store.notifications import members_muting

    dave = make_user("dave")
    now = timezone.now()
    group = make_group(alice, [bob, carol, dave])
    elsewhere = make_group(alice, [bob, carol])
    mute(alice.pk, group, now + datetime.timedelta(hours=1))
    mute(bob.pk, group, now - datetime.timedelta(minutes=1))  # over
    mute(carol.pk, elsewhere, now + datetime.timedelta(hours=1))  # another conversation
    mute(dave.pk, group, now + datetime.timedelta(hours=1))  # not asked about
    assert members_muting(group, [alice.pk, bob.pk, carol.pk], now) == {alice.pk}


def test_a_mention_reaches_current_active_members_so_named_who_do_not_view_the_conversation(
    alice, bob, carol, make_user
) -> None:
    from messaging.store.conversations import leave
    from messaging.store.notifications import members_not_viewing

    dave, erin, fay = make_user("dave"), make_user("erin"), make_user("fay")
    group = make_group(alice, [bob, carol, dave, erin])
    make_group(alice, [fay])  # fay is a member elsewhere only
    leave(carol, group, new_client_id())
    type(dave).objects.filter(pk=dave.pk).update(is_active=False)
    now = timezone.now()
    viewing(erin, group, heartbeat=now, name="erin")  # viewing it: sees the mention there
    named = {"bob", "carol", "dave", "erin", "fay"}
    assert members_not_viewing(group, named, now, EXPIRY) == {bob.pk}


def test_in_a_batch_only_the_new_messages_say_whom_they_notify_not_a_repeat_or_a_refusal(make_user: Any) -> None:
    from messaging.store.errors import NotFound

    event, users = a_message_in_a_group_of(make_user, ["sender", "away"])
    group = event.conversation
    outsider = make_user("outsider")
    Conversation.objects.filter(pk=group.pk).update(last_seq=1)
    first = create_messages([NewMessage(group.pk, users["sender"], "hi", "c-1")])[0]

    new, repeat, refused = create_messages(
        [
            NewMessage(group.pk, users["sender"], "more", "c-2"),
            NewMessage(group.pk, users["sender"], "hi", "c-1"),
            NewMessage(group.pk, outsider, "let me in", "c-3"),
        ],
        notify_expiry=conf.limits().presence_expiry,
    )

    assert new.notify == (users["away"].pk,)
    assert not repeat.created and repeat.event.pk == first.event.pk and repeat.notify is None
    assert isinstance(refused, NotFound)  # not a member: the conversation is not one of theirs
