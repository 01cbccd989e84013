"""Access rules and abuse limits: each limit is a setting answered by its error frame."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.test import Client, override_settings

from messaging.models import Connection, MessagingError
from messaging.store import conversations, events

from .support import Socket, communicator

pytestmark = pytest.mark.django_db(transaction=True)


async def test_typing_beyond_its_rate_is_answered_and_the_socket_stays_up(alice, bob, chat) -> None:
    with override_settings(MESSAGING_TYPING_RATE_LIMIT="5/10s"):
        socket = await chat(alice, "bob")
    for _ in range(8):
        await socket.send({"type": "typing", "is_typing": True})
    # Frames are handled in order: everything the typing frames caused comes before the pong.
    await socket.send({"type": "ping"})
    frames = []
    while (frame := await socket.receive())["type"] != "pong":
        frames.append(frame)
    errors = [f for f in frames if f["type"] == "error"]
    assert [e["code"] for e in errors] == ["typing_rate_limited"] * 3
    await socket.send({"type": "ping"})
    await socket.expect("pong")


@override_settings(MESSAGING_MAX_SOCKETS_PER_USER=2)
@pytest.mark.parametrize("path", ["/ws/chat/bob/", "/ws/chat/", "/ws/notifications/"])
async def test_a_socket_beyond_the_per_user_limit_is_told_and_closed(path, alice, bob, chat, cookies) -> None:
    # Every kind of socket counts toward the one limit, and each endpoint enforces it.
    await chat(alice, "bob")
    await chat(alice, "bob")
    comm = communicator(path, await database_sync_to_async(cookies)(alice))
    connected, _ = await comm.connect(timeout=5)
    assert connected
    error = await comm.receive_json_from(timeout=3)
    assert error == {
        "type": "error",
        "code": "too_many_sockets",
        "detail": "you already have 2 open sockets; close one first",
        "limit": 2,
        "setting": "MESSAGING_MAX_SOCKETS_PER_USER",
    }
    closed = await comm.receive_output(timeout=3)
    assert closed == {"type": "websocket.close", "code": 4429}
    # The server finishes once the client's side of the close arrives, as a real server would report it.
    await comm.send_input({"type": "websocket.disconnect", "code": 4429})
    await comm.wait(timeout=3)
    assert comm.future.done() and not comm.future.cancelled(), "the consumer did not finish after the close"
    assert comm.future.exception() is None
    assert await database_sync_to_async(Connection.objects.filter(user=alice).count)() == 2


@override_settings(MESSAGING_BAD_FRAME_LIMIT="5/60s")
async def test_a_client_that_keeps_breaking_the_protocol_is_disconnected_and_logged(alice, bob, chat) -> None:
    socket = await chat(alice, "bob")
    for _ in range(6):
        await socket.send_text("{broken")
    frames = []
    while True:
        output = await socket.comm.receive_output(timeout=3)
        if output["type"] == "websocket.close":
            break
        frames.append(output)
    assert output["code"] == 4400
    assert len(frames) == 6
    rows = await database_sync_to_async(list)(MessagingError.objects.filter(message__startswith="disconnected"))
    assert len(rows) == 1 and rows[0].context["bad_frames"] == 6 and rows[0].user_id == alice.pk


@override_settings(MESSAGING_BAD_FRAME_LIMIT="3/60s", MESSAGING_RATE_LIMIT="2/60s")
async def test_refusals_are_answered_but_never_count_toward_the_abuse_close(alice, bob, chat, user_socket) -> None:
    """Only protocol errors (invalid_json, invalid_frame, too_large) count as bad frames."""
    direct = await chat(alice, "bob")
    for i in range(6):
        await direct.send({"type": "message", "content": "hi", "client_id": f"c{i}"})
    # Refusals are answered on the event loop, before the database: they may overtake the acks.
    answers = [await direct.expect_where(lambda f: f["type"] in ("ack", "error")) for _ in range(6)]
    assert (
        sorted((f["type"], f.get("code", "")) for f in answers) == [("ack", "")] * 2 + [("error", "rate_limited")] * 4
    )
    socket = await user_socket(alice)
    for i in range(3):
        await socket.send({"type": "sync", "conversation": 999999, "after": 0, "ref": i})
        assert (await socket.expect("error", ref=i))["code"] == "not_found"
        await socket.send({"type": "message", "to": "nobody", "content": "hi", "client_id": f"n{i}"})
        assert (await socket.expect("error", client_id=f"n{i}"))["code"] == "not_found"
    for sock in (direct, socket):
        await sock.send({"type": "ping"})
        assert await sock.expect("pong") == {"type": "pong"}


async def test_logout_closes_the_sockets_of_that_session_only(alice, bob, cookies) -> None:
    def two_sessions():
        first, second = Client(), Client()
        first.force_login(alice)
        second.force_login(alice)
        return first, second

    first, second = await database_sync_to_async(two_sessions)()
    comm_first = communicator("/ws/notifications/", first.cookies["sessionid"].value)
    comm_second = communicator("/ws/notifications/", second.cookies["sessionid"].value)
    for comm in (comm_first, comm_second):
        assert (await comm.connect(timeout=5))[0]
        await comm.receive_json_from(timeout=3)
    await database_sync_to_async(first.post)("/accounts/logout/")
    assert await comm_first.receive_output(timeout=3) == {"type": "websocket.close", "code": 4401}
    await comm_second.send_json_to({"type": "ping"})
    assert await comm_second.receive_json_from(timeout=3) == {"type": "pong"}
    await comm_second.disconnect()


async def test_a_signed_out_session_cannot_open_a_socket(alice, bob, cookies) -> None:
    def signed_out_cookie() -> str:
        client = Client()
        client.force_login(alice)
        cookie = client.cookies["sessionid"].value
        client.post("/accounts/logout/")
        return cookie

    comm = communicator("/ws/chat/bob/", await database_sync_to_async(signed_out_cookie)())
    connected, _ = await comm.connect(timeout=5)
    assert not connected


def test_a_third_user_cannot_read_a_conversation_they_are_not_in(alice, bob, carol) -> None:
    conversation, _ = conversations.get_or_create_direct(alice, bob)
    events.create_message(conversation.pk, alice, "private", "p1")
    client = Client()
    client.force_login(carol)
    for peer in ("alice", "bob"):
        page = client.get(f"/messages/api/{peer}/history").json()
        assert page["messages"] == []
    assert conversations.get_or_create_direct(carol, alice)[0].pk != conversation.pk
    for path in (
        f"/messages/api/conversations/{conversation.pk}",
        f"/messages/api/conversations/{conversation.pk}/events",
    ):
        response = client.get(path)
        assert response.status_code == 404 and response.json()["code"] == "not_found"


async def test_a_bad_frame_is_recorded_with_its_code_detail_and_endpoint(alice, bob, chat) -> None:
    socket = await chat(alice, "bob")
    await socket.send_text("{broken")
    error = await socket.next("error", code="invalid_json")
    await socket.send({"type": "ping"})
    await socket.next("pong")  # the bad frame's record is stored before the next frame is read
    rows = await database_sync_to_async(list)(MessagingError.objects.all())
    assert [(r.category, r.severity, r.user_id, r.message) for r in rows] == [
        ("validation_error", "warning", alice.pk, f"client sent a bad frame (invalid_json): {error['detail']}")
    ]
    assert rows[0].context == {"code": "invalid_json", "suppressed_since_last": 0, "endpoint": "chat"}


async def closed_for_bad_frames(socket: Socket) -> Socket:
    """Three bad frames over a limit of two: each answered, then the 4400 close."""
    for _ in range(3):
        await socket.send_text("{broken")
    for _ in range(3):
        await socket.next("error", code="invalid_json")
    assert await socket.comm.receive_output(timeout=3) == {"type": "websocket.close", "code": 4400}
    return socket


@override_settings(MESSAGING_BAD_FRAME_LIMIT="2/60s")
async def test_the_abuse_close_is_recorded_as_a_warning_naming_its_close_code(alice, bob, chat) -> None:
    await closed_for_bad_frames(await chat(alice, "bob"))
    [row] = await database_sync_to_async(list)(MessagingError.objects.filter(message__startswith="disconnected"))
    assert (row.category, row.severity, row.user_id, row.message) == (
        "validation_error",
        "warning",
        alice.pk,
        "disconnected a chat socket after 3 bad frames",
    )
    assert row.context == {"bad_frames": 3, "close_code": 4400}


@override_settings(MESSAGING_BAD_FRAME_LIMIT="2/60s")
async def test_a_frame_that_arrives_after_the_abuse_close_is_not_answered(alice, bob, chat) -> None:
    socket = await closed_for_bad_frames(await chat(alice, "bob"))
    await socket.send({"type": "ping"})  # sent before the client read the close
    await socket.comm.disconnect()
    assert await socket.comm.receive_nothing(timeout=0)


@override_settings(MESSAGING_MAX_SOCKETS_PER_USER=1)
async def test_a_socket_refused_for_the_per_user_limit_is_recorded_and_answers_nothing_after_its_close(
    alice, bob, chat, cookies
) -> None:
    await chat(alice, "bob")
    comm = communicator("/ws/chat/bob/", await database_sync_to_async(cookies)(alice))
    assert (await comm.connect(timeout=5))[0]
    error = await comm.receive_json_from(timeout=3)
    assert error["code"] == "too_many_sockets"
    assert await comm.receive_output(timeout=3) == {"type": "websocket.close", "code": 4429}
    await comm.send_json_to({"type": "ping"})  # sent before the client read the close
    await comm.send_input({"type": "websocket.disconnect", "code": 4429})
    await comm.wait(timeout=3)
    assert await comm.receive_nothing(timeout=0)
    [row] = await database_sync_to_async(list)(MessagingError.objects.all())
    assert (row.category, row.severity, row.user_id, row.message) == (
        "validation_error",
        "warning",
        alice.pk,
        f"client sent a bad frame (too_many_sockets): {error['detail']}",
    )
    assert row.context == {"code": "too_many_sockets", "suppressed_since_last": 0}
