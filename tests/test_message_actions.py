"""Doing things to a message, through the store: replies, edits, deletion for everyone, reactions, delete for me, clear."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from messaging.models import Event, EventKind, HiddenMessage, MessageEdit, Notification, Participant, Reaction
from messaging.ops.archive import archive
from messaging.store import errors, events, message_actions, visibility
from messaging.store.conversations import get_or_create_direct, summary_of, unread_count
from messaging.store.events import create_message

from .groups import make_group
from .message_actions import cid, delete, edit, history, messages_of, react, rows_holding, sync

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def direct(alice, bob) -> int:
    conversation, _ = get_or_create_direct(alice, bob)
    return conversation.pk


def member(user, conversation_id: int) -> Participant:
    return Participant.objects.select_related("conversation").get(user=user, conversation_id=conversation_id)


def say(user, conversation_id: int, text: str, **options) -> int:
    return create_message(conversation_id, user, text, cid(), **options).event.seq


# --- replies -----------------------------------------------------------------------


def test_a_reply_names_its_original_and_quotes_it(alice, bob, direct) -> None:
    first = say(alice, direct, "Lunch at noon?")
    reply = create_message(direct, bob, "Yes!", cid(), reply_to=first)
    assert reply.event.target_seq == first
    page = messages_of(history(alice, direct))
    assert page[reply.event.seq]["reply_to"] == {
        "seq": first,
        "sender": "alice",
        "preview": "Lunch at noon?",
        "deleted": False,
    }


def test_a_reply_to_a_message_that_is_not_there_is_not_found_and_stores_nothing(alice, bob, direct) -> None:
    say(alice, direct, "one")
    before = Event.objects.count()
    with pytest.raises(errors.NotFound):
        create_message(direct, bob, "to nothing", cid(), reply_to=99)
    assert Event.objects.count() == before


def test_a_reply_to_an_event_that_is_not_a_message_is_not_found_whatever_other_conversations_hold(
    alice, bob, carol
) -> None:
    group = make_group(alice, [bob])
    created = Event.objects.get(conversation_id=group, kind=EventKind.CREATED).seq
    other, _ = get_or_create_direct(alice, carol)
    while say(alice, other.pk, "elsewhere") < created:  # another conversation has a message at that seq
        pass
    with pytest.raises(errors.NotFound):
        create_message(group, bob, "re", cid(), reply_to=created)


def test_a_reply_from_a_former_member_is_forbidden(alice, bob, carol) -> None:
    from messaging.store.conversations import remove_member

    group = make_group(alice, [bob, carol])
    first = say(alice, group, "before carol left")
    remove_member(alice, group, "carol", cid())
    with pytest.raises(errors.Forbidden):
        create_message(group, carol, "re", cid(), reply_to=first)


def test_a_reply_quotes_a_deleted_original_as_deleted(alice, bob, direct) -> None:
    first = say(alice, direct, "oops")
    reply = say(bob, direct, "what?", reply_to=first)
    delete(alice, direct, first)
    assert messages_of(history(bob, direct))[reply]["reply_to"] == {
        "seq": first,
        "sender": "alice",
        "preview": "",
        "deleted": True,
    }


def test_a_member_who_joined_later_sees_a_reply_without_the_quote_of_what_came_before(alice, bob, carol) -> None:
    from messaging.store.conversations import add_members

    group = make_group(alice, [bob])
    old = say(alice, group, "before carol")
    add_members(alice, group, ["carol"], cid(), max_members=10)
    reply = say(bob, group, "about that", reply_to=old)
    assert messages_of(history(carol, group))[reply]["reply_to"] == {
        "seq": old,
        "sender": None,
        "preview": None,
        "deleted": False,
    }


# --- edits ---------------------------------------------------------------------------


def test_an_edit_keeps_the_seq_marks_the_message_and_keeps_the_old_text(alice, bob, direct) -> None:
    seq = say(alice, direct, "helo")
    change = edit(alice, direct, seq, "hello")
    assert change.appended.event.kind == EventKind.EDITED and change.appended.event.target_seq == seq
    shown = messages_of(history(bob, direct))[seq]
    assert shown["content"] == "hello" and shown["edited_at"] is not None
    assert [v.content for v in message_actions.edit_history(bob.pk, direct, seq)] == ["helo", "hello"]
    assert MessageEdit.objects.get().content == "helo"


def test_sync_replays_every_edit_once_in_order(alice, bob, direct) -> None:
    seq = say(alice, direct, "v1")
    edit(alice, direct, seq, "v2")
    edit(alice, direct, seq, "v3")
    page = sync(bob, direct, after=seq)
    assert [(e["kind"], e["content"], e["target_seq"]) for e in page["events"]] == [
        ("edited", "v2", seq),
        ("edited", "v3", seq),
    ]


def test_only_the_sender_edits(alice, bob, direct) -> None:
    seq = say(alice, direct, "mine")
    with pytest.raises(errors.Forbidden):
        edit(bob, direct, seq, "yours now")


def test_an_edit_after_the_window_is_refused(alice, bob, direct) -> None:
    seq = say(alice, direct, "old")
    Event.objects.filter(seq=seq).update(created_at=timezone.now() - datetime.timedelta(hours=25))
    with pytest.raises(errors.WindowClosed):
        edit(alice, direct, seq, "new", window=datetime.timedelta(hours=24))
    with pytest.raises(errors.WindowClosed):
        edit(alice, direct, seq, "new", window=datetime.timedelta(0))
    assert edit(alice, direct, seq, "new", window=None).appended.created


def test_an_edit_to_the_same_text_changes_nothing(alice, bob, direct) -> None:
    seq = say(alice, direct, "same")
    assert edit(alice, direct, seq, "same").appended is None
    assert not Event.objects.filter(kind=EventKind.EDITED).exists()


def test_a_repeated_action_with_the_same_client_id_is_applied_once(alice, bob, direct) -> None:
    seq = say(alice, direct, "v1")
    first = message_actions.edit_message(alice, direct, seq, "v2", "same-id", window=None)
    again = message_actions.edit_message(alice, direct, seq, "v2", "same-id", window=None)
    assert not again.appended.created and again.appended.event.pk == first.appended.event.pk
    assert MessageEdit.objects.count() == 1


# --- deleting for everyone --------------------------------------------------------------


def test_deleting_for_everyone_purges_the_text_from_every_table(alice, bob, carol) -> None:
    group = make_group(alice, [bob, carol])
    secret = "the password is swordfish-42"
    seq = say(alice, group, secret + " draft")
    edit(alice, group, seq, secret)
    react(bob, group, seq, "👍")
    reply = say(carol, group, "noted", reply_to=seq)
    from messaging.notification_service import store_new_message_notifications

    store_new_message_notifications(Event.objects.get(conversation_id=group, seq=seq))
    assert rows_holding("swordfish-42")  # the scan finds it while it is there
    delete(alice, group, seq)
    assert rows_holding("swordfish-42") == []
    for user in (alice, bob, carol):
        for page in (sync(user, group), history(user, group)):
            assert "swordfish" not in str(page)
    shown = messages_of(history(bob, group))
    assert shown[seq]["deleted"] is True and shown[seq]["content"] == "" and shown[seq]["reactions"] == []
    assert shown[reply]["reply_to"]["deleted"] is True
    assert not Reaction.objects.exists() and not MessageEdit.objects.exists()


def test_deleting_an_archived_message_purges_the_archive_too(alice, bob, direct) -> None:
    seq = say(alice, direct, "archived secret xyzzy")
    from messaging.notification_service import store_new_message_notifications

    store_new_message_notifications(Event.objects.get(conversation_id=direct, seq=seq))
    archive(Event.objects.filter(conversation_id=direct))
    react(bob, direct, seq, "😮")  # archived messages take reactions and replies like any other
    say(bob, direct, "really?", reply_to=seq)
    delete(alice, direct, seq)
    assert rows_holding("xyzzy") == []


def test_an_archived_message_is_replied_to_reacted_to_and_edited_like_any_other(alice, bob, direct) -> None:
    seq = say(alice, direct, "old news")
    archive(Event.objects.filter(conversation_id=direct))
    reply = say(bob, direct, "still true?", reply_to=seq)
    react(bob, direct, seq, "👍")
    edit(alice, direct, seq, "old news, corrected")
    page = messages_of(history(bob, direct))
    # The quote shows the original as it is now.
    assert page[reply]["reply_to"] == {
        "seq": seq,
        "sender": "alice",
        "preview": "old news, corrected",
        "deleted": False,
    }
    assert page[seq]["content"] == "old news, corrected" and page[seq]["edited_at"] is not None
    assert [(r["emoji"], r["users"]) for r in page[seq]["reactions"]] == [("👍", ["bob"])]


def test_a_group_admin_deletes_anyones_message_at_any_time_a_member_does_not(alice, bob, carol) -> None:
    group = make_group(alice, [bob, carol])
    seq = say(bob, group, "spam")
    Event.objects.filter(seq=seq).update(created_at=timezone.now() - datetime.timedelta(days=30))
    with pytest.raises(errors.Forbidden):
        delete(carol, group, seq, window=datetime.timedelta(hours=24))
    with pytest.raises(errors.WindowClosed):
        delete(bob, group, seq, window=datetime.timedelta(hours=24))
    assert delete(alice, group, seq, window=datetime.timedelta(hours=24)).appended.created


def test_deleting_a_deleted_message_again_changes_nothing(alice, bob, direct) -> None:
    seq = say(alice, direct, "x")
    delete(alice, direct, seq)
    assert delete(alice, direct, seq).appended is None
    with pytest.raises(errors.NotFound):
        edit(alice, direct, seq, "back")


def test_a_message_deleted_before_it_was_read_is_not_unread(alice, bob, direct) -> None:
    seq = say(alice, direct, "nvm")
    say(alice, direct, "hello")
    delete(alice, direct, seq)
    assert unread_count(member(bob, direct)) == 1


# --- reactions ----------------------------------------------------------------------------


def test_a_reaction_is_once_per_user_message_and_emoji_and_a_repeat_is_a_no_op(alice, bob, direct) -> None:
    seq = say(alice, direct, "party?")
    assert react(bob, direct, seq, "🎉").appended.created
    assert react(bob, direct, seq, "🎉").appended is None
    react(alice, direct, seq, "🎉")
    shown = messages_of(history(bob, direct))[seq]
    assert shown["reactions"] == [{"emoji": "🎉", "count": 2, "users": ["bob", "alice"]}]
    assert react(bob, direct, seq, "🎉", add=False).appended.created
    assert react(bob, direct, seq, "🎉", add=False).appended is None
    assert messages_of(history(alice, direct))[seq]["reactions"] == [{"emoji": "🎉", "count": 1, "users": ["alice"]}]


def test_the_database_refuses_a_second_row_for_the_same_reaction(alice, bob, direct) -> None:
    from django.db import IntegrityError, transaction

    seq = say(alice, direct, "x")
    react(bob, direct, seq, "👍")
    with pytest.raises(IntegrityError), transaction.atomic():
        Reaction.objects.create(conversation_id=direct, message_seq=seq, user=bob, emoji="👍", seq=99)


def test_reactions_do_not_count_as_unread_nor_move_the_inbox(alice, bob, direct) -> None:
    seq = say(alice, direct, "x")
    Participant.objects.filter(user=alice).update(read_seq=seq, delivered_seq=seq)
    before = summary_of(alice, direct).conversation.last_message_at
    react(bob, direct, seq, "👍")
    summary = summary_of(alice, direct)
    assert summary.unread == 0 and summary.conversation.last_message_at == before


def test_a_message_takes_at_most_the_configured_number_of_different_reactions(alice, bob, direct) -> None:
    seq = say(alice, direct, "x")
    react(bob, direct, seq, "👍", max_reactions=2)
    react(bob, direct, seq, "🎉", max_reactions=2)
    react(alice, direct, seq, "👍", max_reactions=2)  # an emoji already there is no new kind
    with pytest.raises(errors.LimitExceeded):
        react(alice, direct, seq, "😮", max_reactions=2)


# --- who may act ----------------------------------------------------------------------------


def test_a_non_member_and_a_removed_member_change_nothing(alice, bob, carol) -> None:
    from messaging.store.conversations import remove_member

    group = make_group(alice, [bob])
    seq = say(alice, group, "x")
    with pytest.raises(errors.NotFound):
        react(carol, group, seq, "👍")
    remove_member(alice, group, "bob", cid())
    with pytest.raises(errors.Forbidden):
        react(bob, group, seq, "👍")
    assert not Reaction.objects.exists()


def test_acting_on_a_message_before_ones_join_is_not_found(alice, bob, carol) -> None:
    from messaging.store.conversations import add_members

    group = make_group(alice, [bob])
    old = say(alice, group, "before carol")
    add_members(alice, group, ["carol"], cid(), max_members=10)
    with pytest.raises(errors.NotFound):
        react(carol, group, old, "👍")
    with pytest.raises(errors.NotFound):
        create_message(group, carol, "re", cid(), reply_to=old)


def test_an_edit_of_a_message_before_ones_join_comes_as_a_placeholder(alice, bob, carol) -> None:
    from messaging.store.conversations import add_members

    group = make_group(alice, [bob])
    old = say(alice, group, "before carol")
    add_members(alice, group, ["carol"], cid(), max_members=10)
    edited = edit(alice, group, old, "changed before carol").appended.event.seq
    [placeholder] = [e for e in sync(carol, group)["events"] if e["seq"] == edited]
    assert placeholder["hidden"] is True and placeholder["content"] == ""


# --- delete for me, clear chat ---------------------------------------------------------------


def test_delete_for_me_hides_messages_from_that_user_only(alice, bob, direct) -> None:
    a, b, c = (say(alice, direct, t) for t in ("one", "two", "three"))
    message_actions.hide_messages(bob, direct, [a, b])
    assert sorted(messages_of(history(bob, direct))) == [c]
    assert sorted(messages_of(history(alice, direct))) == [a, b, c]
    hidden = {e["seq"]: e.get("hidden", False) for e in sync(bob, direct)["events"]}
    assert hidden == {a: True, b: True, c: False}  # every seq is there: the client's cursor moves over them


def test_delete_for_me_of_a_message_that_is_not_there_changes_nothing(alice, bob, direct) -> None:
    a = say(alice, direct, "one")
    with pytest.raises(errors.NotFound):
        message_actions.hide_messages(bob, direct, [a, 42])
    assert sorted(messages_of(history(bob, direct))) == [a]


def test_clear_chat_hides_everything_up_to_now_and_new_messages_show(alice, bob, direct) -> None:
    say(alice, direct, "old 1")
    say(alice, direct, "old 2")
    message_actions.clear_conversation(bob, direct)
    new = say(alice, direct, "new")
    assert sorted(messages_of(history(bob, direct))) == [new]
    summary = summary_of(bob, direct)
    assert summary.unread == 1 and summary.last_message.seq == new


def test_the_inbox_preview_skips_a_message_deleted_for_me(alice, bob, direct) -> None:
    first = say(alice, direct, "keep")
    last = say(alice, direct, "hide")
    message_actions.hide_messages(bob, direct, [last])
    assert summary_of(bob, direct).last_message.seq == first
    assert summary_of(bob, direct).unread == 1


def test_the_inbox_preview_is_a_message_never_a_later_membership_change(alice, bob, carol) -> None:
    from messaging.store.conversations import add_members

    group = make_group(alice, [bob])
    first = say(alice, group, "first")
    second = say(alice, group, "second")
    message_actions.hide_messages(bob, group, [second])
    add_members(alice, group, ["carol"], cid(), max_members=256)  # the newest event, after the hidden message
    assert summary_of(bob, group).last_message.seq == first


def test_the_inbox_preview_is_empty_when_every_message_is_deleted_for_me(alice, bob, direct) -> None:
    only = say(alice, direct, "hide me")
    message_actions.hide_messages(bob, direct, [only])
    assert summary_of(bob, direct).last_message is None


# --- pages -------------------------------------------------------------------------------


def test_an_around_page_holds_the_message_and_its_neighbours(alice, bob, direct) -> None:
    seqs = [say(alice, direct, f"m{i}") for i in range(30)]
    page = events.events_around(member(bob, direct), seqs[10], 6)
    assert [e.seq for e in page.events] == seqs[13:7:-1]
    assert page.has_more and page.has_newer


def around(user, conversation_id: int, seq: int, limit: int) -> events.EventPage:
    return events.events_around(member(user, conversation_id), seq, limit)


def test_an_around_page_leaves_out_reactions_and_what_the_member_hid_on_both_sides(alice, bob, direct) -> None:
    seqs = [say(alice, direct, f"m{i}") for i in range(3)]
    react(bob, direct, seqs[0], "👀")  # a reaction event before the message, and one after
    seqs += [say(alice, direct, f"m{i}") for i in range(3, 7)]
    react(bob, direct, seqs[2], "👍")
    message_actions.hide_messages(bob, direct, [seqs[1], seqs[5]])
    page = around(bob, direct, seqs[3], 100)
    assert [e.seq for e in page.events] == [seqs[6], seqs[4], seqs[3], seqs[2], seqs[0]]
    assert not page.has_more and not page.has_newer


def test_an_around_page_starts_right_after_what_the_member_cleared(alice, bob, direct) -> None:
    old = [say(alice, direct, f"old {i}") for i in range(3)]
    message_actions.clear_conversation(bob, direct)
    new = [say(alice, direct, f"new {i}") for i in range(3)]
    page = around(bob, direct, new[0], 100)
    assert [e.seq for e in page.events] == new[::-1]
    assert old[-1] < new[0]


def test_an_around_page_of_one_is_the_message_and_says_whether_newer_ones_exist(alice, bob, carol) -> None:
    from messaging.store.conversations import remove_member

    group = make_group(alice, [bob, carol])
    seqs = [say(alice, group, f"m{i}") for i in range(3)]
    middle = around(bob, group, seqs[1], 1)
    assert [e.seq for e in middle.events] == [seqs[1]]
    assert middle.has_more is True and middle.has_newer is True
    newest = around(bob, group, seqs[2], 1)
    assert [e.seq for e in newest.events] == [seqs[2]] and newest.has_newer is False
    left_seq = remove_member(alice, group, "carol", cid()).appended.event.seq
    say(alice, group, "after carol left")
    at_leave = around(carol, group, left_seq, 1)
    assert [e.seq for e in at_leave.events] == [left_seq] and at_leave.has_newer is False


def test_an_around_page_of_one_says_nothing_newer_when_only_reactions_and_hidden_messages_follow(
    alice, bob, direct
) -> None:
    seqs = [say(alice, direct, f"m{i}") for i in range(2)]
    hidden = say(alice, direct, "hidden from bob")
    message_actions.hide_messages(bob, direct, [hidden])
    react(alice, direct, seqs[1], "👍")
    for limit in (1, 2, 3):
        page = around(bob, direct, seqs[1], limit)
        assert page.events[0].seq == seqs[1] and page.has_newer is False, limit


def test_an_around_page_shows_each_message_as_of_the_newest_seq(alice, bob, direct) -> None:
    seqs = [say(alice, direct, f"m{i}") for i in range(3)]
    edit(alice, direct, seqs[1], "m1, edited")
    react(bob, direct, seqs[1], "👍")
    newest = Event.objects.filter(conversation_id=direct).order_by("-seq").first().seq
    page = around(bob, direct, seqs[1], 100)
    [shown] = [e for e in page.events if e.seq == seqs[1]]
    assert shown.view.as_of == newest and shown.view.content == "m1, edited"
    assert [r.emoji for r in shown.view.reactions] == ["👍"]


def test_history_folds_edits_and_reactions_into_their_message(alice, bob, direct) -> None:
    seq = say(alice, direct, "v1")
    edit(alice, direct, seq, "v2")
    react(bob, direct, seq, "👍")
    page = history(bob, direct)
    assert [e["kind"] for e in page["events"]] == ["message"]
    [shown] = page["events"]
    assert shown["as_of"] == seq + 2 and shown["content"] == "v2"


def test_a_former_member_sees_a_message_as_it_was_when_they_left(alice, bob, carol) -> None:
    from messaging.store.conversations import remove_member

    group = make_group(alice, [bob, carol])
    seq = say(alice, group, "v1")
    remove_member(alice, group, "carol", cid())
    edit(alice, group, seq, "v2 after carol left")
    shown = messages_of(history(carol, group))[seq]
    assert shown["content"] == "v1" and shown["edited_at"] is None
    assert [v.content for v in message_actions.edit_history(carol.pk, group, seq)] == ["v1"]


def test_a_mention_notifies_a_member_who_muted_the_group(alice, bob, carol) -> None:
    from messaging.connection_validator import FOREVER
    from messaging.notification_service import store_new_message_notifications
    from messaging.store.conversations import mute

    group = make_group(alice, [bob, carol])
    mute(bob.pk, group, FOREVER)
    mute(carol.pk, group, FOREVER)
    seq = say(alice, group, "@bob can you bring the map?")
    store_new_message_notifications(Event.objects.get(conversation_id=group, seq=seq))
    [mention] = Notification.objects.all()
    assert (mention.user, mention.kind, mention.title) == (bob, "mention", "alice mentioned you in Trip")


def test_an_edit_notifies_only_whom_it_newly_mentions(alice, bob, carol) -> None:
    from messaging.notification_service import store_mention_notifications

    group = make_group(alice, [bob, carol])
    seq = say(alice, group, "hi @bob")
    change = edit(alice, group, seq, "hi @bob and @carol")
    assert change.newly_mentioned == [carol.pk]
    store_mention_notifications(change.message, change.newly_mentioned)
    assert list(Notification.objects.values_list("user__username", "kind")) == [("carol", "mention")]


def test_a_reaction_notifies_the_author_who_is_away_and_reading_settles_it(alice, bob, direct) -> None:
    from messaging.notification_service import store_reaction_notification

    seq = say(alice, direct, "my message")
    change = react(bob, direct, seq, "👍")
    store_reaction_notification(change.appended.event, change.message)
    [notification] = Notification.objects.filter(user=alice)
    assert notification.title == "bob reacted 👍 to your message" and notification.kind == "reaction"
    reading_member = member(alice, direct)
    from messaging.store.notifications import settle_new_message_notification

    settle_new_message_notification(alice.pk, direct, unread_count(reading_member))
    assert Notification.objects.get(pk=notification.pk).read


# --- the visibility rule (messaging/store/visibility.py), at its edges ----------------------------


def visible_seqs(user, conversation_id: int) -> list[int]:
    """What ``visible_q`` lets through of every event row, whatever the conversation (its callers add their own)."""
    return list(
        Event.objects.filter(visibility.visible_q(member(user, conversation_id)))
        .order_by("seq")
        .values_list("seq", flat=True)
    )


def at_the_same_seq(alice, bob, carol) -> tuple[int, int, int]:
    """A direct conversation and a group of alice, bob and carol, each with a message by alice at one same seq."""
    other, _ = get_or_create_direct(alice, bob)
    group = make_group(alice, [bob, carol])
    seq = say(alice, group, "in the group")
    while say(alice, other.pk, "elsewhere") < seq:
        pass
    assert Event.objects.filter(conversation_id=other.pk, seq=seq, kind=EventKind.MESSAGE).exists()
    return other.pk, group, seq


def test_the_visibility_rule_keeps_to_the_members_own_conversation(alice, bob, carol) -> None:
    other, group, _ = at_the_same_seq(alice, bob, carol)
    in_group = Event.objects.filter(conversation_id=group).values_list("seq", flat=True)
    assert visible_seqs(bob, group) == sorted(in_group)
    assert Event.objects.filter(conversation_id=other).count() > 0  # rows the rule must leave out


def test_the_visibility_rule_starts_at_the_members_join_and_includes_it(alice, bob, carol) -> None:
    from messaging.store.conversations import add_members

    group = make_group(alice, [bob])
    say(alice, group, "before carol")
    add_members(alice, group, ["carol"], cid(), max_members=10)
    after = say(alice, group, "after carol came")
    joined = member(carol, group).joined_seq
    assert visible_seqs(carol, group) == [joined, after]
    added = [e for e in sync(carol, group)["events"] if e["seq"] == joined]
    assert added and not added[0].get("hidden"), "a new member sees the event that added them"


def test_the_visibility_rule_ends_at_the_former_members_leave_and_includes_it(alice, bob, carol) -> None:
    from messaging.store.conversations import remove_member

    elsewhere, _ = get_or_create_direct(alice, carol)
    group = make_group(alice, [bob, carol])
    say(alice, group, "carol clears this")
    message_actions.clear_conversation(carol, group)
    kept = say(alice, group, "before carol left")
    left = remove_member(alice, group, "carol", cid()).appended.event.seq
    say(alice, group, "after carol left")
    say(alice, elsewhere.pk, "in another conversation, before her leave's seq")
    assert visible_seqs(carol, group) == [kept, left]
    removal = [e for e in sync(carol, group)["events"] if e["seq"] == left]
    assert removal and not removal[0].get("hidden"), "a former member sees the event that removed them"


def test_the_visibility_rule_leaves_out_what_the_member_cleared(alice, bob, direct) -> None:
    say(alice, direct, "old")
    message_actions.clear_conversation(bob, direct)
    new = say(alice, direct, "new")
    assert visible_seqs(bob, direct) == [new]


def test_a_message_hidden_in_one_conversation_stays_visible_at_the_same_seq_in_another(alice, bob, carol) -> None:
    other, group, seq = at_the_same_seq(alice, bob, carol)
    message_actions.hide_messages(bob, other, [seq])
    assert seq in visible_seqs(bob, group)
    assert visibility.hidden_among(member(bob, group), [seq]) == set()
    react(bob, group, seq, "👍")  # can_see: not refused as not found
    assert unread_count(member(bob, group)) == len(
        Event.objects.filter(conversation_id=group, kind=EventKind.MESSAGE).exclude(sender=bob)
    )


def test_a_message_another_member_hid_still_counts_as_unread_for_me(alice, bob, carol) -> None:
    group = make_group(alice, [bob, carol])
    seq = say(alice, group, "carol hides this one, bob does not")
    message_actions.hide_messages(carol, group, [seq])
    assert unread_count(member(bob, group)) == 1
    assert unread_count(member(carol, group)) == 0


def test_hiding_one_message_leaves_the_others_open_to_actions(alice, bob, direct) -> None:
    first, second = say(alice, direct, "hidden"), say(alice, direct, "still there")
    message_actions.hide_messages(bob, direct, [first])
    assert visibility.hidden_among(member(bob, direct), [first, second]) == {first}
    react(bob, direct, second, "👍")
    with pytest.raises(errors.NotFound):
        react(bob, direct, first, "👍")


def test_the_last_message_a_member_cleared_is_hidden_from_their_actions_too(alice, bob, direct) -> None:
    last = say(alice, direct, "the newest when bob cleared")
    message_actions.clear_conversation(bob, direct)
    assert member(bob, direct).cleared_seq == last
    with pytest.raises(errors.NotFound):
        react(bob, direct, last, "👍")


# --- an action touches its own message, conversation and member only ----------------------------


def test_deleting_a_message_leaves_the_other_messages_edits_reactions_and_replies_alone(alice, bob, carol) -> None:
    group = make_group(alice, [bob, carol])
    gone = say(alice, group, "to be deleted")
    edit(alice, group, gone, "to be deleted, edited")
    react(bob, group, gone, "👍")
    kept = say(alice, group, "stays")
    kept_edit = edit(alice, group, kept, "stays, edited").appended.event.seq
    react(bob, group, kept, "🎉")
    reply = say(carol, group, "a reply keeps its own text", reply_to=gone)
    other, _ = get_or_create_direct(alice, bob)
    while say(alice, other.pk, "elsewhere") < gone:  # another conversation's message at the deleted seq
        pass
    edit(alice, other.pk, gone, "elsewhere, edited")
    react(bob, other.pk, gone, "😮")

    delete(alice, group, gone)

    edited_gone = Event.objects.get(conversation_id=group, kind=EventKind.EDITED, target_seq=gone)
    assert edited_gone.content == ""
    assert Event.objects.get(conversation_id=group, seq=kept_edit).content == "stays, edited"
    assert Event.objects.get(conversation_id=group, seq=reply).content == "a reply keeps its own text"
    elsewhere_edit = Event.objects.get(conversation_id=other.pk, kind=EventKind.EDITED, target_seq=gone)
    assert elsewhere_edit.content == "elsewhere, edited"
    assert [v.content for v in message_actions.edit_history(bob.pk, group, kept)] == ["stays", "stays, edited"]
    assert [r["emoji"] for r in messages_of(history(bob, group))[kept]["reactions"]] == ["🎉"]
    elsewhere = messages_of(history(bob, other.pk))[gone]
    assert elsewhere["content"] == "elsewhere, edited" and [r["emoji"] for r in elsewhere["reactions"]] == ["😮"]
    assert [v.content for v in message_actions.edit_history(bob.pk, other.pk, gone)] == [
        "elsewhere",
        "elsewhere, edited",
    ]


def test_a_deleted_message_shows_neither_its_edit_mark_nor_its_attachments(alice, bob, direct) -> None:
    seq = say(alice, direct, "with a file")
    edit(alice, direct, seq, "with a file, edited")
    Event.objects.filter(conversation_id=direct, seq=seq).update(data={"attachments": [{"id": 1, "name": "a.png"}]})
    delete(alice, direct, seq)
    row = Event.objects.get(conversation_id=direct, seq=seq)
    assert row.edited_at is None and row.data == {}
    shown = messages_of(history(bob, direct))[seq]
    assert shown["edited_at"] is None and shown["deleted"] is True


def test_a_deletion_is_an_event_naming_the_message_and_sync_replays_it(alice, bob, direct) -> None:
    seq = say(alice, direct, "oops")
    deleted = delete(alice, direct, seq).appended.event
    assert (deleted.kind, deleted.target_seq) == (EventKind.DELETED, seq)
    replayed = [(e["kind"], e["target_seq"]) for e in sync(bob, direct, after=seq)["events"]]
    assert replayed == [("deleted", seq)]


def test_a_repeated_deletion_with_the_same_client_id_is_the_first_one(alice, bob, direct) -> None:
    seq = say(alice, direct, "x")
    first = message_actions.delete_message(alice, direct, seq, "delete-once", window=None)
    again = message_actions.delete_message(alice, direct, seq, "delete-once", window=None)
    assert again.appended is not None and not again.appended.created
    assert again.appended.event.pk == first.appended.event.pk
    assert Event.objects.filter(kind=EventKind.DELETED).count() == 1


def test_taking_a_reaction_back_is_a_reaction_removed_event_naming_the_message_and_emoji(alice, bob, direct) -> None:
    seq = say(alice, direct, "nice")
    react(bob, direct, seq, "👍")
    removed = react(bob, direct, seq, "👍", add=False).appended.event
    assert (removed.kind, removed.target_seq, removed.data) == (EventKind.REACTION_REMOVED, seq, {"emoji": "👍"})
    added = Event.objects.get(conversation_id=direct, kind=EventKind.REACTION_ADDED)
    assert added.target_seq == seq


def test_the_reaction_limit_counts_the_reactions_of_that_message_only(alice, bob, carol) -> None:
    group = make_group(alice, [bob, carol])
    full = say(alice, group, "two kinds of reaction at most")
    other, _ = get_or_create_direct(alice, bob)
    while say(alice, other.pk, "elsewhere") < full:
        pass
    for emoji in ("👍", "🎉"):
        react(bob, group, full, emoji, max_reactions=2)
    with pytest.raises(errors.LimitExceeded):
        react(carol, group, full, "😮", max_reactions=2)
    free = say(alice, group, "a message of its own")
    react(carol, group, free, "😮", max_reactions=2)
    react(bob, other.pk, full, "😮", max_reactions=2)  # the same seq in another conversation


def test_clearing_a_chat_is_the_members_own(alice, bob, direct) -> None:
    seq = say(alice, direct, "kept for alice")
    hidden = message_actions.clear_conversation(bob, direct)
    assert (hidden.conversation_id, hidden.cleared_seq) == (direct, seq)
    assert member(alice, direct).cleared_seq == 0
    assert sorted(messages_of(history(alice, direct))) == [seq]


def test_a_former_member_clears_up_to_their_leave(alice, bob, carol) -> None:
    from messaging.store.conversations import remove_member

    group = make_group(alice, [bob, carol])
    say(alice, group, "before")
    left = remove_member(alice, group, "carol", cid()).appended.event.seq
    say(alice, group, "after carol left")
    assert message_actions.clear_conversation(carol, group).cleared_seq == left
    assert member(carol, group).cleared_seq == left


def test_clearing_drops_the_members_own_hidden_rows_under_it_and_no_one_elses(alice, bob, carol) -> None:
    from messaging.models import HiddenMessage

    other, group, seq = at_the_same_seq(alice, bob, carol)
    message_actions.hide_messages(bob, group, [seq])
    message_actions.hide_messages(carol, group, [seq])
    message_actions.hide_messages(bob, other, [seq])
    message_actions.clear_conversation(bob, group)
    assert sorted(HiddenMessage.objects.values_list("user__username", "conversation_id")) == [
        ("bob", other),
        ("carol", group),
    ]


def test_clearing_a_chat_reads_its_new_message_notification(alice, bob, direct) -> None:
    from messaging.notification_service import store_new_message_notifications

    seq = say(alice, direct, "are you there?")
    store_new_message_notifications(Event.objects.get(conversation_id=direct, seq=seq))
    assert Notification.objects.filter(user=bob, read=False).count() == 1
    hidden = message_actions.clear_conversation(bob, direct)
    assert hidden.notification_unread == 0
    assert not Notification.objects.filter(user=bob, read=False).exists()


def test_an_edit_history_gives_each_version_its_times(alice, bob, direct) -> None:
    seq = say(alice, direct, "v1")
    sent_at = Event.objects.get(conversation_id=direct, seq=seq).created_at
    edit(alice, direct, seq, "v2")
    first_edit_at = Event.objects.get(conversation_id=direct, seq=seq).edited_at
    edit(alice, direct, seq, "v3")
    last_edit_at = Event.objects.get(conversation_id=direct, seq=seq).edited_at
    versions = message_actions.edit_history(bob.pk, direct, seq)
    assert [(v.content, v.written_at, v.replaced_at) for v in versions] == [
        ("v1", sent_at, first_edit_at),
        ("v2", first_edit_at, last_edit_at),
        ("v3", last_edit_at, None),
    ]
    unedited = say(alice, direct, "never edited")
    [only] = message_actions.edit_history(bob.pk, direct, unedited)
    assert only.written_at == Event.objects.get(conversation_id=direct, seq=unedited).created_at


def test_an_edit_history_holds_that_messages_versions_only(alice, bob, carol) -> None:
    other, group, seq = at_the_same_seq(alice, bob, carol)
    edit(alice, other, seq, "elsewhere, edited")
    neighbour = say(alice, group, "a neighbour")
    edit(alice, group, neighbour, "a neighbour, edited")
    assert [v.content for v in message_actions.edit_history(bob.pk, group, seq)] == ["in the group"]


def test_a_former_members_edit_history_ends_with_the_text_they_last_saw(alice, bob, carol) -> None:
    from messaging.store.conversations import remove_member

    group = make_group(alice, [bob, carol])
    seq = say(alice, group, "v1")
    neighbour = say(alice, group, "n1")
    edit(alice, group, seq, "v2")
    remove_member(alice, group, "carol", cid())
    edit(alice, group, neighbour, "n2, after carol left")
    edit(alice, group, seq, "v3, after carol left")
    edit(alice, group, seq, "v4, after carol left")
    versions = message_actions.edit_history(carol.pk, group, seq)
    assert [v.content for v in versions] == ["v1", "v2"]
    v2_written = MessageEdit.objects.get(conversation_id=group, message_seq=seq, content="v2").written_at
    assert (versions[-1].written_at, versions[-1].replaced_at) == (v2_written, None)


def test_a_former_members_edit_history_ignores_later_edits_in_other_conversations(alice, bob, carol) -> None:
    from messaging.store.conversations import remove_member

    other, group, seq = at_the_same_seq(alice, bob, carol)
    edit(alice, group, seq, "in the group, v2")
    remove_member(alice, group, "carol", cid())
    left = member(carol, group).left_seq
    while say(alice, other, "elsewhere, more") <= left:
        pass
    # Elsewhere, the same message seq is edited at a seq past her leave, before the group's next edit.
    elsewhere_edit = edit(alice, other, seq, "elsewhere, edited after carol left").appended.event.seq
    while say(alice, group, "more") <= elsewhere_edit:
        pass
    edit(alice, group, seq, "in the group, v3")
    versions = message_actions.edit_history(carol.pk, group, seq)
    assert [v.content for v in versions] == ["in the group", "in the group, v2"]


def test_an_edit_mentions_only_current_active_members(alice, bob, carol, make_user) -> None:
    from messaging.store.conversations import remove_member

    dave, erin = make_user("dave"), make_user("erin")
    group = make_group(alice, [bob, carol, dave])
    get_or_create_direct(alice, erin)  # erin is in a conversation of alice's, not in this one
    remove_member(alice, group, "carol", cid())
    dave.is_active = False
    dave.save()
    seq = say(alice, group, "hello")
    change = edit(alice, group, seq, "hello @bob @carol @dave @erin")
    assert change.newly_mentioned == [bob.pk]


def test_deleting_an_archived_message_clears_its_notifications_quote_and_no_other(alice, bob, carol) -> None:
    from messaging.notification_service import store_new_message_notifications
    from messaging.store.message_actions import DELETED_TEXT

    group = make_group(alice, [bob, carol])
    text = "line one\nline  two, with   spaces kept as they were typed"
    seq = say(alice, group, text)
    store_new_message_notifications(Event.objects.get(conversation_id=group, seq=seq))
    quoting = Notification.objects.get(user=bob)
    archive(Event.objects.filter(conversation_id=group))
    assert Notification.objects.get(pk=quoting.pk).message_id is None  # archiving unlinked it
    same_text_elsewhere = Notification.objects.create(
        user=bob, kind=quoting.kind, title="t", body=quoting.body, url="/messages/c/999999/"
    )
    other_text_here = Notification.objects.create(
        user=bob, kind=quoting.kind, title="t", body="alice: something else", url=quoting.url
    )
    delete(alice, group, seq)
    assert Notification.objects.get(pk=quoting.pk).body == DELETED_TEXT
    assert Notification.objects.get(pk=same_text_elsewhere.pk).body == quoting.body
    assert Notification.objects.get(pk=other_text_here.pk).body == "alice: something else"


def test_deleting_a_message_leaves_the_notification_of_another_message_with_the_same_text(alice, bob, carol) -> None:
    from messaging.notification_service import store_new_message_notifications

    group = make_group(alice, [bob, carol])
    gone = say(alice, group, "ok")
    kept = say(alice, group, "ok")
    store_new_message_notifications(Event.objects.get(conversation_id=group, seq=gone))
    quoting_kept = Notification.objects.create(
        user=carol,
        kind="new_message",
        title="t",
        body="alice: ok",
        url=f"/messages/c/{group}/",
        message=Event.objects.get(conversation_id=group, seq=kept),
    )
    delete(alice, group, gone)
    assert Notification.objects.get(pk=quoting_kept.pk).body == "alice: ok"


# --- what the eleventh mutation round found unguarded ----------------------------------------


def test_an_edit_at_the_very_end_of_the_window_is_still_allowed(alice, bob, direct) -> None:
    from unittest import mock

    seq = say(alice, direct, "old")
    sent = Event.objects.get(conversation_id=direct, seq=seq).created_at
    window = datetime.timedelta(minutes=15)
    with mock.patch("django.utils.timezone.now", return_value=sent + window):
        assert edit(alice, direct, seq, "new", window=window).appended.created


@pytest.mark.parametrize(
    ("action", "setting"), [("edit", "MESSAGING_EDIT_WINDOW"), ("delete", "MESSAGING_DELETE_WINDOW")]
)
def test_an_action_after_its_window_names_the_setting(alice, bob, direct, action, setting) -> None:
    seq = say(alice, direct, "old")
    Event.objects.filter(seq=seq).update(created_at=timezone.now() - datetime.timedelta(hours=2))
    with pytest.raises(errors.WindowClosed) as refused:
        if action == "edit":
            edit(alice, direct, seq, "new", window=datetime.timedelta(hours=1))
        else:
            delete(alice, direct, seq, window=datetime.timedelta(hours=1))
    assert refused.value.setting == setting


@pytest.mark.parametrize(
    ("case", "error", "detail"),
    [
        ("edit another's", "Forbidden", "only its sender may edit a message"),
        ("edit a deleted one", "NotFound", "message 1 was deleted"),
        ("react to a deleted one", "NotFound", "message 1 was deleted"),
        (
            "delete another's",
            "Forbidden",
            "only its sender, or the group's owner and admins, may delete a message for everyone",
        ),
        ("edit past the log", "NotFound", "there is no message 9 in this conversation"),
        ("hide past the log", "NotFound", "there is no message 9 in this conversation"),
    ],
)
def test_a_message_action_that_cannot_be_done_says_why(alice, bob, direct, case, error, detail) -> None:
    say(alice, direct, "hello")  # seq 1
    if "deleted" in case:
        delete(alice, direct, 1)
    attempt = {
        "edit another's": lambda: edit(bob, direct, 1, "mine now"),
        "edit a deleted one": lambda: edit(alice, direct, 1, "back"),
        "react to a deleted one": lambda: react(bob, direct, 1, "👍"),
        "delete another's": lambda: delete(bob, direct, 1),
        "edit past the log": lambda: edit(alice, direct, 9, "nothing there"),
        "hide past the log": lambda: message_actions.hide_messages(bob, direct, [9]),
    }[case]
    with pytest.raises(getattr(errors, error)) as refused:
        attempt()
    assert str(refused.value) == detail


def test_an_edit_that_adds_a_mention_in_a_direct_chat_mentions_no_one(alice, bob, direct) -> None:
    # In a direct chat every message reaches the other person already: a mention adds nothing.
    seq = say(alice, direct, "hello")
    assert edit(alice, direct, seq, "hello @bob").newly_mentioned == []


def test_a_message_deleted_for_everyone_keeps_no_text_in_its_row(alice, bob, direct) -> None:
    seq = say(alice, direct, "regret")
    change = delete(alice, direct, seq)
    assert change.message is not None and change.message.content == ""
    assert Event.objects.get(conversation_id=direct, seq=seq).content == ""


@pytest.mark.parametrize("case", ["a seq only another conversation holds", "a reaction's seq"])
def test_hiding_a_seq_that_is_not_a_message_of_this_conversation_is_not_found(alice, bob, carol, direct, case) -> None:
    say(alice, direct, "hello")  # seq 1
    if case == "a reaction's seq":
        target = react(bob, direct, 1, "👍").appended.event.seq
    else:
        elsewhere, _ = get_or_create_direct(alice, carol)
        say(alice, elsewhere.pk, "one")
        target = say(alice, elsewhere.pk, "two")  # seq 2 there, nothing at 2 here
    with pytest.raises(errors.NotFound):
        message_actions.hide_messages(bob, direct, [target])
    assert not HiddenMessage.objects.filter(user=bob).exists()


def test_hiding_a_message_already_hidden_is_harmless(alice, bob, direct) -> None:
    seq = say(alice, direct, "once")
    message_actions.hide_messages(bob, direct, [seq])
    message_actions.hide_messages(bob, direct, [seq])
    assert seq not in messages_of(history(bob, direct))


def test_an_action_whose_client_id_named_an_action_in_another_conversation_is_a_conflict(
    alice, bob, carol, direct
) -> None:
    seq = say(alice, direct, "here")
    elsewhere, _ = get_or_create_direct(alice, carol)
    there = say(alice, elsewhere.pk, "there")
    message_actions.edit_message(alice, direct, seq, "here, edited", "reused", window=None)
    with pytest.raises(errors.Conflict):
        message_actions.edit_message(alice, elsewhere.pk, there, "there, edited", "reused", window=None)


# --- how a page shows its messages (message_views) -------------------------------------------


def test_a_readers_own_reaction_is_named_first_whoever_reacted_first(alice, bob, direct) -> None:
    seq = say(alice, direct, "party?")
    react(bob, direct, seq, "🎉")
    react(alice, direct, seq, "🎉")
    assert messages_of(history(alice, direct))[seq]["reactions"] == [
        {"emoji": "🎉", "count": 2, "users": ["alice", "bob"]}
    ]


def test_reactions_in_another_conversation_at_the_same_seq_stay_there(alice, bob, carol, direct) -> None:
    seq = say(alice, direct, "here")
    elsewhere, _ = get_or_create_direct(alice, carol)
    there = say(alice, elsewhere.pk, "there")
    assert seq == there
    react(carol, elsewhere.pk, there, "😮")
    assert messages_of(history(bob, direct))[seq]["reactions"] == []


def test_a_reply_whose_original_is_off_the_page_carries_its_quote(alice, bob, direct) -> None:
    original = say(alice, direct, "the original")
    say(alice, direct, "something else")
    reply = say(bob, direct, "my answer", reply_to=original)
    page = history(alice, direct, limit=1)
    assert list(messages_of(page)) == [reply]
    quote = messages_of(page)[reply]["reply_to"]
    assert (quote["seq"], quote["sender"], quote["preview"]) == (original, "alice", "the original")


def test_a_former_members_page_is_folded_as_of_their_leave(alice, bob, carol) -> None:
    from messaging.store.conversations import remove_member

    group = make_group(alice, [bob, carol])
    seq = say(alice, group, "hello")
    left = remove_member(alice, group, "carol", cid()).appended.event.seq
    say(alice, group, "after carol")
    assert messages_of(history(carol, group))[seq]["as_of"] == left


def test_a_former_member_sees_the_text_of_the_last_edit_before_their_leave(alice, bob, carol) -> None:
    from messaging.store.conversations import remove_member

    group = make_group(alice, [bob, carol])
    seq = say(alice, group, "v1")
    edit(alice, group, seq, "v2")
    seen = Event.objects.get(conversation_id=group, seq=seq).edited_at
    remove_member(alice, group, "carol", cid())
    edit(alice, group, seq, "v3 after carol left")
    shown = messages_of(history(carol, group))[seq]
    assert shown["content"] == "v2" and shown["edited_at"] == seen.isoformat()


def test_a_former_members_view_of_an_edited_message_ignores_edits_in_other_conversations(alice, bob, carol) -> None:
    from messaging.store.conversations import remove_member

    group = make_group(alice, [bob, carol])  # seq 1: created
    seq = say(alice, group, "v1")  # seq 2
    edit(alice, group, seq, "v2")  # seq 3
    remove_member(alice, group, "carol", cid())  # seq 4
    direct, _ = get_or_create_direct(alice, bob)
    say(alice, direct.pk, "first")
    other = say(alice, direct.pk, "not for carol")  # the same seq, another conversation
    for emoji in ("👍", "🎉", "😮"):
        react(bob, direct.pk, other, emoji)
    edit(alice, direct.pk, other, "edited later")  # its edit's seq is past carol's leave
    assert other == seq
    assert messages_of(history(carol, group))[seq]["content"] == "v2"


def test_a_client_id_the_other_member_used_for_their_reaction_is_not_a_repeat_of_it(alice, bob, direct) -> None:
    seq = say(alice, direct, "lunch?")
    mine = message_actions.react(alice, direct, seq, "👍", "same-id", add=True, max_reactions=20)
    theirs = message_actions.react(bob, direct, seq, "👍", "same-id", add=True, max_reactions=20)
    assert mine.appended.created and theirs.appended.created
    assert theirs.appended.event.sender_id == bob.pk
    assert sorted(Reaction.objects.filter(emoji="👍").values_list("user_id", flat=True)) == sorted([alice.pk, bob.pk])


def test_an_off_page_quote_is_read_from_its_own_conversation_not_another_at_the_same_seq(
    alice, bob, carol, direct
) -> None:
    original = say(alice, direct, "the original")
    elsewhere, _ = get_or_create_direct(alice, carol)
    assert say(carol, elsewhere.pk, "a secret of another chat") == original
    say(alice, direct, "something else")
    reply = say(bob, direct, "my answer", reply_to=original)
    quote = messages_of(history(alice, direct, limit=1))[reply]["reply_to"]
    assert (quote["seq"], quote["sender"], quote["preview"]) == (original, "alice", "the original")


def test_an_event_that_is_not_a_message_carries_no_content(alice, bob, direct) -> None:
    seq = say(alice, direct, "lunch?")
    reaction = react(bob, direct, seq, "👍").appended.event
    deletion = delete(alice, direct, seq).appended.event
    assert (reaction.content, deletion.content) == ("", "")
    assert [e.content for e in Event.objects.filter(conversation_id=direct).exclude(seq=seq)] == ["", ""]
