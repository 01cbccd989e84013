"""Read receipts on/off (WhatsApp's rule): off, others never see how far you read and you never see theirs.

Delivery stays visible both ways. The rule lives in one place
(``messaging.store.read_privacy``) and every way a viewer learns other
members' cursors follows it: ``sync``/``resume``/``members`` answers,
``receipts`` pushes and the ``connected`` frame's own setting; a push and a
later ``sync`` agree.
"""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from messaging.store import conversations, reading
from messaging.store.preferences import save_settings

from .cursors import deliver, direct, read, send
from .test_user_socket import direct_between, expect_receipt
from .test_user_socket import send as send_over

pytestmark = pytest.mark.django_db(transaction=True)


def bob_in(receipts: list[Any]) -> tuple[int, int]:
    [r] = [r for r in receipts if r.username == "bob"]
    return r.delivered_seq, r.read_seq


def alice_in(receipts: list[Any]) -> tuple[int, int]:
    [r] = [r for r in receipts if r.username == "alice"]
    return r.delivered_seq, r.read_seq


# --- The answers (store) --------------------------------------------------------------------


def test_with_receipts_off_a_viewer_sees_nobodys_read_position_but_every_delivery(alice, bob) -> None:
    conversation = direct(alice, bob)
    for _ in range(3):
        send(conversation, alice)
    read(conversation, bob, 2)
    deliver(conversation, bob, 3)
    assert bob_in(reading.sync_page(alice.pk, conversation.pk, 0, 10).receipts) == (3, 2)
    save_settings(alice.pk, read_receipts=False)
    assert bob_in(reading.sync_page(alice.pk, conversation.pk, 0, 10).receipts) == (3, 0)
    [resumed] = reading.resume(alice, {conversation.pk: 0}, 10, 30.0)
    assert bob_in(resumed.receipts) == (3, 0)
    assert bob_in(reading.peer_receipts(alice.pk, conversation.pk)) == (3, 0)


def test_with_receipts_off_nobody_sees_the_users_own_read_position_but_they_see_their_own(alice, bob) -> None:
    conversation = direct(alice, bob)
    send(conversation, bob)
    send(conversation, bob)
    read(conversation, alice, 2)
    save_settings(alice.pk, read_receipts=False)
    assert alice_in(reading.sync_page(bob.pk, conversation.pk, 0, 10).receipts) == (2, 0)
    own = conversations.member_of(alice.pk, conversation.pk)
    assert (own.delivered_seq, own.read_seq) == (2, 2)
    assert conversations.summary_of(alice, conversation.pk).unread == 0


def test_in_a_group_members_show_a_hidden_read_position_as_their_join(alice, bob, carol) -> None:
    group = conversations.create_group(alice, "Trip", ["bob"], "g1", max_members=10).conversation
    conversations.add_members(alice, group.pk, ["carol"], "add-carol", max_members=10)
    for _ in range(2):
        send(group, alice)
    read(group, carol, 100)
    read(group, bob, 100)
    save_settings(carol.pk, read_receipts=False)
    joined = {m.username: m.joined_seq for m in reading.members(alice.pk, group.pk, 30.0)}
    assert joined["carol"] > joined["bob"]
    seen_by_alice = {m.username: (m.delivered_seq, m.read_seq) for m in reading.members(alice.pk, group.pk, 30.0)}
    assert seen_by_alice["carol"] == (4, joined["carol"]) and seen_by_alice["bob"] == (4, 4)
    seen_by_carol = {m.username: m.read_seq for m in reading.members(carol.pk, group.pk, 30.0)}
    assert seen_by_carol == {"alice": joined["alice"], "bob": joined["bob"], "carol": 4}


def test_the_first_contracts_history_shows_a_read_message_as_delivered_to_a_user_with_receipts_off(alice, bob) -> None:
    conversation = direct(alice, bob)
    send(conversation, alice)
    read(conversation, bob, 1)
    client = Client()
    client.force_login(alice)
    [shown] = client.get("/messages/api/bob/history").json()["messages"]
    assert shown["status"] == "read"
    save_settings(alice.pk, read_receipts=False)
    [shown] = client.get("/messages/api/bob/history").json()["messages"]
    assert (shown["status"], shown["read_at"]) == ("delivered", None)


# --- Pushes, the connected frame, and agreement with sync -------------------------------------------


async def turn_receipts(user: Any, on: bool) -> dict[str, Any]:
    def post() -> Any:
        client = Client()
        client.force_login(user)
        data = {"section": "receipts", "user": "someone-else", **({"read_receipts": "on"} if on else {})}
        return client.post("/settings/", data, HTTP_ACCEPT="application/json")

    answer = await database_sync_to_async(post)()
    assert answer.status_code == 200
    return answer.json()["settings"]


async def sync_receipts(socket: Any, conversation: int, ref: str) -> list[dict[str, Any]]:
    await socket.send({"type": "sync", "conversation": conversation, "after": 0, "limit": 100, "ref": ref})
    return (await socket.expect("sync", ref=ref))["receipts"]


async def test_a_viewer_with_receipts_off_is_pushed_deliveries_only_and_sync_agrees(alice, bob, user_socket) -> None:
    conversation = await direct_between(alice, bob)
    await database_sync_to_async(save_settings)(alice.pk, read_receipts=False)
    alice_socket, bob_socket = await user_socket(alice), await user_socket(bob)
    assert alice_socket.connected["read_receipts"] is False and bob_socket.connected["read_receipts"] is True
    for i in range(3):
        await send_over(alice_socket, conversation, f"m{i}", f"c{i}")
    await bob_socket.send({"type": "read", "conversation": conversation, "up_to": 2})
    pushed = await expect_receipt(alice_socket, conversation, "bob")
    assert (pushed["delivered_seq"], pushed["read_seq"]) == (2, 0)
    await bob_socket.send({"type": "received", "conversation": conversation, "up_to": 3})
    pushed = await expect_receipt(alice_socket, conversation, "bob")
    assert (pushed["delivered_seq"], pushed["read_seq"]) == (3, 0)
    await bob_socket.send({"type": "read", "conversation": conversation, "up_to": 3})
    assert await alice_socket.nothing(0.4)  # a move of the read cursor alone is not pushed
    assert await sync_receipts(alice_socket, conversation, "s1") == [
        {"user": "bob", "delivered_seq": 3, "read_seq": 0, "joined_seq": 0}
    ]


async def test_a_member_with_receipts_off_shows_others_deliveries_only_and_sync_agrees(alice, bob, user_socket) -> None:
    conversation = await direct_between(alice, bob)
    await database_sync_to_async(save_settings)(alice.pk, read_receipts=False)
    alice_socket, bob_socket = await user_socket(alice), await user_socket(bob)
    for i in range(2):
        await send_over(bob_socket, conversation, f"m{i}", f"c{i}")
    await alice_socket.send({"type": "read", "conversation": conversation, "up_to": 2})
    pushed = await expect_receipt(bob_socket, conversation, "alice")
    assert (pushed["delivered_seq"], pushed["read_seq"]) == (2, 0)
    assert await sync_receipts(bob_socket, conversation, "s1") == [
        {"user": "alice", "delivered_seq": 2, "read_seq": 0, "joined_seq": 0}
    ]
    # alice's own other tab still follows her own read position
    own = await expect_receipt(alice_socket, conversation, "alice")
    assert own["read_seq"] == 2


async def test_turning_receipts_off_reaches_every_open_tab_at_once_and_the_next_push_follows_it(
    alice, bob, user_socket
) -> None:
    conversation = await direct_between(alice, bob)
    first, second, bob_socket = await user_socket(alice), await user_socket(alice), await user_socket(bob)
    await send_over(first, conversation, "hello", "c1")
    settings = await turn_receipts(alice, on=False)
    assert settings["read_receipts"] is False
    for tab in (first, second):
        frame = await tab.expect("settings")
        assert frame["settings"]["read_receipts"] is False and frame["settings"]["email"] is True
    assert all(f["type"] != "settings" for f in await bob_socket.drain(0.3))  # only the user's own sockets
    await bob_socket.send({"type": "read", "conversation": conversation, "up_to": 1})
    for tab in (first, second):
        pushed = await expect_receipt(tab, conversation, "bob")
        assert (pushed["delivered_seq"], pushed["read_seq"]) == (1, 0)
    await turn_receipts(alice, on=True)
    await second.expect("settings")
    assert await sync_receipts(second, conversation, "s2") == [
        {"user": "bob", "delivered_seq": 1, "read_seq": 1, "joined_seq": 0}
    ]


async def test_a_settings_frame_naming_another_user_is_refused_and_changes_nothing(alice, bob, user_socket) -> None:
    """Settings change only through the signed-in user's own settings page; the socket only tells of them."""
    socket = await user_socket(alice)
    await socket.send({"type": "settings", "user": "bob", "settings": {"read_receipts": False}, "ref": "x"})
    assert (await socket.expect("error", ref="x"))["code"] == "invalid_frame"
    assert (await database_sync_to_async(reading.sharing_of)([alice.pk, bob.pk])) == {alice.pk: True, bob.pk: True}


def test_a_hidden_read_position_hides_its_time_too_and_keeps_the_delivery(alice, bob) -> None:
    conversation = direct(alice, bob)
    send(conversation, alice)
    deliver(conversation, bob, 1)
    read(conversation, bob, 1)
    save_settings(bob.pk, read_receipts=False)
    [bobs] = reading.peer_receipts(alice.pk, conversation.pk)
    assert (bobs.read_seq, bobs.read_at) == (bobs.joined_seq, None)
    assert (bobs.delivered_seq, bobs.delivered_at is not None) == (1, True)


def test_a_conversations_detail_has_the_peers_presence_and_the_receipts_its_member_may_see(alice, bob) -> None:
    from messaging.store import presence

    conversation = direct(alice, bob)
    send(conversation, alice)
    read(conversation, bob, 1)
    presence.register_connection(bob.pk, "test.bob", "chat", "s", None, max_sockets=None, expiry=30, username="bob")
    summary, receipts = reading.conversation_detail(alice, conversation.pk, 30)
    assert (summary.conversation.pk, summary.extra["presence"][0]) == (conversation.pk, True)
    assert [(r.username, r.read_seq) for r in receipts] == [("bob", 1)]
