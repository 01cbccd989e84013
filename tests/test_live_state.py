"""Live conversation state over real consumers: ticks, typing, presence, many tabs."""

from __future__ import annotations

import asyncio
from unittest import mock

import pytest
from channels.db import database_sync_to_async
from django.test import override_settings

from messaging.consumers import MessagingConsumer
from messaging.models import Connection, Conversation, Message, UserStatus
from messaging.realtime.presence import PresenceTracker, tracker

from . import cursors

pytestmark = pytest.mark.django_db(transaction=True)


async def send(socket, content: str, client_id: str) -> dict:
    await socket.send({"type": "message", "content": content, "client_id": client_id})
    return (await socket.expect("ack", client_id=client_id))["message"]


async def statuses(a, b) -> dict[int, str]:
    """Each message's status in the direct conversation of ``a`` and ``b``, derived from its recipient's cursors."""
    return await database_sync_to_async(lambda: cursors.statuses(Conversation.objects.get(), a, b))()


# --- Ticks ------------------------------------------------------------------


async def test_a_message_pushed_to_the_recipient_becomes_delivered_once_for_all_tabs(alice, bob, chat) -> None:
    alice_socket = await chat(alice, "bob")
    bob_tabs = [await chat(bob, "alice"), await chat(bob, "alice")]
    await send(alice_socket, "hi", "c1")
    delivered = await alice_socket.expect("status")
    assert delivered["status"] == "delivered" and delivered["up_to"] == 1 and delivered["by"] == "bob"
    for tab in bob_tabs:
        assert (await tab.expect("status"))["status"] == "delivered"
    assert await statuses(alice, bob) == {1: "delivered"}
    # however many tabs are open, one status frame per advance
    assert [f for f in await alice_socket.drain() if f["type"] == "status"] == []


async def test_a_message_to_an_offline_recipient_stays_sent_until_sync(alice, bob, chat) -> None:
    alice_socket = await chat(alice, "bob")
    for i in range(3):
        await send(alice_socket, f"m{i}", f"c{i}")
    assert await statuses(alice, bob) == {1: "sent", 2: "sent", 3: "sent"}
    bob_socket = await chat(bob, "alice")
    assert bob_socket.connected["unread"] == 3
    await bob_socket.send({"type": "sync", "after": 0})
    page = await bob_socket.expect("sync")
    assert [m["seq"] for m in page["messages"]] == [1, 2, 3]
    assert all(m["status"] == "delivered" for m in page["messages"])
    status = await alice_socket.expect("status")
    assert status["status"] == "delivered" and status["up_to"] == 3


async def test_history_fetched_over_http_tells_the_senders_socket(alice, bob, chat) -> None:
    from django.test import Client

    alice_socket = await chat(alice, "bob")
    await send(alice_socket, "hi", "c1")

    def fetch() -> dict:
        client = Client()
        client.force_login(bob)
        return client.get("/messages/api/alice/history").json()

    page = await database_sync_to_async(fetch)()
    assert page["messages"][0]["status"] == "delivered"
    status = await alice_socket.expect("status")
    assert status["status"] == "delivered" and status["up_to"] == 1 and status["by"] == "bob"


async def test_read_turns_the_whole_range_read_and_clears_unread_in_every_tab(alice, bob, chat) -> None:
    alice_socket = await chat(alice, "bob")
    for i in range(3):
        await send(alice_socket, f"m{i}", f"c{i}")
    bob_tabs = [await chat(bob, "alice"), await chat(bob, "alice")]
    await bob_tabs[0].send({"type": "read", "up_to": 3})
    for socket in [alice_socket, *bob_tabs]:
        frame = await socket.expect("status", status="read")
        assert frame["up_to"] == 3 and frame["by"] == "bob"
    assert await statuses(alice, bob) == {1: "read", 2: "read", 3: "read"}
    again = await chat(bob, "alice")
    assert again.connected["unread"] == 0


async def test_read_by_the_sender_never_marks_their_own_messages(alice, bob, chat) -> None:
    alice_socket = await chat(alice, "bob")
    await send(alice_socket, "mine", "c1")
    await alice_socket.send({"type": "read", "up_to": 1})
    # A read moves the reader's own cursor, so it is announced (by alice, up
    # to her cursor); it never marks her own message: that follows bob's cursors.
    # The announcement is batched with other cursor moves: wait for it, then
    # check nothing else came.
    first = await alice_socket.expect("status")
    await alice_socket.send({"type": "ping"})
    status_frames = [first, *(f for f in await alice_socket.drain() if f["type"] == "status")]
    assert {(f["by"], f["up_to"]) for f in status_frames} == {("alice", 1)}
    assert await statuses(alice, bob) == {1: "sent"}


async def test_a_repeated_read_changes_nothing_and_announces_nothing(alice, bob, chat) -> None:
    alice_socket = await chat(alice, "bob")
    await send(alice_socket, "hi", "c1")
    bob_socket = await chat(bob, "alice")
    await bob_socket.send({"type": "read", "up_to": 1})
    await alice_socket.expect("status", status="read")
    await bob_socket.send({"type": "read", "up_to": 1})
    await bob_socket.send({"type": "read", "up_to": 0})
    assert not [f for f in await alice_socket.drain() if f["type"] == "status"]


# --- Typing -----------------------------------------------------------------


async def test_typing_reaches_only_the_other_participant(alice, bob, chat) -> None:
    alice_socket = await chat(alice, "bob")
    bob_tabs = [await chat(bob, "alice"), await chat(bob, "alice")]
    await bob_tabs[0].send({"type": "typing", "is_typing": True})
    assert await alice_socket.expect("typing") == {"type": "typing", "user": "bob", "is_typing": True}
    assert not [f for tab in bob_tabs for f in await tab.drain() if f["type"] == "typing"]


async def test_a_burst_of_typing_frames_is_one_broadcast(alice, bob, chat) -> None:
    alice_socket = await chat(alice, "bob")
    bob_socket = await chat(bob, "alice")
    for _ in range(50):
        await bob_socket.send({"type": "typing", "is_typing": True})
    await bob_socket.send({"type": "ping"})
    await bob_socket.expect("pong")
    typing = [f for f in await alice_socket.drain() if f["type"] == "typing"]
    assert typing == [{"type": "typing", "user": "bob", "is_typing": True}]


@override_settings(MESSAGING_TYPING_EXPIRY_SECONDS=0.3)
async def test_typing_that_is_not_refreshed_expires(alice, bob, chat) -> None:
    alice_socket = await chat(alice, "bob")
    bob_socket = await chat(bob, "alice")
    await bob_socket.send({"type": "typing", "is_typing": True})
    await alice_socket.expect("typing", is_typing=True)
    assert (await alice_socket.expect("typing", timeout=2))["is_typing"] is False


async def test_sending_a_message_clears_typing(alice, bob, chat) -> None:
    alice_socket = await chat(alice, "bob")
    bob_socket = await chat(bob, "alice")
    await bob_socket.send({"type": "typing", "is_typing": True})
    await alice_socket.expect("typing", is_typing=True)
    await send(bob_socket, "done typing", "c1")
    assert (await alice_socket.expect("typing"))["is_typing"] is False


# --- Presence ---------------------------------------------------------------


async def test_presence_follows_the_last_open_socket(alice, bob, chat) -> None:
    alice_socket = await chat(alice, "bob")
    bob_1 = await chat(bob, "alice")
    online = await alice_socket.expect("presence")
    assert online["user"] == "bob" and online["online"] is True
    bob_2 = await chat(bob, "alice")
    await bob_1.close()
    assert not [f for f in await alice_socket.drain() if f["type"] == "presence"]
    await bob_2.close()
    offline = await alice_socket.expect("presence")
    assert offline["online"] is False and offline["last_seen"]
    reopened = await chat(alice, "bob")
    assert reopened.connected["peer"]["online"] is False
    assert reopened.connected["peer"]["last_seen"] == offline["last_seen"]


async def test_connected_reports_the_peer_online(alice, bob, chat) -> None:
    await chat(bob, "alice")
    alice_socket = await chat(alice, "bob")
    assert alice_socket.connected["peer"]["online"] is True


@override_settings(MESSAGING_PRESENCE_EXPIRY_SECONDS=0.5)
async def test_a_socket_of_a_killed_process_goes_offline_after_the_expiry(alice, bob, chat) -> None:
    """Bob's socket lives on "process B", which dies: no disconnect, no cleanup, no heartbeat."""
    alice_socket = await chat(alice, "bob")
    process_b = PresenceTracker()
    with mock.patch("messaging.consumers.tracker", process_b):
        bob_socket = await chat(bob, "alice")
    await alice_socket.expect("presence", online=True)
    with mock.patch.object(MessagingConsumer, "leave", new=mock.AsyncMock()):
        bob_socket.comm.future.cancel()
        await asyncio.gather(bob_socket.comm.future, return_exceptions=True)
    process_b.stop()
    assert await database_sync_to_async(Connection.objects.filter(user=bob).count)() == 1
    await asyncio.sleep(0.6)
    assert await tracker.beat() == 1  # process A's heartbeat sweeps B's expired row
    offline = await alice_socket.expect("presence")
    assert offline["user"] == "bob" and offline["online"] is False
    status = await database_sync_to_async(UserStatus.objects.get)(user=bob)
    assert status.online is False
    assert await database_sync_to_async(Connection.objects.filter(user=bob).count)() == 0


async def test_the_heartbeat_keeps_live_sockets_online(alice, bob, chat) -> None:
    alice_socket = await chat(alice, "bob")
    await chat(bob, "alice")
    await alice_socket.expect("presence", online=True)
    with override_settings(MESSAGING_PRESENCE_EXPIRY_SECONDS=0.5):
        await asyncio.sleep(0.6)
        # the beat refreshes this process's rows before sweeping
        assert await tracker.beat() == 0
    assert not [f for f in await alice_socket.drain() if f["type"] == "presence"]


async def test_a_consumer_that_dies_without_disconnect_still_cleans_up(alice, bob, chat) -> None:
    alice_socket = await chat(alice, "bob")
    bob_socket = await chat(bob, "alice")
    await alice_socket.expect("presence", online=True)
    bob_socket.comm.future.cancel()
    await asyncio.gather(bob_socket.comm.future, return_exceptions=True)
    assert (await alice_socket.expect("presence"))["online"] is False


# --- Many tabs --------------------------------------------------------------


async def test_every_tab_of_both_users_sees_the_same_stream(alice, bob, chat) -> None:
    tabs = [await chat(alice, "bob"), await chat(alice, "bob"), await chat(bob, "alice"), await chat(bob, "alice")]
    for i, tab in enumerate(tabs):
        await tab.send({"type": "message", "content": f"m{i}", "client_id": f"c{i}"})
    for i, tab in enumerate(tabs):
        # Wait for what must arrive (this tab's ack and the four messages), keeping every frame in order.
        frames: list[dict] = []
        while not (
            any(f["type"] == "ack" and f["client_id"] == f"c{i}" for f in frames)
            and sum(f["type"] == "message" for f in frames) >= 4
        ):
            frames.append(await tab.receive())
        frames += await tab.drain()  # and nothing more: no message twice
        assert [f["message"]["seq"] for f in frames if f["type"] == "message"] == [1, 2, 3, 4]
    assert await database_sync_to_async(Message.objects.count)() == 4
