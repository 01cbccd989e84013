"""ChatConsumer over the real ASGI application: handshake rules, send, pages, errors."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async
from django.test import override_settings

from messaging.models import Conversation, Message

from .support import communicator

pytestmark = pytest.mark.django_db(transaction=True)


async def refused(path: str, cookie: str | None, origin: bytes | None = b"http://localhost") -> bool:
    comm = communicator(path, cookie, origin)
    connected, _ = await comm.connect(timeout=5)
    await comm.disconnect()
    return not connected


async def conversation_count() -> int:
    return await database_sync_to_async(Conversation.objects.count)()


# --- Handshake -------------------------------------------------------------


async def test_anonymous_handshake_is_refused(alice, bob) -> None:
    assert await refused("/ws/chat/bob/", None)
    assert await conversation_count() == 0


async def test_cross_origin_handshake_is_refused(alice, bob, cookies) -> None:
    cookie = await database_sync_to_async(cookies)(alice)
    assert await refused("/ws/chat/bob/", cookie, origin=b"http://evil.example")
    assert await refused("/ws/chat/bob/", cookie, origin=None)
    assert await conversation_count() == 0


async def test_unknown_user_and_oneself_are_refused(alice, cookies) -> None:
    cookie = await database_sync_to_async(cookies)(alice)
    assert await refused("/ws/chat/nobody/", cookie)
    assert await refused("/ws/chat/alice/", cookie)
    assert await conversation_count() == 0


async def test_connected_is_the_first_frame(alice, bob, chat) -> None:
    socket = await chat(alice, "bob")
    assert socket.connected == {
        "type": "connected",
        "peer": {"username": "bob", "online": False, "last_seen": None},
        "last_seq": 0,
        "unread": 0,
    }


# --- Sending ------------------------------------------------------------------


async def test_message_is_acked_after_commit_and_broadcast_to_every_tab(alice, bob, chat) -> None:
    alice_1, alice_2 = await chat(alice, "bob"), await chat(alice, "bob")
    bob_1 = await chat(bob, "alice")
    await alice_1.send({"type": "message", "content": "hello", "client_id": "c1"})
    ack = await alice_1.expect("ack")
    assert ack["client_id"] == "c1"
    stored = await database_sync_to_async(Message.objects.get)(pk=ack["message"]["id"])
    assert stored.content == "hello" and stored.seq == 1 and stored.sender_id == alice.pk
    for socket in (alice_1, alice_2, bob_1):
        frame = await socket.expect("message")
        assert frame["message"]["id"] == ack["message"]["id"]


async def test_the_sender_comes_from_the_session_not_the_frame(alice, bob, chat) -> None:
    socket = await chat(alice, "bob")
    await socket.send({"type": "message", "content": "hi", "client_id": "c1", "sender": "bob", "recipient": "alice"})
    ack = await socket.expect("ack")
    assert ack["message"]["sender"] == "alice" and ack["message"]["recipient"] == "bob"


async def test_a_repeated_client_id_is_acked_with_the_same_message(alice, bob, chat) -> None:
    socket = await chat(alice, "bob")
    await socket.send({"type": "message", "content": "once", "client_id": "dup"})
    first = await socket.expect("ack")
    await socket.send({"type": "message", "content": "once", "client_id": "dup"})
    second = await socket.expect("ack")
    assert second["message"]["id"] == first["message"]["id"]
    assert second["message"]["seq"] == first["message"]["seq"]
    assert await database_sync_to_async(Message.objects.count)() == 1


@override_settings(MESSAGING_RATE_LIMIT="3/60s")
async def test_messages_over_the_rate_are_refused_and_not_stored(alice, bob, chat) -> None:
    socket = await chat(alice, "bob")
    for i in range(3):
        await socket.send({"type": "message", "content": "hi", "client_id": f"c{i}"})
        await socket.expect("ack")
    await socket.send({"type": "message", "content": "hi", "client_id": "c3"})
    error = await socket.expect("error")
    assert error["code"] == "rate_limited" and error["client_id"] == "c3"
    await socket.send({"type": "message", "content": "hi", "client_id": "c0"})
    assert (await socket.expect("ack"))["message"]["seq"] == 1
    assert await database_sync_to_async(Message.objects.count)() == 3


# --- Pages ------------------------------------------------------------------


async def send_many(socket, n: int, prefix: str = "m") -> list[dict]:
    acks = []
    for i in range(n):
        await socket.send({"type": "message", "content": f"{prefix}{i}", "client_id": f"{prefix}{i}"})
        acks.append(await socket.expect("ack"))
    return acks


async def test_history_pages_newest_first(alice, bob, chat) -> None:
    socket = await chat(alice, "bob")
    await send_many(socket, 5)
    await socket.send({"type": "history", "before": None, "limit": 2})
    page = await socket.expect("history")
    assert [m["seq"] for m in page["messages"]] == [5, 4] and page["has_more"]
    await socket.send({"type": "history", "before": 4, "limit": 10})
    page = await socket.expect("history")
    assert [m["seq"] for m in page["messages"]] == [3, 2, 1] and not page["has_more"]


async def test_sync_after_a_disconnect_returns_exactly_the_missed_messages_in_order(alice, bob, chat) -> None:
    alice_socket = await chat(alice, "bob")
    bob_socket = await chat(bob, "alice")
    await send_many(alice_socket, 2, "before")
    seen = [(await bob_socket.expect("message"))["message"]["seq"] for _ in range(2)]
    await bob_socket.close()
    await send_many(alice_socket, 3, "while-away")
    bob_again = await chat(bob, "alice")
    assert bob_again.connected["last_seq"] == 5 and bob_again.connected["unread"] == 5
    await bob_again.send({"type": "sync", "after": max(seen)})
    page = await bob_again.expect("sync")
    assert [m["content"] for m in page["messages"]] == ["while-away0", "while-away1", "while-away2"]
    assert [m["seq"] for m in page["messages"]] == [3, 4, 5]
    assert not page["has_more"]


# --- Errors -------------------------------------------------------------------

BAD_INPUTS = [
    ("", "invalid_json"),
    ("not json", "invalid_json"),
    ("[1, 2]", "invalid_frame"),
    ('"text"', "invalid_frame"),
    ('{"no": "type"}', "invalid_frame"),
    ('{"type": "dance"}', "invalid_frame"),
    ('{"type": "message", "client_id": "x"}', "invalid_frame"),
    ('{"type": "message", "content": "   ", "client_id": "x"}', "invalid_frame"),
    ('{"type": "message", "content": 5, "client_id": "x"}', "invalid_frame"),
    ('{"type": "message", "content": "hi", "client_id": ""}', "invalid_frame"),
    ('{"type": "message", "content": "hi", "client_id": "' + "x" * 65 + '"}', "invalid_frame"),
    ('{"type": "message", "content": "' + "x" * 4001 + '", "client_id": "x"}', "too_large"),
    ('{"type": "history", "before": null, "limit": 0}', "invalid_frame"),
    ('{"type": "history", "before": null, "limit": 101}', "invalid_frame"),
    ('{"type": "sync", "after": -1}', "invalid_frame"),
    ('{"type": "read", "up_to": "5"}', "invalid_frame"),
    ('{"type": "typing", "is_typing": "yes"}', "invalid_frame"),
    ('{"type": "ping", "pad": "' + "x" * 70000 + '"}', "too_large"),
]


@pytest.mark.parametrize(("text", "code"), BAD_INPUTS, ids=[c + str(i) for i, (_, c) in enumerate(BAD_INPUTS)])
async def test_bad_input_is_answered_with_its_code_and_the_socket_stays_up(alice, bob, chat, text, code) -> None:
    socket = await chat(alice, "bob")
    await socket.send_text(text)
    error = await socket.expect("error")
    assert error["code"] == code, error
    assert error["detail"]
    await socket.send({"type": "ping"})
    assert await socket.expect("pong") == {"type": "pong"}
    assert await database_sync_to_async(Message.objects.count)() == 0


async def test_a_binary_frame_is_invalid_frame(alice, bob, chat) -> None:
    socket = await chat(alice, "bob")
    await socket.comm.send_to(bytes_data=json.dumps({"type": "ping"}).encode())
    assert (await socket.expect("error"))["code"] == "invalid_frame"
    await socket.send({"type": "ping"})
    await socket.expect("pong")


async def test_bad_frames_are_recorded_without_flooding_the_error_table(alice, bob, chat) -> None:
    from messaging.models import MessagingError

    socket = await chat(alice, "bob")
    for _ in range(25):  # within MESSAGING_BAD_FRAME_LIMIT
        await socket.send_text("garbage")
        await socket.expect("error")
    rows = await database_sync_to_async(list)(MessagingError.objects.filter(category="validation_error"))
    assert len(rows) == 1
    assert rows[0].user_id == alice.pk and rows[0].context["code"] == "invalid_json"
