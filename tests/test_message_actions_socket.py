"""Message actions on ``ws/chat/`` and over HTTP: acks, pushes, placeholders, coded errors, the shared rate limit."""

from __future__ import annotations

import itertools
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import OperationalError
from django.test import Client, override_settings

from messaging import notification_service
from messaging.actions.messages import settle_notifications
from messaging.models import Event, HiddenMessage, MessagingError, Notification, NotificationKind, Reaction
from messaging.store.conversations import add_members, get_or_create_direct
from messaging.store.events import create_message

from .groups import make_group, new_client_id
from .support import Socket

pytestmark = pytest.mark.django_db(transaction=True)

_refs = itertools.count(1)
OpenChat = Callable[[Any], Awaitable[Socket]]


@pytest.fixture
def open_chat(open_socket: Callable[..., Awaitable[Socket]]) -> OpenChat:
    async def open_(user: Any) -> Socket:
        return await open_socket(user, "/ws/chat/")

    return open_


async def ask(socket: Socket, frame: dict[str, Any]) -> dict[str, Any]:
    """Send ``frame`` with a fresh ref and return the answer (or error) carrying it."""
    ref = next(_refs)
    await socket.send({**frame, "ref": ref})
    return await socket.expect_where(lambda f: f.get("ref") == ref)


@database_sync_to_async
def direct_with_message(alice: Any, bob: Any, text: str = "hello") -> tuple[int, int]:
    conversation, _ = get_or_create_direct(alice, bob)
    return conversation.pk, create_message(conversation.pk, alice, text, new_client_id()).event.seq


async def test_an_edit_is_acked_and_pushed_to_the_other_member(alice, bob, open_chat) -> None:
    conversation, seq = await direct_with_message(alice, bob, "helo")
    a, b = await open_chat(alice), await open_chat(bob)
    ack = await ask(
        a, {"type": "edit", "conversation": conversation, "seq": seq, "content": "hello", "client_id": "e1"}
    )
    assert ack["type"] == "ack" and ack["client_id"] == "e1"
    assert (ack["event"]["kind"], ack["event"]["target_seq"], ack["event"]["content"]) == ("edited", seq, "hello")
    pushed = await b.expect("event")
    assert pushed["event"] == ack["event"]


@pytest.mark.parametrize(
    ("frame", "kind"),
    [
        ({"type": "delete"}, "deleted"),
        ({"type": "react", "emoji": "\U0001f44d"}, "reaction_added"),
    ],
)
async def test_a_deletion_or_a_reaction_is_acked_and_pushed_to_the_other_member(
    alice, bob, open_chat, frame: dict[str, Any], kind: str
) -> None:
    conversation, seq = await direct_with_message(alice, bob, "helo")
    a, b = await open_chat(alice), await open_chat(bob)
    ack = await ask(a, {**frame, "conversation": conversation, "seq": seq, "client_id": "x1"})
    assert (ack["type"], ack["event"]["kind"], ack["event"]["target_seq"]) == ("ack", kind, seq)
    pushed = await b.expect("event")
    assert pushed["event"] == ack["event"]


async def test_an_edit_is_pushed_to_every_socket_but_the_one_that_made_it(alice, bob, open_chat) -> None:
    conversation, seq = await direct_with_message(alice, bob, "helo")
    a, other_tab, b = await open_chat(alice), await open_chat(alice), await open_chat(bob)
    ack = await ask(
        a, {"type": "edit", "conversation": conversation, "seq": seq, "content": "hello", "client_id": "e1"}
    )
    for socket in (other_tab, b):
        assert (await socket.expect("event"))["event"] == ack["event"]
    # The editing socket has the event in its ack; it is not pushed back to it.
    assert not [f for f in await a.drain() if f["type"] == "event"]


async def test_an_edit_over_the_socket_notifies_the_members_it_newly_mentions_and_no_one_else(
    alice, bob, carol, open_chat, open_socket
) -> None:
    @database_sync_to_async
    def group_with_message() -> tuple[int, int]:
        group = make_group(alice, [bob, carol])
        return group, create_message(group, alice, "lunch @bob?", new_client_id()).event.seq

    group, seq = await group_with_message()
    carol_bell = await open_socket(carol, "/ws/notifications/")
    a = await open_chat(alice)
    ack = await ask(
        a, {"type": "edit", "conversation": group, "seq": seq, "content": "lunch @bob @carol?", "client_id": "e1"}
    )
    assert ack["event"]["kind"] == "edited"
    pushed = await carol_bell.expect("notification")
    assert (pushed["notification"]["kind"], pushed["notification"]["body"]) == ("mention", "alice: lunch @bob @carol?")
    await settle_notifications()
    mentions = Notification.objects.filter(kind=NotificationKind.MENTION).values_list("user__username", flat=True)
    assert await database_sync_to_async(list)(mentions) == ["carol"]


async def test_a_reaction_over_the_socket_notifies_the_messages_author_when_away(
    alice, bob, open_chat, open_socket
) -> None:
    conversation, seq = await direct_with_message(alice, bob, "lunch?")
    alice_bell = await open_socket(alice, "/ws/notifications/")
    b = await open_chat(bob)
    ack = await ask(b, {"type": "react", "conversation": conversation, "seq": seq, "emoji": "👍", "client_id": "r1"})
    assert ack["event"]["kind"] == "reaction_added"
    pushed = (await alice_bell.expect("notification"))["notification"]
    assert (pushed["kind"], pushed["title"], pushed["body"]) == ("reaction", "bob reacted 👍 to your message", "lunch?")


async def test_a_reaction_twice_is_acked_once_with_an_event_then_with_none(alice, bob, open_chat) -> None:
    conversation, seq = await direct_with_message(alice, bob)
    b = await open_chat(bob)
    first = await ask(b, {"type": "react", "conversation": conversation, "seq": seq, "emoji": "👍", "client_id": "r1"})
    again = await ask(b, {"type": "react", "conversation": conversation, "seq": seq, "emoji": "👍", "client_id": "r2"})
    repeat = await ask(b, {"type": "react", "conversation": conversation, "seq": seq, "emoji": "👍", "client_id": "r1"})
    assert first["event"]["kind"] == "reaction_added" and first["event"]["data"] == {"emoji": "👍"}
    assert again["event"] is None
    assert repeat["event"] == first["event"]
    assert await database_sync_to_async(Reaction.objects.count)() == 1


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"type": "react", "seq": 1, "emoji": "a"}, "invalid_frame"),
        ({"type": "react", "seq": 1, "emoji": "👍 👍"}, "invalid_frame"),
        ({"type": "edit", "seq": 1, "content": "  "}, "invalid_frame"),
        ({"type": "edit", "seq": 0, "content": "x"}, "invalid_frame"),
        ({"type": "edit", "seq": 1, "content": "x" * 4001}, "too_large"),
        ({"type": "delete", "seq": "1"}, "invalid_frame"),
        ({"type": "hide", "seqs": []}, "invalid_frame"),
        ({"type": "hide", "seqs": list(range(1, 102))}, "invalid_frame"),
        ({"type": "edit", "seq": 99, "content": "x"}, "not_found"),
        ({"type": "delete", "seq": 99}, "not_found"),
    ],
)
async def test_bad_action_frames_get_their_code_with_the_client_id_and_change_nothing(
    alice, bob, open_chat, frame, code
) -> None:
    conversation, _ = await direct_with_message(alice, bob)
    a = await open_chat(alice)
    before = await database_sync_to_async(Event.objects.count)()
    error = await ask(a, {**frame, "conversation": conversation, "client_id": "x1"})
    assert (error["type"], error["code"], error["client_id"]) == ("error", code, "x1")
    assert await database_sync_to_async(Event.objects.count)() == before


async def test_editing_someone_elses_message_is_forbidden(alice, bob, open_chat) -> None:
    conversation, seq = await direct_with_message(alice, bob)
    b = await open_chat(bob)
    error = await ask(
        b, {"type": "edit", "conversation": conversation, "seq": seq, "content": "mine", "client_id": "e"}
    )
    assert error["code"] == "forbidden"


async def test_a_refusal_from_the_store_is_an_error_frame_with_its_detail_client_id_and_ref(
    alice, bob, open_chat
) -> None:
    conversation, seq = await direct_with_message(alice, bob)
    b = await open_chat(bob)
    await b.send(
        {"type": "edit", "conversation": conversation, "seq": seq, "content": "mine", "client_id": "e", "ref": "r"}
    )
    error = await b.expect("error", ref="r")
    assert error == {
        "type": "error",
        "code": "forbidden",
        "detail": error["detail"],
        "client_id": "e",
        "ref": "r",
    }
    assert "only" in error["detail"] and error["detail"] != "forbidden"


@override_settings(MESSAGING_EDIT_WINDOW="0", MESSAGING_DELETE_WINDOW="0")
async def test_past_the_windows_edits_and_deletions_get_their_own_codes(alice, bob, open_chat) -> None:
    conversation, seq = await direct_with_message(alice, bob)
    a = await open_chat(alice)
    edit = await ask(a, {"type": "edit", "conversation": conversation, "seq": seq, "content": "x", "client_id": "e"})
    delete = await ask(a, {"type": "delete", "conversation": conversation, "seq": seq, "client_id": "d"})
    assert (edit["code"], delete["code"]) == ("edit_window_closed", "delete_window_closed")


async def test_a_non_member_acting_on_a_conversation_gets_not_found(alice, bob, carol, open_chat) -> None:
    conversation, seq = await direct_with_message(alice, bob)
    c = await open_chat(carol)
    for frame in (
        {"type": "react", "seq": seq, "emoji": "👍"},
        {"type": "delete", "seq": seq},
        {"type": "hide", "seqs": [seq]},
        {"type": "clear"},
    ):
        error = await ask(c, {**frame, "conversation": conversation, "client_id": new_client_id()})
        assert error["code"] == "not_found", frame
    assert not await database_sync_to_async(HiddenMessage.objects.exists)()


async def test_delete_for_me_is_told_to_the_users_other_tabs_only(alice, bob, open_chat) -> None:
    conversation, seq = await direct_with_message(alice, bob)
    b1, b2, a = await open_chat(bob), await open_chat(bob), await open_chat(alice)
    ack = await ask(b1, {"type": "hide", "conversation": conversation, "seqs": [seq], "client_id": "h"})
    assert ack["hidden"] == {"type": "hidden", "conversation": conversation, "seqs": [seq], "cleared_seq": 0}
    assert (await b2.expect("hidden"))["seqs"] == [seq]
    assert await a.nothing(0.3)
    assert not [f for f in await b1.drain() if f["type"] == "hidden"]  # it has its ack


async def unread_notification_and_bell(alice, bob, open_socket) -> tuple[int, int, Any]:
    """Alice's message to bob with its notification unread, and bob's bell socket showing it."""

    @database_sync_to_async
    def notified_message() -> tuple[int, int]:
        conversation, _ = get_or_create_direct(alice, bob)
        event = create_message(conversation.pk, alice, "psst", new_client_id()).event
        notification_service.notify_new_message(event)
        return conversation.pk, event.seq

    conversation, seq = await notified_message()
    bell = await open_socket(bob, "/ws/notifications/")
    assert bell.connected == {"type": "unread_count", "count": 1}
    return conversation, seq, bell


async def test_hiding_a_message_whose_notification_was_unread_updates_the_bell(
    alice, bob, open_chat, open_socket
) -> None:
    conversation, seq, bell = await unread_notification_and_bell(alice, bob, open_socket)
    b = await open_chat(bob)
    await ask(b, {"type": "hide", "conversation": conversation, "seqs": [seq], "client_id": "h"})
    assert await bell.expect("unread_count") == {"type": "unread_count", "count": 0}


async def test_reading_a_message_whose_notification_was_unread_updates_the_bell(
    alice, bob, open_chat, open_socket
) -> None:
    conversation, seq, bell = await unread_notification_and_bell(alice, bob, open_socket)
    b = await open_chat(bob)
    await b.send({"type": "read", "conversation": conversation, "up_to": seq})
    assert await bell.expect("unread_count") == {"type": "unread_count", "count": 0}


async def test_a_reply_is_acked_with_its_quote(alice, bob, open_chat) -> None:
    conversation, seq = await direct_with_message(alice, bob, "Lunch?")
    b = await open_chat(bob)
    ack = await ask(
        b, {"type": "message", "conversation": conversation, "content": "Yes", "reply_to": seq, "client_id": "m"}
    )
    assert ack["event"]["reply_to"] == {"seq": seq, "sender": "alice", "preview": "Lunch?", "deleted": False}
    assert ack["event"]["as_of"] == ack["event"]["seq"]


async def test_an_around_page_over_the_socket(alice, bob, open_chat) -> None:
    conversation, seq = await direct_with_message(alice, bob)
    b = await open_chat(bob)
    page = await ask(b, {"type": "history", "conversation": conversation, "around": seq, "limit": 10})
    assert [e["seq"] for e in page["events"]] == [seq] and page["has_newer"] is False and page["has_more"] is False


async def test_a_member_who_joined_later_gets_a_placeholder_for_an_edit_of_an_older_message(
    alice, bob, carol, open_chat
) -> None:
    @database_sync_to_async
    def setup() -> tuple[int, int]:
        group = make_group(alice, [bob])
        seq = create_message(group, alice, "before carol", new_client_id()).event.seq
        add_members(alice, group, ["carol"], new_client_id(), max_members=10)
        return group, seq

    group, seq = await setup()
    a, c = await open_chat(alice), await open_chat(carol)
    ack = await ask(a, {"type": "edit", "conversation": group, "seq": seq, "content": "changed", "client_id": "e"})
    pushed = await c.expect("event")
    assert pushed["event"]["seq"] == ack["event"]["seq"] and pushed["event"]["hidden"] is True
    assert "changed" not in json.dumps(pushed)


@override_settings(MESSAGING_RATE_LIMIT="3/60s")
async def test_actions_share_the_senders_rate_limit(alice, bob, open_chat) -> None:
    conversation, seq = await direct_with_message(alice, bob)
    b = await open_chat(bob)
    answers = [
        await ask(
            b, {"type": "react", "conversation": conversation, "seq": seq, "emoji": e, "client_id": new_client_id()}
        )
        for e in ("👍", "🎉", "😮", "😢")
    ]
    assert [a["type"] for a in answers] == ["ack", "ack", "ack", "error"]
    assert answers[-1]["code"] == "rate_limited"
    message = await ask(
        b, {"type": "message", "conversation": conversation, "content": "x", "client_id": new_client_id()}
    )
    assert message["code"] == "rate_limited"


# --- HTTP ----------------------------------------------------------------------------


def api(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json")


def test_the_http_api_edits_reacts_hides_and_deletes(alice, bob) -> None:
    conversation, _ = get_or_create_direct(alice, bob)
    seq = create_message(conversation.pk, alice, "v1", new_client_id()).event.seq
    base = f"/messages/api/conversations/{conversation.pk}"
    a, b = api(alice), api(bob)
    edited = post(a, f"{base}/messages/{seq}/edit", {"content": "v2", "client_id": "e"})
    assert edited.status_code == 201 and edited.json()["event"]["kind"] == "edited"
    assert post(a, f"{base}/messages/{seq}/edit", {"content": "v2", "client_id": "e"}).status_code == 200
    assert post(b, f"{base}/messages/{seq}/react", {"emoji": "👍", "client_id": "r"}).status_code == 201
    assert post(b, f"{base}/messages/{seq}/edit", {"content": "x", "client_id": "z"}).json()["code"] == "forbidden"
    versions = a.get(f"{base}/messages/{seq}/edits").json()["versions"]
    assert [v["content"] for v in versions] == ["v1", "v2"]
    around = b.get(f"{base}/history?around={seq}").json()
    [shown] = around["events"]
    assert shown["reactions"][0]["emoji"] == "👍" and shown["content"] == "v2" and around["has_newer"] is False
    hidden = post(b, f"{base}/hide", {"seqs": [seq], "client_id": "h"})
    assert hidden.json()["hidden"] == {"conversation": conversation.pk, "seqs": [seq], "cleared_seq": 0}
    assert post(a, f"{base}/messages/{seq}/delete", {"client_id": "d"}).status_code == 201
    assert post(a, f"{base}/messages/{seq}/react", {"emoji": "👍", "client_id": "q"}).json()["code"] == "not_found"
    assert post(a, f"{base}/clear", {"client_id": "c"}).json()["hidden"]["cleared_seq"] > 0
    reply = post(b, f"{base}/messages", {"content": "re", "client_id": "m2", "reply_to": 999})
    assert (reply.status_code, reply.json()["code"]) == (404, "not_found")


async def test_an_edit_over_http_is_pushed_to_the_conversations_sockets(alice, bob, open_chat) -> None:
    conversation, seq = await direct_with_message(alice, bob, "helo")
    b = await open_chat(bob)
    url = f"/messages/api/conversations/{conversation}/messages/{seq}/edit"
    edited = await database_sync_to_async(lambda: post(api(alice), url, {"content": "hello", "client_id": "e"}))()
    assert edited.status_code == 201
    assert (await b.expect("event"))["event"] == edited.json()["event"]


def test_an_edit_over_http_notifies_the_members_it_newly_mentions(alice, bob, carol) -> None:
    group = make_group(alice, [bob, carol])
    seq = create_message(group, alice, "lunch?", new_client_id()).event.seq
    url = f"/messages/api/conversations/{group}/messages/{seq}/edit"
    assert post(api(alice), url, {"content": "lunch @carol?", "client_id": "e"}).status_code == 201
    mentions = Notification.objects.filter(kind=NotificationKind.MENTION)
    assert list(mentions.values_list("user__username", "body")) == [("carol", "alice: lunch @carol?")]


# --- A change whose notifications fail: stored, answered, and the failure recorded ------------------


def database_locked(*args: Any, **kwargs: Any) -> Any:
    """A notification store that fails as SQLite does under a held write lock (an injected fault)."""
    raise OperationalError("database is locked")


def notification_failures() -> list[MessagingError]:
    return list(MessagingError.objects.filter(message__startswith="could not make the notifications"))


def test_an_edit_over_http_whose_notifications_fail_is_stored_answered_and_the_failure_recorded(
    alice, bob, monkeypatch
) -> None:
    monkeypatch.setattr(notification_service, "store_mention_notifications", database_locked)
    conversation, _ = get_or_create_direct(alice, bob)
    seq = create_message(conversation.pk, alice, "helo", new_client_id()).event.seq
    url = f"/messages/api/conversations/{conversation.pk}/messages/{seq}/edit"
    edited = post(api(alice), url, {"content": "hello", "client_id": "e"})
    assert edited.status_code == 201 and edited.json()["event"]["content"] == "hello"
    event = Event.objects.get(conversation=conversation, seq=edited.json()["event"]["seq"])
    [failure] = notification_failures()
    assert (failure.category, failure.user, failure.message) == (
        "database_error",
        alice,
        "could not make the notifications of an event of kind edited",
    )
    assert (failure.context["event"], failure.context["conversation"]) == (event.pk, conversation.pk)
    assert failure.context["exception"] == "OperationalError: database is locked"


async def test_a_reaction_over_the_socket_whose_notification_fails_is_acked_and_the_failure_recorded(
    alice, bob, open_chat, monkeypatch
) -> None:
    monkeypatch.setattr(notification_service, "store_reaction_notification", database_locked)
    conversation, seq = await direct_with_message(alice, bob, "lunch?")
    b = await open_chat(bob)
    ack = await ask(b, {"type": "react", "conversation": conversation, "seq": seq, "emoji": "👍", "client_id": "r1"})
    assert ack["type"] == "ack" and ack["event"]["kind"] == "reaction_added"
    await settle_notifications()
    event = await database_sync_to_async(Event.objects.get)(conversation_id=conversation, seq=ack["event"]["seq"])
    [failure] = await database_sync_to_async(notification_failures)()
    assert (failure.category, failure.user_id, failure.message) == (
        "database_error",
        bob.pk,
        "could not make the notifications of an event of kind reaction_added",
    )
    assert (failure.context["event"], failure.context["conversation"]) == (event.pk, conversation)
    assert failure.context["exception"] == "OperationalError: database is locked"


# --- The store's refusals, each its whole error frame (messaging/actions/errors.py's wire_error) ---


async def refused(socket: Socket, frame: dict[str, Any]) -> dict[str, Any]:
    """Send ``frame`` (with a ref of its own) and return the error frame answering it."""
    await socket.send({**frame, "ref": "refused"})
    return await socket.expect("error", ref="refused")


@override_settings(MESSAGING_MAX_REACTIONS=1)
async def test_a_reaction_past_the_limit_is_too_many_reactions_naming_the_limit(alice, bob, open_chat) -> None:
    conversation, seq = await direct_with_message(alice, bob)
    a = await open_chat(alice)
    react = {"type": "react", "conversation": conversation, "seq": seq}
    assert (await ask(a, {**react, "emoji": "👍", "client_id": "r1"}))["type"] == "ack"
    error = await refused(a, {**react, "emoji": "🎉", "client_id": "r2"})
    assert error == {
        "type": "error",
        "code": "too_many_reactions",
        "detail": "a message has at most 1 different reactions",
        "limit": 1,
        "setting": "MESSAGING_MAX_REACTIONS",
        "client_id": "r2",
        "ref": "refused",
    }
    assert await database_sync_to_async(Reaction.objects.count)() == 1


@override_settings(MESSAGING_EDIT_WINDOW="0")
async def test_an_edit_past_its_window_is_edit_window_closed_with_the_stores_reason(alice, bob, open_chat) -> None:
    conversation, seq = await direct_with_message(alice, bob)
    a = await open_chat(alice)
    error = await refused(
        a, {"type": "edit", "conversation": conversation, "seq": seq, "content": "x", "client_id": "e"}
    )
    assert error == {
        "type": "error",
        "code": "edit_window_closed",
        "detail": "this message can no longer be edited",
        "client_id": "e",
        "ref": "refused",
    }


@override_settings(MESSAGING_DELETE_WINDOW="0")
async def test_a_deletion_past_its_window_is_delete_window_closed_with_the_stores_reason(alice, bob, open_chat) -> None:
    conversation, seq = await direct_with_message(alice, bob)
    a = await open_chat(alice)
    error = await refused(a, {"type": "delete", "conversation": conversation, "seq": seq, "client_id": "d"})
    assert error == {
        "type": "error",
        "code": "delete_window_closed",
        "detail": "this message can no longer be deleted for everyone; delete it for yourself instead",
        "client_id": "d",
        "ref": "refused",
    }
    assert await database_sync_to_async(Event.objects.count)() == 1


async def test_an_action_on_a_conversation_of_someone_elses_is_not_found_naming_the_conversation(
    alice, bob, carol, open_chat
) -> None:
    conversation, seq = await direct_with_message(alice, bob)
    c = await open_chat(carol)
    error = await refused(
        c, {"type": "react", "conversation": conversation, "seq": seq, "emoji": "👍", "client_id": "n"}
    )
    assert error == {
        "type": "error",
        "code": "not_found",
        "detail": f"there is no conversation {conversation} of yours",
        "client_id": "n",
        "ref": "refused",
    }


async def test_a_client_id_reused_for_another_event_is_an_invalid_frame_saying_so(alice, bob, open_chat) -> None:
    conversation, seq = await direct_with_message(alice, bob)
    a = await open_chat(alice)
    assert (await ask(a, {"type": "react", "conversation": conversation, "seq": seq, "emoji": "👍", "client_id": "c"}))[
        "type"
    ] == "ack"
    error = await refused(
        a, {"type": "edit", "conversation": conversation, "seq": seq, "content": "x", "client_id": "c"}
    )
    assert error == {
        "type": "error",
        "code": "invalid_frame",
        "detail": "this client_id was already used for another event",
        "client_id": "c",
        "ref": "refused",
    }


@override_settings(MESSAGING_MAX_FILES_PER_MESSAGE=2)
async def test_a_message_with_more_files_than_allowed_is_too_many_files_naming_the_limit(alice, bob, open_chat) -> None:
    conversation, _ = await direct_with_message(alice, bob)
    a = await open_chat(alice)
    error = await refused(
        a,
        {"type": "message", "conversation": conversation, "content": "x", "attachments": [1, 2, 3], "client_id": "f"},
    )
    assert error == {
        "type": "error",
        "code": "too_many_files",
        "detail": "a message carries at most 2 files",
        "limit": 2,
        "setting": "MESSAGING_MAX_FILES_PER_MESSAGE",
        "client_id": "f",
        "ref": "refused",
    }
    assert await database_sync_to_async(Event.objects.count)() == 1


async def test_a_mention_sent_over_the_socket_notifies_a_member_who_muted_the_group(
    alice, bob, carol, open_chat
) -> None:
    from messaging.connection_validator import FOREVER
    from messaging.store.conversations import mute

    @database_sync_to_async
    def muted_group() -> int:
        group = make_group(alice, [bob, carol])
        mute(bob.pk, group, FOREVER)
        mute(carol.pk, group, FOREVER)
        return group

    group = await muted_group()
    a = await open_chat(alice)
    ack = await ask(a, {"type": "message", "conversation": group, "content": "@bob bring the map?", "client_id": "m"})
    assert ack["type"] == "ack"
    await settle_notifications()
    mentions = await database_sync_to_async(lambda: list(Notification.objects.values_list("user__username", "kind")))()
    assert mentions == [("bob", "mention")]
