"""Who may do what to a conversation on ``ws/chat/``: membership, windows, cursors, the size limit, roles.

A frame about a conversation the user was never in is ``not_found`` (its
existence is not revealed); one that acts on a conversation they left or were
removed from is ``forbidden``; neither changes anything. Reading what one
could see still works after leaving. Cursors are clamped into the member's
window. Group changes follow the roles of the contract's group rules.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from messaging.models import Conversation, Event, EventKind, Participant
from messaging.pubsub import conversation_group
from messaging.store import conversations

from .groups import database_state, make_group, new_client_id
from .support import Socket

pytestmark = pytest.mark.django_db(transaction=True)

OpenChat = Callable[[Any], Awaitable[Socket]]
_refs = itertools.count(1)


@pytest.fixture
def open_chat(open_socket: Callable[..., Awaitable[Socket]]) -> OpenChat:
    """``await open_chat(alice)``: a ``ws/chat/`` socket past its ``connected`` frame."""

    async def open_(user: Any) -> Socket:
        socket = await open_socket(user, "/ws/chat/")
        assert socket.connected["type"] == "connected"
        return socket

    return open_


@pytest.fixture
def dave(transactional_db: None, make_user: Callable[[str], Any]) -> Any:
    return make_user("dave")


@pytest.fixture
def erin(transactional_db: None, make_user: Callable[[str], Any]) -> Any:
    return make_user("erin")


@pytest.fixture
def group(alice: Any, bob: Any, carol: Any) -> int:
    """alice (owner), bob and carol; seq 1 is ``created``."""
    return make_group(alice, [bob, carol])


def send_message(user: Any, conversation_id: int, content: str = "hi") -> int:
    """A message stored through the store (no socket involved); its seq."""
    from messaging.store.events import create_message

    return create_message(conversation_id, user, content, new_client_id()).event.seq


def frame_for(kind: str, conversation_id: int) -> dict[str, Any]:
    """A well-formed frame of ``kind`` about ``conversation_id``."""
    frames: dict[str, dict[str, Any]] = {
        "message": {"content": "hello", "client_id": new_client_id()},
        "read": {"up_to": 1},
        "received": {"up_to": 1},
        "typing": {"is_typing": True},
        "sync": {"after": 0},
        "history": {"before": None},
        "members": {},
        "add_members": {"users": ["erin"], "client_id": new_client_id()},
        "remove_member": {"user": "bob", "client_id": new_client_id()},
        "leave": {"client_id": new_client_id()},
        "rename": {"title": "Renamed", "client_id": new_client_id()},
        "set_role": {"user": "bob", "role": "admin", "client_id": new_client_id()},
        "mute": {"until": None, "forever": True},
        "view": {},
    }
    return {"type": kind, "conversation": conversation_id, **frames[kind]}


async def ask(socket: Socket, frame: dict[str, Any]) -> dict[str, Any]:
    """Send ``frame`` with a fresh ``ref``; the first frame answering it (its answer or its error)."""
    ref = next(_refs)
    await socket.send({**frame, "ref": ref})
    return await socket.expect_where(lambda f: f.get("ref") == ref)


async def receipt_of(socket: Socket, username: str) -> dict[str, Any]:
    """The next ``receipts`` push naming ``username``: that member's entry."""
    frame = await socket.expect_where(
        lambda f: f["type"] == "receipts" and any(r["user"] == username for r in f["receipts"])
    )
    return next(r for r in frame["receipts"] if r["user"] == username)


async def state() -> Any:
    return await database_sync_to_async(database_state)()


async def settled_state() -> Any:
    """The database once a receipt report (stored after a short coalescing delay) would have landed."""
    await asyncio.sleep(0.15)
    return await state()


def db(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Awaitable[Any]:
    return database_sync_to_async(function)(*args, **kwargs)


def member_row(username: str, conversation_id: int) -> dict[str, Any]:
    return Participant.objects.filter(user__username=username, conversation_id=conversation_id).values().get()


# --- Never a member: not_found, nothing changed -------------------------------------------------

EVERY_CONVERSATION_FRAME = [
    "message",
    "read",
    "received",
    "typing",
    "sync",
    "history",
    "members",
    "add_members",
    "remove_member",
    "leave",
    "rename",
    "set_role",
    "mute",
    "view",
]


@pytest.mark.parametrize("kind", EVERY_CONVERSATION_FRAME)
async def test_a_frame_about_a_conversation_never_joined_is_not_found_and_changes_nothing(
    kind: str, group: int, dave: Any, erin: Any, open_chat: OpenChat
) -> None:
    outsider = await open_chat(dave)
    before = await state()
    answer = await ask(outsider, frame_for(kind, group))
    assert answer["type"] == "error" and answer["code"] == "not_found", answer
    assert await settled_state() == before


@pytest.mark.parametrize("kind", EVERY_CONVERSATION_FRAME)
async def test_a_conversation_never_joined_is_refused_as_if_it_did_not_exist(
    kind: str, group: int, dave: Any, erin: Any, open_chat: OpenChat
) -> None:
    """The error names no difference between someone else's conversation and no conversation at all."""
    outsider = await open_chat(dave)
    missing = group + 1000
    theirs = await ask(outsider, frame_for(kind, group))
    nowhere = await ask(outsider, frame_for(kind, missing))
    assert (theirs["code"], theirs["detail"].replace(str(group), "N")) == (
        nowhere["code"],
        nowhere["detail"].replace(str(missing), "N"),
    )


# --- A former member: forbidden to act, nothing changed; reading their window still works ------

ACTING_FRAMES = ["message", "typing", "add_members", "remove_member", "leave", "rename", "set_role", "mute", "view"]


async def make_former(how: str, group: int, alice: Any, carol: Any) -> None:
    if how == "left":
        await db(conversations.leave, carol, group, new_client_id())
    else:
        await db(conversations.remove_member, alice, group, "carol", new_client_id())


@pytest.mark.parametrize("how", ["left", "removed"])
@pytest.mark.parametrize("kind", ACTING_FRAMES)
async def test_an_acting_frame_of_a_former_member_is_forbidden_and_changes_nothing(
    kind: str, how: str, group: int, alice: Any, carol: Any, erin: Any, open_chat: OpenChat
) -> None:
    await make_former(how, group, alice, carol)
    former = await open_chat(carol)
    before = await state()
    answer = await ask(former, frame_for(kind, group))
    assert answer["type"] == "error" and answer["code"] == "forbidden", answer
    assert await settled_state() == before


@pytest.mark.parametrize("how", ["left", "removed"])
async def test_a_former_member_still_syncs_exactly_the_events_of_their_window(
    how: str, group: int, alice: Any, bob: Any, carol: Any, open_chat: OpenChat
) -> None:
    await db(send_message, bob, group, "before")
    await make_former(how, group, alice, carol)
    await db(send_message, bob, group, "after")
    left_seq = (await db(member_row, "carol", group))["left_seq"]
    former = await open_chat(carol)
    answer = await ask(former, {"type": "sync", "conversation": group, "after": 0})
    assert [e["seq"] for e in answer["events"]] == list(range(1, left_seq + 1))
    assert answer["events"][-1]["kind"] in (EventKind.MEMBER_LEFT, EventKind.MEMBER_REMOVED)


@pytest.mark.parametrize("how", ["left", "removed"])
async def test_a_former_member_still_reads_the_history_of_their_window_only(
    how: str, group: int, alice: Any, bob: Any, carol: Any, open_chat: OpenChat
) -> None:
    await db(send_message, bob, group, "before")
    await make_former(how, group, alice, carol)
    await db(send_message, bob, group, "after")
    left_seq = (await db(member_row, "carol", group))["left_seq"]
    former = await open_chat(carol)
    answer = await ask(former, {"type": "history", "conversation": group, "before": None})
    assert [e["seq"] for e in answer["events"]] == list(range(left_seq, 0, -1))


@pytest.mark.parametrize("how", ["left", "removed"])
async def test_a_former_member_resumes_exactly_the_events_of_their_window(
    how: str, group: int, alice: Any, bob: Any, carol: Any, open_chat: OpenChat
) -> None:
    await db(send_message, bob, group, "before")
    await make_former(how, group, alice, carol)
    await db(send_message, bob, group, "after")
    left_seq = (await db(member_row, "carol", group))["left_seq"]
    former = await open_chat(carol)
    answer = await ask(former, {"type": "resume", "cursors": {str(group): 0}})
    [entry] = answer["conversations"]
    assert [e["seq"] for e in entry["events"]] == list(range(1, left_seq + 1))
    assert (entry["left_seq"], entry["last_seq"]) == (left_seq, left_seq)


async def test_a_former_member_learns_nothing_of_who_joined_after_they_left(
    group: int, alice: Any, carol: Any, erin: Any, open_chat: OpenChat
) -> None:
    """Neither the receipts of a sync or resume nor the member list name someone added after the leave."""
    await make_former("left", group, alice, carol)
    await db(conversations.add_members, alice, group, ["erin"], new_client_id(), max_members=256)
    former = await open_chat(carol)
    synced = await ask(former, {"type": "sync", "conversation": group, "after": 0})
    resumed = await ask(former, {"type": "resume", "cursors": {str(group): 0}})
    members = await ask(former, {"type": "members", "conversation": group})
    named = {r["user"] for r in synced["receipts"]} | {r["user"] for r in resumed["conversations"][0]["receipts"]}
    named |= {m["username"] for m in members.get("members", [])}
    assert "erin" not in named


async def test_a_former_member_sees_no_cursor_past_their_leave(
    group: int, alice: Any, bob: Any, carol: Any, open_chat: OpenChat
) -> None:
    """Cursors of others moving after the leave would tell a former member the log went on."""
    await make_former("left", group, alice, carol)
    latest = await db(send_message, alice, group, "after")
    await db(conversations.rename, bob, group, "Later", new_client_id())
    bob_socket = await open_chat(bob)
    await bob_socket.send({"type": "read", "conversation": group, "up_to": latest + 1})
    await receipt_of(bob_socket, "bob")
    left_seq = (await db(member_row, "carol", group))["left_seq"]
    former = await open_chat(carol)
    synced = await ask(former, {"type": "sync", "conversation": group, "after": 0})
    resumed = await ask(former, {"type": "resume", "cursors": {str(group): 0}})
    receipts = synced["receipts"] + resumed["conversations"][0]["receipts"]
    assert receipts and all(r["delivered_seq"] <= left_seq and r["read_seq"] <= left_seq for r in receipts)


# --- A removed member's open socket ---------------------------------------------------------------


async def test_a_removed_members_open_socket_gets_the_removal_event_and_nothing_after_it(
    group: int, alice: Any, bob: Any, carol: Any, open_chat: OpenChat
) -> None:
    owner, other, removed = await open_chat(alice), await open_chat(bob), await open_chat(carol)
    answer = await ask(owner, {"type": "remove_member", "conversation": group, "user": "carol", "client_id": "rm-1"})
    removal = answer["event"]
    pushed = await removed.expect("event")
    assert pushed["event"]["seq"] == removal["seq"] and pushed["event"]["kind"] == "member_removed"
    notice = await removed.expect("conversation")
    assert notice["conversation"]["left_seq"] == removal["seq"]

    # Everything that happens next in the group, on the socket that stayed open.
    sent = await ask(owner, {"type": "message", "conversation": group, "content": "after", "client_id": "m-1"})
    await other.send({"type": "typing", "conversation": group, "is_typing": True})
    await other.send({"type": "read", "conversation": group, "up_to": sent["event"]["seq"]})
    await receipt_of(owner, "bob")
    await ask(other, {"type": "rename", "conversation": group, "title": "Without carol", "client_id": "rn-1"})
    assert await removed.drain(timeout=0.3) == []


async def test_a_removed_members_socket_leaves_the_conversations_channel_layer_group(
    group: int, alice: Any, bob: Any, carol: Any, open_chat: OpenChat
) -> None:
    # Not only filtered out when they arrive: what the layer sends to the group no longer reaches it.
    owner, other, removed = await open_chat(alice), await open_chat(bob), await open_chat(carol)
    await ask(owner, {"type": "remove_member", "conversation": group, "user": "carol", "client_id": "rm-1"})
    await removed.expect("conversation")
    # a frame the consumers forward as it is (user_muted: any text, from another socket)
    text = json.dumps({"type": "muted", "conversation": group, "until": None})
    await get_channel_layer().group_send(conversation_group(group), {"type": "user_muted", "text": text})
    assert (await other.expect("muted")) == {"type": "muted", "conversation": group, "until": None}
    assert await removed.drain(timeout=0.3) == []


async def test_a_member_removed_then_added_back_gets_the_groups_messages_live_again_on_the_same_socket(
    group: int, alice: Any, bob: Any, carol: Any, open_chat: OpenChat
) -> None:
    owner, member = await open_chat(alice), await open_chat(carol)
    await ask(owner, {"type": "remove_member", "conversation": group, "user": "carol", "client_id": "rm-1"})
    await member.expect_where(lambda f: f["type"] == "conversation" and f["conversation"]["left_seq"] is not None)
    await ask(owner, {"type": "add_members", "conversation": group, "users": ["carol"], "client_id": "add-1"})
    await member.expect_where(lambda f: f["type"] == "conversation" and f["conversation"]["left_seq"] is None)
    sent = await ask(owner, {"type": "message", "conversation": group, "content": "welcome back", "client_id": "m-1"})
    pushed = await member.expect_where(lambda f: f["type"] == "event" and f["event"]["kind"] == "message")
    assert (pushed["event"]["seq"], pushed["event"]["content"]) == (sent["event"]["seq"], "welcome back")


# --- Cursors are clamped into the window --------------------------------------------------------


@pytest.mark.parametrize("frame_type", ["read", "received"])
async def test_a_cursor_past_the_log_end_is_stored_as_the_log_end(
    frame_type: str, group: int, alice: Any, bob: Any, open_chat: OpenChat
) -> None:
    last = await db(send_message, alice, group)
    reader = await open_chat(bob)
    await reader.send({"type": frame_type, "conversation": group, "up_to": 10**9})
    receipt = await receipt_of(reader, "bob")
    row = await db(member_row, "bob", group)
    moved = "read_seq" if frame_type == "read" else "delivered_seq"
    assert receipt[moved] == row[moved] == last


async def test_a_former_members_cursor_is_stored_as_their_left_seq(
    group: int, alice: Any, carol: Any, open_chat: OpenChat
) -> None:
    await make_former("removed", group, alice, carol)
    await db(send_message, alice, group, "after")
    left_seq = (await db(member_row, "carol", group))["left_seq"]
    former = await open_chat(carol)
    await former.send({"type": "read", "conversation": group, "up_to": 10**9})
    await asyncio.sleep(0.15)
    row = await db(member_row, "carol", group)
    assert (row["delivered_seq"], row["read_seq"]) == (left_seq, left_seq)


async def test_a_cursor_before_the_members_join_changes_nothing(
    group: int, alice: Any, bob: Any, erin: Any, open_chat: OpenChat
) -> None:
    for _ in range(3):
        await db(send_message, bob, group)
    await db(conversations.add_members, alice, group, ["erin"], new_client_id(), max_members=256)
    joined = await db(member_row, "erin", group)
    newcomer = await open_chat(erin)
    before = await state()
    await newcomer.send({"type": "read", "conversation": group, "up_to": joined["joined_seq"] - 1})
    assert await settled_state() == before


async def test_a_resume_cursor_past_the_log_end_returns_nothing_and_stores_nothing(
    group: int, bob: Any, open_chat: OpenChat
) -> None:
    member = await open_chat(bob)
    before = await state()
    answer = await ask(member, {"type": "resume", "cursors": {str(group): 10**9}})
    [entry] = answer["conversations"]
    assert (entry["events"], entry["has_more"]) == ([], False)
    assert await settled_state() == before


async def test_a_resume_cursor_before_the_members_join_starts_at_the_join(
    group: int, alice: Any, bob: Any, erin: Any, open_chat: OpenChat
) -> None:
    await db(send_message, bob, group, "before erin")
    await db(conversations.add_members, alice, group, ["erin"], new_client_id(), max_members=256)
    await db(send_message, bob, group, "after erin")
    joined_seq = (await db(member_row, "erin", group))["joined_seq"]
    newcomer = await open_chat(erin)
    answer = await ask(newcomer, {"type": "resume", "cursors": {str(group): 0}})
    [entry] = answer["conversations"]
    assert [e["seq"] for e in entry["events"]] == [joined_seq, joined_seq + 1]


# --- The group size limit -----------------------------------------------------------------------


@pytest.fixture
def three_at_most(settings: Any) -> int:
    settings.MESSAGING_MAX_GROUP_MEMBERS = 3
    return 3


@pytest.mark.parametrize("others", [3, 4])
async def test_creating_a_group_over_the_size_limit_is_too_many_members_and_stores_nothing(
    others: int, three_at_most: int, alice: Any, bob: Any, carol: Any, dave: Any, erin: Any, open_chat: OpenChat
) -> None:
    creator = await open_chat(alice)
    before = await state()
    names = ["bob", "carol", "dave", "erin"][:others]
    answer = await ask(creator, {"type": "create_group", "title": "Big", "members": names, "client_id": "big"})
    assert (answer["type"], answer["code"], answer.get("limit")) == ("error", "too_many_members", three_at_most)
    assert await settled_state() == before


async def test_adding_members_over_the_size_limit_is_too_many_members_and_stores_nothing(
    three_at_most: int, alice: Any, bob: Any, carol: Any, dave: Any, open_chat: OpenChat
) -> None:
    group = await db(make_group, alice, [bob, carol], max_members=three_at_most)
    owner = await open_chat(alice)
    before = await state()
    answer = await ask(owner, {"type": "add_members", "conversation": group, "users": ["dave"], "client_id": "add"})
    assert (answer["type"], answer["code"]) == ("error", "too_many_members")
    assert await settled_state() == before


# --- Roles ----------------------------------------------------------------------------------


async def make_admin(group: int, owner: Any, username: str) -> None:
    await db(conversations.set_role, owner, group, username, "admin", new_client_id())


def roles(conversation_id: int) -> dict[str, str]:
    return dict(
        Participant.objects.filter(conversation_id=conversation_id, left_seq__isnull=True).values_list(
            "user__username", "role"
        )
    )


async def test_a_plain_member_may_not_add_members(group: int, bob: Any, erin: Any, open_chat: OpenChat) -> None:
    member = await open_chat(bob)
    before = await state()
    answer = await ask(member, frame_for("add_members", group))
    assert answer["code"] == "forbidden"
    assert await state() == before


async def test_a_plain_member_may_not_remove_members(group: int, bob: Any, open_chat: OpenChat) -> None:
    member = await open_chat(bob)
    before = await state()
    answer = await ask(member, {"type": "remove_member", "conversation": group, "user": "carol", "client_id": "x"})
    assert answer["code"] == "forbidden"
    assert await state() == before


async def test_an_admin_adds_and_removes_plain_members(
    group: int, alice: Any, bob: Any, erin: Any, open_chat: OpenChat
) -> None:
    await make_admin(group, alice, "bob")
    admin = await open_chat(bob)
    added = await ask(admin, {"type": "add_members", "conversation": group, "users": ["erin"], "client_id": "a"})
    removed = await ask(admin, {"type": "remove_member", "conversation": group, "user": "carol", "client_id": "r"})
    assert (added["event"]["kind"], removed["event"]["kind"]) == ("members_added", "member_removed")
    assert set(await db(roles, group)) == {"alice", "bob", "erin"}


async def test_an_admin_may_not_remove_another_admin(
    group: int, alice: Any, bob: Any, carol: Any, open_chat: OpenChat
) -> None:
    await make_admin(group, alice, "bob")
    await make_admin(group, alice, "carol")
    admin = await open_chat(bob)
    before = await state()
    answer = await ask(admin, {"type": "remove_member", "conversation": group, "user": "carol", "client_id": "x"})
    assert answer["code"] == "forbidden"
    assert await state() == before


async def test_an_admin_may_not_remove_the_owner(group: int, alice: Any, bob: Any, open_chat: OpenChat) -> None:
    await make_admin(group, alice, "bob")
    admin = await open_chat(bob)
    before = await state()
    answer = await ask(admin, {"type": "remove_member", "conversation": group, "user": "alice", "client_id": "x"})
    assert answer["code"] == "forbidden"
    assert await state() == before


async def test_the_owner_removes_an_admin(group: int, alice: Any, bob: Any, open_chat: OpenChat) -> None:
    await make_admin(group, alice, "bob")
    owner = await open_chat(alice)
    answer = await ask(owner, {"type": "remove_member", "conversation": group, "user": "bob", "client_id": "r"})
    assert answer["event"]["data"] == {"user": "bob"}
    assert "bob" not in await db(roles, group)


async def test_only_the_owner_sets_roles(group: int, alice: Any, bob: Any, open_chat: OpenChat) -> None:
    await make_admin(group, alice, "bob")
    admin = await open_chat(bob)
    before = await state()
    answer = await ask(
        admin, {"type": "set_role", "conversation": group, "user": "carol", "role": "admin", "client_id": "x"}
    )
    assert answer["code"] == "forbidden"
    assert await state() == before


async def test_an_owner_who_leaves_hands_the_group_to_the_oldest_admin(
    group: int, alice: Any, bob: Any, carol: Any, erin: Any, open_chat: OpenChat
) -> None:
    await db(conversations.add_members, alice, group, ["erin"], new_client_id(), max_members=256)
    await make_admin(group, alice, "erin")
    await make_admin(group, alice, "carol")
    owner = await open_chat(alice)
    answer = await ask(owner, {"type": "leave", "conversation": group, "client_id": "bye"})
    # carol joined at the creation, erin later: carol is the older admin.
    assert answer["event"]["data"] == {"new_owner": "carol"}
    assert await db(roles, group) == {"bob": "member", "carol": "owner", "erin": "admin"}


async def test_an_owner_who_leaves_without_admins_hands_the_group_to_the_oldest_member(
    alice: Any, bob: Any, carol: Any, erin: Any, open_chat: OpenChat
) -> None:
    group = await db(make_group, alice, [erin, carol])
    owner = await open_chat(alice)
    answer = await ask(owner, {"type": "leave", "conversation": group, "client_id": "bye"})
    # Both joined with the group: the first named at creation is the oldest.
    assert answer["event"]["data"] == {"new_owner": "erin"}
    assert await db(roles, group) == {"erin": "owner", "carol": "member"}


@pytest.mark.parametrize("kind", ["add_members", "remove_member", "leave", "rename", "set_role"])
async def test_membership_changes_to_a_direct_conversation_are_forbidden(
    kind: str, alice: Any, bob: Any, erin: Any, open_chat: OpenChat
) -> None:
    direct = await db(lambda: conversations.get_or_create_direct(alice, bob)[0].pk)
    member = await open_chat(alice)
    before = await state()
    answer = await ask(member, frame_for(kind, direct))
    assert answer["code"] == "forbidden"
    assert await state() == before


def test_database_state_sees_a_changed_cursor(group: int, bob: Any) -> None:
    """The helper the "changes nothing" tests rest on notices a moved cursor (so those tests can fail)."""
    before = database_state()
    Participant.objects.filter(conversation_id=group, user=bob).update(delivered_seq=1, read_seq=1)
    Event.objects.filter(conversation_id=group).update(content="x")
    Conversation.objects.filter(pk=group).update(title="y")
    assert database_state() != before


# --- roles: one group's membership, once per client_id --------------------------------------


def test_a_role_is_set_on_that_groups_membership_only(alice, bob, carol) -> None:
    earlier = make_group(alice, [carol], title="Earlier")  # carol's older membership row
    group = make_group(alice, [bob, carol])
    conversations.set_role(alice, group, "carol", "admin", new_client_id())
    roles = dict(Participant.objects.filter(user=carol).values_list("conversation_id", "role"))
    assert roles == {earlier: "member", group: "admin"}


def test_a_former_member_gets_no_role(alice, bob, carol) -> None:
    from messaging.store import errors

    group = make_group(alice, [bob, carol])
    conversations.remove_member(alice, group, "carol", new_client_id())
    with pytest.raises(errors.NotFound):
        conversations.set_role(alice, group, "carol", "admin", new_client_id())


def test_a_repeated_role_change_with_the_same_client_id_is_the_first_one(alice, bob) -> None:
    group = make_group(alice, [bob])
    first = conversations.set_role(alice, group, "bob", "admin", "role-once")
    again = conversations.set_role(alice, group, "bob", "admin", "role-once")
    assert first.appended.created and not again.appended.created
    assert again.appended.event.pk == first.appended.event.pk
