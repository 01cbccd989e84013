"""NotificationsConsumer over the real ASGI application."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from messaging import notification_service as service
from messaging.models import Notification

from .support import Socket, communicator

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def bell(open_socket):
    """``await bell(alice)``: a ``ws/notifications/`` socket past its first ``unread_count``."""

    async def open_bell(user) -> Socket:
        return await open_socket(user, "/ws/notifications/")

    return open_bell


def make_notifications(user, n: int) -> list[int]:
    return [Notification.objects.create(user=user, kind="system", title=f"n{i}").pk for i in range(n)]


async def test_unread_count_is_the_first_frame(alice, bell) -> None:
    await database_sync_to_async(make_notifications)(alice, 2)
    socket = await bell(alice)
    assert socket.connected == {"type": "unread_count", "count": 2}


async def test_anonymous_and_cross_origin_handshakes_are_refused(alice, cookies) -> None:
    for cookie, origin in [
        (None, b"http://localhost"),
        (await database_sync_to_async(cookies)(alice), b"http://evil.example"),
    ]:
        comm = communicator("/ws/notifications/", cookie, origin)
        connected, _ = await comm.connect(timeout=5)
        assert not connected
        await comm.disconnect()


async def test_a_message_to_a_user_without_the_conversation_open_pushes_a_notification(alice, bob, chat, bell) -> None:
    bob_bell = await bell(bob)
    alice_chat = await chat(alice, "bob")
    await alice_chat.send({"type": "message", "content": "ping bob", "client_id": "n1"})
    await alice_chat.expect("ack")
    pushed = await bob_bell.expect("notification")
    assert pushed["notification"]["kind"] == "new_message"
    assert pushed["notification"]["title"] == "New message from alice"
    assert pushed["notification"]["body"] == "ping bob" and pushed["notification"]["read"] is False
    assert await bob_bell.expect("unread_count") == {"type": "unread_count", "count": 1}


async def test_no_notification_when_the_recipient_has_the_conversation_open(alice, bob, chat, bell) -> None:
    bob_bell = await bell(bob)
    await chat(bob, "alice")
    alice_chat = await chat(alice, "bob")
    await alice_chat.send({"type": "message", "content": "you see this live", "client_id": "n1"})
    await alice_chat.expect("ack")
    await alice_chat.send({"type": "ping"})
    await alice_chat.expect("pong")
    assert not [f for f in await bob_bell.drain() if f["type"] == "notification"]
    assert await database_sync_to_async(Notification.objects.count)() == 0


async def test_mark_read_and_mark_all_read_update_every_tab(alice, bell) -> None:
    ids = await database_sync_to_async(make_notifications)(alice, 3)
    tab_1, tab_2 = await bell(alice), await bell(alice)
    await tab_1.send({"type": "mark_read", "id": ids[0]})
    for tab in (tab_1, tab_2):
        assert await tab.expect("unread_count") == {"type": "unread_count", "count": 2}
    await tab_2.send({"type": "mark_all_read"})
    for tab in (tab_1, tab_2):
        assert await tab.expect("unread_count") == {"type": "unread_count", "count": 0}
    await tab_2.send({"type": "mark_all_read"})
    await tab_2.send({"type": "ping"})
    await tab_2.expect("pong")
    assert not [f for f in await tab_1.drain() if f["type"] == "unread_count"]


async def test_mark_read_of_someone_elses_notification_is_refused(alice, bob, bell) -> None:
    [theirs] = await database_sync_to_async(make_notifications)(bob, 1)
    socket = await bell(alice)
    await socket.send({"type": "mark_read", "id": theirs, "ref": "m1"})
    error = await socket.expect("error")
    assert error["code"] == "not_found" and error["ref"] == "m1"
    assert not await database_sync_to_async(Notification.objects.filter(pk=theirs, read=True).exists)()


async def test_a_page_holding_exactly_the_last_notifications_says_there_are_no_more(alice, bell) -> None:
    ids = await database_sync_to_async(make_notifications)(alice, 3)
    socket = await bell(alice)
    await socket.send({"type": "list", "before": None, "limit": 3})
    page = await socket.expect("notifications")
    assert [n["id"] for n in page["items"]] == ids[::-1] and not page["has_more"]


async def test_list_pages_newest_first(alice, bell) -> None:
    ids = await database_sync_to_async(make_notifications)(alice, 5)
    socket = await bell(alice)
    await socket.send({"type": "list", "before": None, "limit": 2})
    page = await socket.expect("notifications")
    assert [n["id"] for n in page["items"]] == [ids[4], ids[3]] and page["has_more"]
    await socket.send({"type": "list", "before": ids[3], "limit": 10})
    page = await socket.expect("notifications")
    assert [n["id"] for n in page["items"]] == [ids[2], ids[1], ids[0]] and not page["has_more"]
    assert set(page["items"][0]) >= {"id", "kind", "title", "body", "url", "created_at", "read"}


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("nope", "invalid_json"),
        ('{"type": "message", "content": "x", "client_id": "x"}', "invalid_frame"),
        ('{"type": "mark_read"}', "invalid_frame"),
        ('{"type": "mark_read", "id": "1"}', "invalid_frame"),
        ('{"type": "list", "limit": 0}', "invalid_frame"),
    ],
)
async def test_bad_frames_are_answered_and_the_socket_stays_up(alice, bell, text, code) -> None:
    socket = await bell(alice)
    await socket.send_text(text)
    assert (await socket.expect("error"))["code"] == code
    await socket.send({"type": "ping"})
    assert await socket.expect("pong") == {"type": "pong"}


async def test_a_notifications_socket_counts_for_presence(alice, bob, chat, bell) -> None:
    alice_chat = await chat(alice, "bob")
    bob_bell = await bell(bob)
    assert (await alice_chat.expect("presence"))["online"] is True
    await bob_bell.close()
    assert (await alice_chat.expect("presence"))["online"] is False


async def test_notify_pushes_to_an_open_bell(alice, bell) -> None:
    socket = await bell(alice)
    await service.anotify(alice.pk, "system", "Maintenance tonight", "22:00 UTC", "/notifications/")
    frame = await socket.expect("notification")
    assert frame["notification"]["title"] == "Maintenance tonight"
    assert (await socket.expect("unread_count"))["count"] == 1


async def test_reading_the_conversation_settles_its_notification_in_every_bell(alice, bob, chat, bell) -> None:
    bells = [await bell(bob), await bell(bob)]
    alice_chat = await chat(alice, "bob")
    for i in range(3):
        await alice_chat.send({"type": "message", "content": f"m{i}", "client_id": f"n{i}"})
        await alice_chat.expect("ack")
        for tab in bells:
            assert (await tab.expect("unread_count"))["count"] == i + 1
    bob_chat = await chat(bob, "alice")
    await bob_chat.send({"type": "read", "up_to": 1})
    for tab in bells:
        assert await tab.expect("unread_count") == {"type": "unread_count", "count": 2}
    await bob_chat.send({"type": "read", "up_to": 3})
    for tab in bells:
        assert await tab.expect("unread_count") == {"type": "unread_count", "count": 0}
    notification = await database_sync_to_async(Notification.objects.get)(user=bob)
    assert notification.read


async def test_the_bell_stays_up_through_its_users_conversation_notices(alice, bob, bell, user_socket) -> None:
    """Membership and mute notices go to all of a user's sockets: the bell has nothing to do with them."""
    bob_bell = await bell(bob)
    alice_socket, bob_socket = await user_socket(alice), await user_socket(bob)
    await alice_socket.send({"type": "create_group", "title": "Trip", "members": ["bob"], "client_id": "g1"})
    group = (await alice_socket.expect("ack"))["conversation"]["id"]
    await bob_socket.expect("conversation")
    await bob_socket.send({"type": "mute", "conversation": group, "until": None})
    await bob_socket.expect("muted")
    await bob_bell.send({"type": "ping", "ref": 1})
    assert await bob_bell.expect("pong") == {"type": "pong", "ref": 1}
    await alice_socket.send({"type": "message", "conversation": group, "content": "hi", "client_id": "m1"})
    assert (await bob_bell.expect("notification"))["notification"]["title"] == "New message in Trip"
