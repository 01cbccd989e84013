"""Conversations, memberships and presence in the store: one direct conversation per pair, unread, sockets."""

from __future__ import annotations

import uuid
from unittest import mock

import pytest
from django.test import override_settings

from messaging.models import Conversation, Participant
from messaging.store import conversations, events, presence, reading, receipts
from messaging.store.receipts import CursorMark

from .groups import make_group, new_client_id

pytestmark = pytest.mark.django_db(transaction=True)


def send(conversation_id: int, sender) -> None:
    events.create_message(conversation_id, sender, "x", uuid.uuid4().hex)


def test_a_direct_conversation_is_unique_per_pair_and_has_two_participants(alice, bob) -> None:
    first, created = conversations.get_or_create_direct(alice, bob)
    again, created_again = conversations.get_or_create_direct(bob, alice)
    assert created and not created_again and again.pk == first.pk
    assert Conversation.objects.count() == 1
    assert set(Participant.objects.filter(conversation=first).values_list("user__username", flat=True)) == {
        "alice",
        "bob",
    }
    assert first.member_count == 2


def test_open_direct_refuses_unknown_users_and_oneself(alice, bob) -> None:
    assert reading.open_direct(alice, "nobody") is None
    assert reading.open_direct(alice, "alice") is None
    assert Conversation.objects.count() == 0
    opening = reading.open_direct(alice, "bob")
    assert opening is not None and opening.peer.username == "bob"
    assert opening.window.joined_seq == 0 and opening.window.is_member


def test_an_inactive_user_is_no_one_to_talk_to(alice, bob) -> None:
    bob.is_active = False
    bob.save()
    assert reading.open_direct(alice, "bob") is None
    assert Conversation.objects.count() == 0


def test_unread_counts_the_peers_messages_past_the_read_cursor(alice, bob) -> None:
    conversation, _ = conversations.get_or_create_direct(alice, bob)
    for _ in range(3):
        send(conversation.pk, alice)
    send(conversation.pk, bob)

    def unread(user) -> int:
        return conversations.unread_count(conversations.member_of(user.pk, conversation.pk))

    assert unread(bob) == 3 and unread(alice) == 1
    receipts.move_cursors(CursorMark(conversation.pk, bob.pk, "bob", read=2))
    assert unread(bob) == 1
    assert conversations.unread_counts(bob.pk, [conversation.pk]) == {conversation.pk: 1}


def test_unread_counts_only_messages_inside_the_window(alice, bob, carol) -> None:
    group = conversations.create_group(alice, "g", ["bob"], "g1", max_members=10).conversation.pk
    send(group, alice)
    conversations.add_members(alice, group, ["carol"], "add", max_members=10)
    send(group, bob)
    conversations.remove_member(alice, group, "carol", "rm")
    send(group, alice)
    carol_member = conversations.member_of(carol.pk, group)
    # Only bob's message falls in carol's window (membership events do not count).
    assert conversations.unread_count(carol_member) == 1


def test_callers_that_know_the_username_save_its_lookup(alice, bob) -> None:
    with mock.patch.object(presence, "username_of", side_effect=AssertionError("looked the username up")):
        online = presence.register_connection(bob.pk, "chan.bob", "chat", "host:1:abc", username="bob")
        assert online is not None and online.online and online.username == "bob"
        offline = presence.unregister_connection(bob.pk, "chan.bob", 60, username="bob")
        assert offline is not None and not offline.online and offline.username == "bob"


def test_the_username_is_looked_up_when_not_given(alice, bob) -> None:
    online = presence.register_connection(bob.pk, "chan.bob", "chat", "host:1:abc")
    assert online is not None and online.username == "bob"
    offline = presence.unregister_connection(bob.pk, "chan.bob", 60)
    assert offline is not None and offline.username == "bob"


def test_presence_changes_name_the_direct_conversations_where_they_are_told(alice, bob, carol) -> None:
    with_alice, _ = conversations.get_or_create_direct(bob, alice)
    conversations.create_group(alice, "g", ["bob", "carol"], "g1", max_members=10)
    online = presence.register_connection(bob.pk, "chan.bob", "chat", "host:1:abc", username="bob")
    assert online is not None and online.conversation_ids == (with_alice.pk,)


def test_a_socket_beyond_the_per_user_limit_records_nothing(alice) -> None:
    from messaging.store.errors import LimitExceeded

    for i in range(2):
        presence.register_connection(alice.pk, f"chan.{i}", "chat", "host:1:abc", max_sockets=2)
    with pytest.raises(LimitExceeded) as caught:
        presence.register_connection(alice.pk, "chan.3", "chat", "host:1:abc", max_sockets=2)
    assert caught.value.setting == "MESSAGING_MAX_SOCKETS_PER_USER" and caught.value.limit == 2
    assert presence.presence_of(alice.pk, 60)[0] is True
    from messaging.models import Connection

    assert Connection.objects.filter(user=alice).count() == 2


# --- the members list and the inbox's order -----------------------------------------------------


def test_current_members_are_that_groups_present_members_in_the_order_they_joined(alice, bob, carol, make_user) -> None:
    from messaging.store.conversations import add_members, current_members, remove_member

    dave = make_user("dave")
    make_group(dave, [alice, bob], title="Another group")
    group = make_group(carol, [bob, alice])
    add_members(carol, group, ["dave"], new_client_id(), max_members=10)
    remove_member(carol, group, "bob", new_client_id())
    add_members(carol, group, ["bob"], new_client_id(), max_members=10)  # back: his old row, a new join
    names = [p.user.get_username() for p in current_members(group)]
    assert sorted(names[:2]) == ["alice", "carol"] and names[2:] == ["dave", "bob"]


def test_the_members_list_shows_each_members_name_and_picture_and_offline_when_never_connected(alice, bob) -> None:
    from messaging.store import reading
    from messaging.store.profiles import set_avatar, update_identity

    group = make_group(alice, [bob])
    update_identity(bob.pk, display_name="Bobby")
    set_avatar(bob.pk, f"avatars/{bob.pk}/k3y.webp")
    shown = {m.username: m for m in reading.members(alice.pk, group, 30.0)}
    assert shown["bob"].display_name == "Bobby" and shown["bob"].avatar
    assert (shown["bob"].online, shown["bob"].last_seen) == (False, None)


def test_a_direct_peers_presence_in_the_inbox_is_theirs(alice, bob, carol) -> None:
    direct, _ = conversations.get_or_create_direct(alice, bob)
    other, _ = conversations.get_or_create_direct(alice, carol)

    def shown() -> dict[int, tuple]:
        found = reading.with_presence(conversations.summaries_for(alice, [direct.pk, other.pk]), 30.0)
        return {s.conversation.pk: s.extra["presence"] for s in found}

    assert shown() == {direct.pk: (False, None), other.pk: (False, None)}
    presence.register_connection(bob.pk, "bob-socket", "chat", "server-1", expiry=30)
    assert shown()[direct.pk][0] is True and shown()[other.pk] == (False, None)


def test_the_inbox_is_ordered_by_last_activity_not_by_creation(alice, bob, carol) -> None:
    from messaging.store.events import create_message

    older, _ = conversations.get_or_create_direct(alice, bob)
    newer, _ = conversations.get_or_create_direct(alice, carol)
    create_message(newer.pk, carol, "first", "c1")
    create_message(older.pk, bob, "latest", "b1")
    page, _, _ = conversations.inbox_page(alice, before=None, limit=10)
    assert [s.conversation.pk for s in page] == [older.pk, newer.pk]


# --- Adding members and leaving (store.conversations.add_members, leave) ---------------------


def test_members_fill_a_group_up_to_its_limit_and_one_more_names_the_setting(alice, bob, carol, make_user) -> None:
    from messaging.store.conversations import add_members
    from messaging.store.errors import LimitExceeded

    dave = make_user("dave")
    group = make_group(alice, [bob])
    add_members(alice, group, ["carol"], new_client_id(), max_members=3)
    assert Conversation.objects.get(pk=group).member_count == 3
    with pytest.raises(LimitExceeded) as refused:
        add_members(alice, group, [dave.username], new_client_id(), max_members=3)
    assert (str(refused.value), refused.value.setting, refused.value.limit) == (
        "a group has at most 3 members",
        "MESSAGING_MAX_GROUP_MEMBERS",
        3,
    )


def test_naming_members_already_in_beside_a_new_one_adds_the_new_one_within_the_limit(alice, bob, carol) -> None:
    # A client may send the whole member list it shows: as many names as the limit, two of them in already.
    from messaging.store.conversations import add_members

    group = make_group(alice, [bob])
    change = add_members(alice, group, ["alice", "bob", "carol"], new_client_id(), max_members=3)
    assert [p.user.username for p in change.joined] == ["carol"]


def test_someone_in_another_group_is_added_as_new_here(alice, bob, carol) -> None:
    from messaging.store.conversations import add_members

    make_group(carol, [bob], title="Elsewhere")
    group = make_group(alice, [bob])
    change = add_members(alice, group, ["carol"], new_client_id(), max_members=10)
    carols = Participant.objects.get(conversation_id=group, user=carol)
    assert [p.pk for p in change.joined] == [carols.pk] and carols.left_seq is None
    assert Conversation.objects.get(pk=group).member_count == 3


def test_an_add_joins_at_its_event_and_tells_the_membership_seq(alice, bob, carol) -> None:
    from messaging.models import Event
    from messaging.store.conversations import add_members

    group = make_group(alice, [bob])
    change = add_members(alice, group, ["carol"], new_client_id(), max_members=10)
    event = Event.objects.get(pk=change.appended.event.pk)
    carols = Participant.objects.get(conversation_id=group, user=carol)
    assert (carols.joined_seq, carols.joined_at) == (event.seq, event.created_at)
    assert change.appended.membership_seq == event.seq == Conversation.objects.get(pk=group).membership_seq


def test_an_owner_leaving_hands_over_only_within_that_group(alice, bob, carol, make_user) -> None:
    from messaging.store.conversations import leave, set_role

    dave = make_user("dave")
    other = make_group(dave, [carol], title="Elsewhere")
    set_role(dave, other, "carol", "admin", new_client_id())
    group = make_group(alice, [bob])
    roles_elsewhere = list(Participant.objects.filter(conversation_id=other).order_by("pk").values_list("role"))
    change = leave(alice, group, new_client_id())
    assert Participant.objects.get(conversation_id=group, user=bob).role == "owner"
    assert list(Participant.objects.filter(conversation_id=other).order_by("pk").values_list("role")) == roles_elsewhere
    assert (change.conversation.pk, [p.user_id for p in change.left]) == (group, [alice.pk])


def test_the_oldest_admin_is_the_one_who_joined_first_not_the_oldest_row(alice, bob, carol) -> None:
    # bob's row is older, but he left and came back: carol has been in longer.
    from messaging.store.conversations import add_members, leave, remove_member, set_role

    group = make_group(alice, [bob, carol])
    remove_member(alice, group, "bob", new_client_id())
    add_members(alice, group, ["bob"], new_client_id(), max_members=10)
    for name in ("bob", "carol"):
        set_role(alice, group, name, "admin", new_client_id())
    leave(alice, group, new_client_id())
    assert Participant.objects.get(conversation_id=group, user=carol).role == "owner"
    assert Participant.objects.get(conversation_id=group, user=bob).role == "admin"


def test_the_oldest_member_is_the_one_who_joined_first_when_there_is_no_admin(alice, bob, carol) -> None:
    from messaging.store.conversations import add_members, leave, remove_member

    group = make_group(alice, [bob, carol])
    remove_member(alice, group, "bob", new_client_id())
    add_members(alice, group, ["bob"], new_client_id(), max_members=10)
    leave(alice, group, new_client_id())
    assert Participant.objects.get(conversation_id=group, user=carol).role == "owner"


def test_a_leave_ends_the_membership_at_its_event(alice, bob) -> None:
    from messaging.models import Event
    from messaging.store.conversations import leave

    group = make_group(alice, [bob])
    change = leave(bob, group, new_client_id())
    event = Event.objects.get(pk=change.appended.event.pk)
    bobs = Participant.objects.get(conversation_id=group, user=bob)
    assert (bobs.left_seq, bobs.left_at) == (event.seq, event.created_at)


def test_a_leave_sent_again_with_its_client_id_is_the_same_leave(alice, bob) -> None:
    from messaging.models import Event
    from messaging.store.conversations import leave

    group = make_group(alice, [bob])
    client_id = new_client_id()
    first = leave(bob, group, client_id)
    again = leave(bob, group, client_id)
    assert (again.appended.event.pk, again.appended.created) == (first.appended.event.pk, False)
    assert Event.objects.filter(conversation_id=group, kind="member_left").count() == 1


def test_summaries_take_as_many_queries_for_five_conversations_as_for_one(alice, make_user) -> None:
    # One lookup of every newest message together: a conversation whose newest message the
    # batch missed would cost a query of its own (the fallback), one more per conversation.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from messaging.store.conversations import summaries

    for n in range(5):
        peer = make_user(f"peer{n}")
        direct, _ = conversations.get_or_create_direct(alice, peer)
        for _ in range(n + 1):
            send(direct.pk, peer)
    members = list(Participant.objects.filter(user=alice).select_related("conversation").order_by("pk"))

    def queries(rows: list) -> tuple[int, list]:
        with CaptureQueriesContext(connection) as captured:
            found = summaries(alice, rows)
        return len(captured), found

    one, _ = queries(members[:1])
    five, found = queries(members)
    assert five == one
    assert [s.last_message.seq for s in found] == [1, 2, 3, 4, 5]


def test_a_message_one_member_hid_is_still_the_last_message_of_the_other(alice, bob) -> None:
    from messaging.store.conversations import summaries_for
    from messaging.store.message_actions import hide_messages

    direct, _ = conversations.get_or_create_direct(alice, bob)
    send(direct.pk, alice)
    send(direct.pk, alice)
    hide_messages(bob, direct.pk, [2])
    [for_alice] = summaries_for(alice, [direct.pk])
    [for_bob] = summaries_for(bob, [direct.pk])
    assert (for_alice.last_message.seq, for_bob.last_message.seq) == (2, 1)


def test_the_inbox_leaves_out_chats_without_events_but_the_one_being_shown(alice, bob, carol, make_user) -> None:
    from messaging.store.conversations import inbox_page

    dave = make_user("dave")
    talked, _ = conversations.get_or_create_direct(alice, dave)
    send(talked.pk, dave)
    shown, _ = conversations.get_or_create_direct(alice, bob)  # opened, nothing said: the page being shown
    conversations.get_or_create_direct(alice, carol)  # opened, nothing said
    page, has_more, _ = inbox_page(alice, before=None, limit=10, current_peer_id=bob.pk)
    assert sorted(s.conversation.pk for s in page) == sorted([talked.pk, shown.pk]) and not has_more
    assert [s.conversation.pk for s in inbox_page(alice, before=None, limit=10)[0]] == [talked.pk]


def test_inbox_pages_of_conversations_active_at_the_same_moment_follow_the_newest_conversation_first(
    alice, make_user
) -> None:
    import datetime

    from messaging.store.conversations import decode_cursor, inbox_page

    moment = datetime.datetime(2026, 6, 1, 12, tzinfo=datetime.UTC)
    ids = []
    for n in range(5):
        direct, _ = conversations.get_or_create_direct(alice, make_user(f"tie{n}"))
        send(direct.pk, alice)
        ids.append(direct.pk)
    # the oldest conversation is the most recently active: it leads, and never comes back on a later page
    newest, ids = ids[0], ids[1:]
    Conversation.objects.filter(pk__in=ids).update(last_message_at=moment)
    Conversation.objects.filter(pk=newest).update(last_message_at=moment + datetime.timedelta(hours=1))
    seen, cursor = [], None
    while True:
        page, has_more, cursor = inbox_page(alice, before=cursor and decode_cursor(cursor), limit=1)
        seen += [s.conversation.pk for s in page]
        if not has_more:
            break
    assert seen == [newest, *sorted(ids, reverse=True)]


@pytest.mark.parametrize(
    ("case", "detail"),
    [
        ("former member", "you are no longer a member of this conversation"),
        ("direct", "a direct conversation has no members to change"),
        ("plain member", "only the group's owner or admins may do that"),
    ],
)
def test_a_change_the_actor_may_not_make_says_why(alice, bob, carol, case: str, detail: str) -> None:
    from messaging.store.conversations import add_members, leave
    from messaging.store.errors import Forbidden

    group = make_group(alice, [bob])
    if case == "former member":
        leave(bob, group, new_client_id())
        actor, target = bob, group
    elif case == "direct":
        actor, target = alice, conversations.get_or_create_direct(alice, bob)[0].pk
    else:
        actor, target = bob, group
    with pytest.raises(Forbidden) as refused:
        add_members(actor, target, ["carol"], new_client_id(), max_members=10)
    assert str(refused.value) == detail


def test_leaving_and_removal_each_take_one_from_the_member_count(alice, bob, carol) -> None:
    from messaging.store.conversations import leave, remove_member

    group = make_group(alice, [bob, carol])
    leave(bob, group, new_client_id())
    assert Conversation.objects.get(pk=group).member_count == 2
    remove_member(alice, group, "carol", new_client_id())
    assert Conversation.objects.get(pk=group).member_count == 1


def test_a_former_members_last_message_is_the_last_one_of_their_window(alice, bob) -> None:
    from messaging.store.conversations import leave, summaries_for

    group = make_group(alice, [bob])
    send(group, alice)  # seq 2
    leave(bob, group, new_client_id())  # seq 3
    send(group, alice)  # seq 4: not bob's to see
    [for_bob] = summaries_for(bob, [group])
    assert for_bob.last_message.seq == 2


def test_a_direct_chats_first_message_is_its_last_message(alice, bob) -> None:
    from messaging.store.conversations import summaries_for

    direct, _ = conversations.get_or_create_direct(alice, bob)
    send(direct.pk, alice)
    assert summaries_for(bob, [direct.pk])[0].last_message.seq == 1


def test_receipts_are_the_current_members_cursors_with_their_times_in_join_order(alice, bob, carol, make_user) -> None:
    from messaging.store.conversations import add_members, receipts_of, remove_member

    dave = make_user("dave")
    group = make_group(alice, [bob, carol, dave])
    remove_member(alice, group, "bob", new_client_id())
    add_members(alice, group, ["bob"], new_client_id(), max_members=10)  # his old row, a new join
    remove_member(alice, group, "dave", new_client_id())
    send(group, alice)
    seq = Conversation.objects.get(pk=group).last_message_seq
    receipts.move_cursors(CursorMark(group, carol.pk, "carol", delivered=seq, read=seq))
    found = receipts_of(group)
    assert [r.username for r in found] == ["alice", "carol", "bob"]
    carols = next(r for r in found if r.username == "carol")
    row = Participant.objects.get(conversation_id=group, user=carol)
    assert (carols.delivered_at, carols.read_at) == (row.delivered_at, row.read_at)
    assert carols.delivered_at is not None and carols.read_at is not None


def test_pinned_conversations_stay_off_the_later_inbox_pages(alice, bob, carol, make_user) -> None:
    from messaging.store.conversations import decode_cursor, inbox_page, pin

    dave = make_user("dave")
    chats = []
    for peer in (bob, carol, dave):
        direct, _ = conversations.get_or_create_direct(alice, peer)
        send(direct.pk, peer)
        chats.append(direct.pk)
    pin(alice.pk, chats[0], True)
    first, has_more, cursor = inbox_page(alice, before=None, limit=1)
    assert [s.conversation.pk for s in first] == [chats[0], chats[2]] and has_more
    second, has_more, _ = inbox_page(alice, before=decode_cursor(cursor), limit=1)
    assert [s.conversation.pk for s in second] == [chats[1]] and not has_more


def test_the_latest_pin_comes_first_whatever_the_conversations_age(alice, bob, carol) -> None:
    from messaging.store.conversations import inbox_page, pin

    older, _ = conversations.get_or_create_direct(alice, bob)
    newer, _ = conversations.get_or_create_direct(alice, carol)
    pin(alice.pk, newer.pk, True)
    pin(alice.pk, older.pk, True)
    page, _, _ = inbox_page(alice, before=None, limit=10)
    assert [s.conversation.pk for s in page] == [older.pk, newer.pk]


def test_pins_of_the_same_moment_put_the_newest_conversation_first(alice, bob, carol) -> None:
    import datetime

    from messaging.store.conversations import inbox_page

    older, _ = conversations.get_or_create_direct(alice, bob)
    newer, _ = conversations.get_or_create_direct(alice, carol)
    moment = datetime.datetime(2026, 6, 1, 12, tzinfo=datetime.UTC)
    Participant.objects.filter(user=alice).update(pinned_at=moment)
    page, _, _ = inbox_page(alice, before=None, limit=10)
    assert [s.conversation.pk for s in page] == [newer.pk, older.pk]


@override_settings(MESSAGING_MAX_PINNED_CONVERSATIONS=1)
def test_other_peoples_pins_do_not_count_toward_ones_own_limit(alice, bob) -> None:
    from messaging.store.conversations import pin

    direct, _ = conversations.get_or_create_direct(alice, bob)
    assert pin(bob.pk, direct.pk, True) is not None
    assert pin(alice.pk, direct.pk, True) is not None


def test_summaries_for_names_only_the_conversations_asked_for(alice, bob, carol) -> None:
    from messaging.store.conversations import summaries_for

    asked, _ = conversations.get_or_create_direct(alice, bob)
    conversations.get_or_create_direct(alice, carol)
    assert [s.conversation.pk for s in summaries_for(alice, [asked.pk])] == [asked.pk]


def test_a_new_group_without_messages_is_placed_in_the_inbox_by_when_it_was_made(alice, bob, carol) -> None:
    from messaging.store.conversations import inbox_page

    direct, _ = conversations.get_or_create_direct(alice, bob)
    send(direct.pk, bob)
    group = make_group(alice, [carol])  # made after bob's message: the more recent activity
    page, _, _ = inbox_page(alice, before=None, limit=10)
    assert [s.conversation.pk for s in page] == [group, direct.pk]


def test_a_chat_cleared_up_to_its_last_message_shows_no_last_message(alice, bob) -> None:
    from messaging.store.conversations import summaries_for
    from messaging.store.message_actions import clear_conversation

    direct, _ = conversations.get_or_create_direct(alice, bob)
    send(direct.pk, alice)
    clear_conversation(bob, direct.pk)
    [for_bob] = summaries_for(bob, [direct.pk])
    [for_alice] = summaries_for(alice, [direct.pk])
    assert (for_bob.last_message, for_alice.last_message.seq) == (None, 1)


def test_a_summarys_last_message_is_the_newest_message_not_a_later_event(alice, bob, carol) -> None:
    # A reaction after the message is the conversation's last event, not its last message;
    # another conversation's message at that seq belongs to that conversation only.
    from messaging.store.conversations import summaries_for
    from messaging.store.message_actions import react

    reacted, _ = conversations.get_or_create_direct(alice, bob)
    send(reacted.pk, alice)
    react(bob, reacted.pk, 1, "👍", new_client_id(), add=True, max_reactions=10)
    talked, _ = conversations.get_or_create_direct(alice, carol)
    send(talked.pk, alice)
    send(talked.pk, carol)
    found = {s.conversation.pk: s.last_message for s in summaries_for(alice, [reacted.pk, talked.pk])}
    assert (found[reacted.pk].seq, found[reacted.pk].kind) == (1, "message")
    assert (found[talked.pk].seq, found[talked.pk].sender_id) == (2, carol.pk)


def test_opening_a_direct_chat_that_exists_tells_no_one(alice, bob) -> None:
    from messaging.store.conversations import direct_with

    made, notices = direct_with(alice, "bob")
    again, none = direct_with(bob, "alice")
    assert again == made and set(notices) == {alice.pk, bob.pk} and none == {}


def test_removing_someone_who_already_left_is_not_found_and_changes_nothing(alice, bob) -> None:
    from messaging.store.conversations import leave, remove_member
    from messaging.store.errors import NotFound

    from .groups import database_state

    group = make_group(alice, [bob])
    leave(bob, group, new_client_id())
    before = database_state()
    with pytest.raises(NotFound) as refused:
        remove_member(alice, group, "bob", new_client_id())
    assert str(refused.value) == "'bob' is not a member of this group"
    assert database_state() == before


@pytest.mark.parametrize(
    ("change", "error", "detail"),
    [
        ("remove oneself", "Invalid", "to leave a group, use leave"),
        ("remove the owner", "Forbidden", "you may not remove 'alice'"),
        ("role of the owner", "Forbidden", "the owner's role does not change; the owner hands the group on by leaving"),
        ("role of a stranger", "NotFound", "'carol' is not a member of this group"),
        ("admin again", "Invalid", "'bob' is already an admin"),
        ("member again", "Invalid", "'dave' is already a member"),
    ],
)
def test_a_membership_change_that_cannot_be_made_says_why(alice, bob, carol, make_user, change, error, detail) -> None:
    from messaging.store import errors
    from messaging.store.conversations import remove_member, set_role

    dave = make_user("dave")
    group = make_group(alice, [bob, dave])
    set_role(alice, group, "bob", "admin", new_client_id())
    attempt = {
        "remove oneself": lambda: remove_member(alice, group, "alice", new_client_id()),
        "remove the owner": lambda: remove_member(bob, group, "alice", new_client_id()),
        "role of the owner": lambda: set_role(alice, group, "alice", "member", new_client_id()),
        "role of a stranger": lambda: set_role(alice, group, "carol", "admin", new_client_id()),
        "admin again": lambda: set_role(alice, group, "bob", "admin", new_client_id()),
        "member again": lambda: set_role(alice, group, "dave", "member", new_client_id()),
    }[change]
    with pytest.raises(getattr(errors, error)) as refused:
        attempt()
    assert str(refused.value) == detail


def test_the_peer_of_a_direct_chat_the_other_person_started_is_that_person(alice, bob) -> None:
    from messaging.store.conversations import summaries_for

    direct, _ = conversations.get_or_create_direct(bob, alice)  # bob's row first, alice's last
    assert summaries_for(alice, [direct.pk])[0].peer == bob
    assert summaries_for(bob, [direct.pk])[0].peer == alice


def test_a_direct_chat_with_no_one_of_that_name_says_so(alice) -> None:
    from messaging.store.conversations import direct_with
    from messaging.store.errors import NotFound

    with pytest.raises(NotFound) as refused:
        direct_with(alice, "nobody")
    assert str(refused.value) == "there is no one called 'nobody' to talk to"


def test_the_chat_being_shown_before_anything_is_said_is_placed_by_when_it_was_opened(alice, bob, carol) -> None:
    from messaging.store.conversations import inbox_page

    talked, _ = conversations.get_or_create_direct(alice, carol)
    send(talked.pk, carol)
    shown, _ = conversations.get_or_create_direct(alice, bob)  # opened after carol's message, nothing said
    page, _, _ = inbox_page(alice, before=None, limit=10, current_peer_id=bob.pk)
    assert [s.conversation.pk for s in page] == [shown.pk, talked.pk]


def test_the_inbox_with_presence_keeps_the_chat_being_shown(alice, bob, carol) -> None:
    talked, _ = conversations.get_or_create_direct(alice, carol)
    send(talked.pk, carol)
    shown, _ = conversations.get_or_create_direct(alice, bob)
    page, _, _ = reading.inbox(alice, before=None, limit=10, expiry=30, current_peer_id=bob.pk)
    assert {s.conversation.pk for s in page} == {talked.pk, shown.pk}


def test_naming_more_people_than_a_group_may_hold_is_refused_naming_the_setting(alice, bob, carol, make_user) -> None:
    from messaging.store.conversations import add_members
    from messaging.store.errors import LimitExceeded

    from .groups import database_state

    group = make_group(alice, [bob])
    before = database_state()
    with pytest.raises(LimitExceeded) as refused:
        add_members(alice, group, ["carol", "dave", "erin", "frank"], new_client_id(), max_members=3)
    assert (str(refused.value), refused.value.setting, refused.value.limit) == (
        "a group has at most 3 members",
        "MESSAGING_MAX_GROUP_MEMBERS",
        3,
    )
    assert database_state() == before


def test_a_membership_change_whose_client_id_named_a_change_of_another_group_is_a_conflict(alice, bob) -> None:
    from messaging.store.conversations import rename
    from messaging.store.errors import Conflict

    first, second = make_group(alice, [bob], title="One"), make_group(alice, [bob], title="Two")
    rename(alice, first, "Uno", "reused")
    with pytest.raises(Conflict):
        rename(alice, second, "Dos", "reused")
    assert Conversation.objects.get(pk=second).title == "Two"


def test_creations_of_one_group_at_once_with_the_same_client_id_make_one_group(alice, bob, carol) -> None:
    from messaging.store.conversations import create_group

    from .concurrency import run_in_threads

    changes = run_in_threads(lambda: create_group(alice, "Trip", ["bob", "carol"], "same-id", max_members=10), [()] * 4)
    assert Conversation.objects.filter(kind=Conversation.Kind.GROUP).count() == 1
    assert sorted(c.appended.created for c in changes) == [False, False, False, True]
    assert len({c.conversation.pk for c in changes}) == 1


def test_a_direct_conversation_records_who_started_it_for_the_admin(alice, bob) -> None:
    conversation, created = conversations.get_or_create_direct(bob, alice)
    again, created_again = conversations.get_or_create_direct(alice, bob)
    assert created and not created_again and again.pk == conversation.pk
    stored = Conversation.objects.get(pk=conversation.pk)
    assert (stored.kind, stored.created_by_id, stored.member_count) == (Conversation.Kind.DIRECT, bob.pk, 2)


def test_leaving_and_being_removed_stamp_when_the_membership_ended_for_the_admin(alice, bob, carol) -> None:
    from messaging.models import Event

    group = make_group(alice, [bob, carol])
    removed = conversations.remove_member(alice, group, "bob", new_client_id())
    left = conversations.leave(carol, group, new_client_id())
    for change, user in ((removed, bob), (left, carol)):
        row = Participant.objects.get(conversation_id=group, user=user)
        event = Event.objects.get(pk=change.appended.event.pk)
        assert (row.left_seq, row.left_at) == (event.seq, event.created_at)


def test_a_former_member_may_read_but_acting_is_refused_saying_they_are_no_longer_a_member(alice, bob, carol) -> None:
    from messaging.store.errors import Forbidden

    group = make_group(alice, [bob, carol])
    conversations.leave(carol, group, new_client_id())
    assert conversations.member_of(carol.pk, group).left_seq is not None
    with pytest.raises(Forbidden) as refused:
        conversations.member_of(carol.pk, group, current=True)
    assert str(refused.value) == "you are no longer a member of this conversation"


def test_a_users_window_of_a_conversation_is_that_conversations_not_another_of_theirs(alice, bob, carol) -> None:
    conversations.get_or_create_direct(alice, bob)
    group = make_group(carol, [bob])
    window = conversations.window(bob.pk, group)
    assert window is not None and window.conversation_id == group
    assert conversations.window(alice.pk, group) is None


def test_a_group_change_brings_its_group_to_the_inbox_top_at_the_changes_moment(alice, bob) -> None:
    from messaging.models import Event

    first = make_group(alice, [bob], title="First")
    make_group(alice, [bob], title="Second")
    renamed = conversations.rename(alice, first, "First, renamed", new_client_id()).appended.event
    stored = Conversation.objects.get(pk=first)
    assert stored.last_message_at == Event.objects.get(pk=renamed.pk).created_at
    assert Conversation.objects.order_by("-last_message_at").first().pk == first
