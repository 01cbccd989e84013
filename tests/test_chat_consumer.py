"""ChatConsumer over the real ASGI application: handshake rules, send, pages, errors."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import override_settings

from messaging.models import Conversation, Message

from .support import communicator
from .support.metrics import metric

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


@override_settings(MESSAGING_MAX_FRAME_BYTES=64)
async def test_a_binary_frame_over_the_frame_limit_is_too_large_not_invalid(alice, bob, chat) -> None:
    # Its size is what is wrong first: a client that sends big binary frames is told the limit.
    socket = await chat(alice, "bob")
    await socket.comm.send_to(bytes_data=b"x" * 65)
    assert (await socket.expect("error"))["code"] == "too_large"
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


# --- Delivery marks under backpressure (realtime/backpressure.py's DeliveryGate) ---


class TwistedTransport:
    """The state ``linkup.server.TransportProbe`` reads: Twisted's unsent ``dataBuffer`` from ``offset`` on."""

    def __init__(self, unsent: int) -> None:
        self.dataBuffer = b"x" * unsent
        self.offset = 0

    def client_took_it_all(self) -> None:
        self.offset = len(self.dataBuffer)

    def client_stopped_reading(self, unsent: int) -> None:
        self.dataBuffer, self.offset = b"x" * unsent, 0


def gate_over(transport: TwistedTransport, reports: list[int]) -> Any:
    from types import SimpleNamespace

    from linkup.server import TransportProbe
    from messaging.realtime.backpressure import DeliveryGate

    return DeliveryGate(TransportProbe(SimpleNamespace(transport=transport)), reports.append)


async def polls(count: int = 5) -> None:
    from messaging.realtime.backpressure import DRAIN_POLL_SECONDS

    await asyncio.sleep(DRAIN_POLL_SECONDS * count)


async def test_a_pushed_seq_is_reported_delivered_once_the_clients_buffer_has_drained_and_only_its_highest() -> None:
    transport, reports = TwistedTransport(unsent=4096), []
    gate = gate_over(transport, reports)
    gate.pushed(3)
    gate.pushed(5)
    gate.pushed(4)  # a later push of a lower seq never lowers the mark
    await polls()
    assert reports == []  # still in the server's buffer: not delivered yet
    transport.client_took_it_all()
    await polls()
    assert reports == [5]
    gate.pushed(6)
    await polls()
    assert reports == [5, 6]  # the buffer is empty: the next push is reported at the next poll
    await gate.stop()


async def test_a_socket_closed_before_its_buffer_drained_reports_nothing_delivered() -> None:
    transport, reports = TwistedTransport(unsent=4096), []
    gate = gate_over(transport, reports)
    gate.pushed(3)
    await polls(2)
    await gate.stop()
    transport.client_took_it_all()
    await polls()
    assert reports == [] and gate.watcher is not None and gate.watcher.done()


async def test_without_an_outbound_probe_every_push_is_reported_at_once() -> None:
    from messaging.realtime.backpressure import DeliveryGate

    reports: list[int] = []
    gate = DeliveryGate(None, reports.append)
    gate.pushed(3)
    gate.pushed(4)
    assert reports == [3, 4] and gate.watcher is None


async def chat_with_probe(user: Any, peer: str, transport: TwistedTransport, cookies: Any) -> Any:
    """A ``ws/chat/<peer>/`` socket whose scope carries ``linkup/server.py``'s probe over ``transport``, as daphne's would."""
    from types import SimpleNamespace

    from linkup.server import TransportProbe
    from messaging.realtime.backpressure import TRANSPORT_EXTENSION

    comm = communicator(f"/ws/chat/{peer}/", await database_sync_to_async(cookies)(user))
    comm.scope["extensions"] = {TRANSPORT_EXTENSION: TransportProbe(SimpleNamespace(transport=transport))}
    connected, code = await comm.connect(timeout=5)
    assert connected, code
    assert (await comm.receive_json_from(timeout=5))["type"] == "connected"
    return comm


async def delivered_to(user: Any) -> int:
    from messaging.models import Participant

    return (await database_sync_to_async(Participant.objects.get)(user=user)).delivered_seq


async def test_a_message_pushed_to_a_client_is_delivered_only_once_the_client_took_it(
    alice, bob, chat, cookies
) -> None:
    transport = TwistedTransport(unsent=0)
    alice_comm = await chat_with_probe(alice, "bob", transport, cookies)
    transport.client_stopped_reading(unsent=4096)  # below the bound: the socket stays open
    b = await chat(bob, "alice")
    await b.send({"type": "message", "content": "are you there?", "client_id": "m1"})
    await b.expect("ack")
    while (await alice_comm.receive_json_from(timeout=3))["type"] != "message":  # bob's presence first
        pass
    await polls(10)
    assert await delivered_to(alice) == 0  # still in the server's buffer
    transport.client_took_it_all()
    for _ in range(500):  # the next poll sees the empty buffer; the mark is stored a moment later (10 s at most)
        if await delivered_to(alice) == 1:
            break
        await polls(1)
    assert await delivered_to(alice) == 1
    await alice_comm.disconnect()


async def test_a_client_that_leaves_more_than_max_unsent_bytes_unread_is_closed_not_reading_and_sent_nothing_more(
    alice, bob, chat, cookies
) -> None:
    from messaging import conf
    from messaging.models import MessagingError
    from messaging.ops import metrics

    closed_before = metrics.SOCKETS_NOT_READING.labels("chat")._value.get()
    transport = TwistedTransport(unsent=0)
    alice_comm = await chat_with_probe(alice, "bob", transport, cookies)
    limit = conf.limits().max_unsent_bytes
    transport.client_stopped_reading(unsent=limit + 1)
    b = await chat(bob, "alice")
    for n in (1, 2):
        await b.send({"type": "message", "content": f"are you there? {n}", "client_id": f"m{n}"})
        await b.expect("ack")
    assert await alice_comm.receive_output(timeout=3) == {"type": "websocket.close", "code": conf.CLOSE_NOT_READING}
    assert await alice_comm.receive_nothing(timeout=0.3)  # neither message, nor a second close
    assert await delivered_to(alice) == 0
    # what an operator sees: the count, and one record of it (throttled per user)
    assert metrics.SOCKETS_NOT_READING.labels("chat")._value.get() == closed_before + 1
    [record] = await database_sync_to_async(list)(MessagingError.objects.filter(message__contains="bytes unread"))
    assert (record.category, record.severity, record.user_id, record.context["code"]) == (
        "connection_error",
        "warning",
        alice.pk,
        "not_reading",
    )
    assert record.message == (
        f"closed a chat socket whose client left {limit + 1} bytes unread (MESSAGING_MAX_UNSENT_BYTES {limit})"
    )
    await alice_comm.disconnect()


async def test_a_client_exactly_at_max_unsent_bytes_is_still_sent_to(alice, bob, chat, cookies) -> None:
    from messaging import conf

    transport = TwistedTransport(unsent=0)
    alice_comm = await chat_with_probe(alice, "bob", transport, cookies)
    transport.client_stopped_reading(unsent=conf.limits().max_unsent_bytes)  # at the bound, not over it
    b = await chat(bob, "alice")
    await b.send({"type": "message", "content": "still there?", "client_id": "m1"})
    await b.expect("ack")
    while (pushed := await alice_comm.receive_json_from(timeout=3))["type"] != "message":  # bob's presence first
        pass
    assert pushed["message"]["content"] == "still there?"
    await alice_comm.disconnect()


async def test_the_metrics_count_open_sockets_frames_by_type_and_error_frames_by_code(alice, bob, chat) -> None:
    """What ``/metrics`` shows an operator: ``linkup_open_sockets``, ``linkup_frames_received_total``, ``linkup_error_frames_total``."""
    names = {
        "open": ("linkup_open_sockets", {"consumer": "chat"}),
        "invalid": ("linkup_frames_received_total", {"consumer": "chat", "type": "invalid"}),
        "ping": ("linkup_frames_received_total", {"consumer": "chat", "type": "ping"}),
        "invalid_json": ("linkup_error_frames_total", {"code": "invalid_json"}),
    }

    def counts() -> dict[str, float]:
        return {key: metric(name, **labels) for key, (name, labels) in names.items()}

    before = counts()
    socket = await chat(alice, "bob")
    await socket.send_text("{broken")
    await socket.next("error", code="invalid_json")
    await socket.send({"type": "ping"})
    await socket.next("pong")
    after = counts()
    assert {key: after[key] - before[key] for key in names} == {"open": 1, "invalid": 1, "ping": 1, "invalid_json": 1}
    await socket.close()
    assert counts()["open"] == before["open"]
