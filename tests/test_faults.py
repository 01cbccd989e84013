"""Faults injected into the real consumers: nothing acknowledged is lost, nothing stored twice."""

from __future__ import annotations

import asyncio
from unittest import mock

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import OperationalError
from django.test import override_settings

from messaging.consumers import ChatConsumer
from messaging.models import Message, MessagingError
from messaging.realtime import base
from messaging.realtime.presence import tracker

from .faults import database_locked, on_sqlite_only
from .robustness import STATS
from .support.writers import HeldWriter

pytestmark = pytest.mark.django_db(transaction=True)


async def count(model, **filters) -> int:
    return await database_sync_to_async(model.objects.filter(**filters).count)()


async def test_a_client_vanishing_mid_send_loses_nothing_and_duplicates_nothing(alice, bob, chat) -> None:
    socket = await chat(alice, "bob")
    await socket.send({"type": "message", "content": "sent as the line dropped", "client_id": "vanish-1"})
    await socket.comm.disconnect(code=1006)  # no close frame: the network went away
    STATS["faults: client vanished mid-send"] += 1
    again = await chat(alice, "bob")
    await again.send({"type": "message", "content": "sent as the line dropped", "client_id": "vanish-1"})
    ack = await again.expect("ack")
    assert ack["message"]["seq"] == 1
    assert await count(Message, client_id="vanish-1") == 1
    assert await count(MessagingError, category="connection_error", context__code="abnormal_closure") == 1


@on_sqlite_only
async def test_a_database_locked_beyond_the_retries_answers_server_error_and_a_resend_stores_once(
    alice, bob, chat
) -> None:
    socket = await chat(alice, "bob")
    async with database_locked():
        await socket.send({"type": "message", "content": "during the outage", "client_id": "locked-1"})
        error = await socket.expect("error", timeout=10)
        STATS["faults: database locked beyond the retries"] += 1
    assert error == {
        "type": "error",
        "code": "server_error",
        "detail": "the message could not be stored; resend it with the same client_id",
        "client_id": "locked-1",
    }
    assert await count(Message) == 0
    # The record could not be stored while the database was locked; the
    # next heartbeat stores it.
    await tracker.beat()
    assert await count(MessagingError, category="database_error") == 1
    await socket.send({"type": "message", "content": "during the outage", "client_id": "locked-1"})
    assert (await socket.expect("ack"))["message"]["seq"] == 1
    await socket.send({"type": "message", "content": "during the outage", "client_id": "locked-1"})
    assert (await socket.expect("ack"))["message"]["seq"] == 1
    assert await count(Message) == 1


async def test_a_failing_channel_layer_costs_only_the_push(alice, bob, chat) -> None:
    alice_socket = await chat(alice, "bob")
    bob_socket = await chat(bob, "alice")

    async def broken(group, message):
        raise ConnectionError("redis is down")

    with mock.patch.object(get_channel_layer(), "group_send", broken):
        await alice_socket.send({"type": "message", "content": "layer down", "client_id": "layer-1"})
        ack = await alice_socket.expect("ack")
    STATS["faults: channel layer failing"] += 1
    assert ack["message"]["seq"] == 1
    assert await count(MessagingError, category="connection_error") >= 1
    await bob_socket.send({"type": "sync", "after": 0})
    page = await bob_socket.expect("sync")
    assert [m["client_id"] for m in page["messages"]] == ["layer-1"]


@on_sqlite_only
@override_settings(MESSAGING_RATE_LIMIT="1/60s")
async def test_a_send_the_server_failed_to_store_gives_its_rate_token_back(alice, bob, chat) -> None:
    socket = await chat(alice, "bob")
    async with database_locked():
        await socket.send({"type": "message", "content": "during the outage", "client_id": "locked-1"})
        assert (await socket.expect("error", timeout=10))["code"] == "server_error"
    # The one message a minute allowed was not spent on the failure: the resend is stored.
    await socket.send({"type": "message", "content": "during the outage", "client_id": "locked-1"})
    assert (await socket.expect("ack"))["message"]["seq"] == 1


async def test_a_failed_batch_fails_its_own_senders_and_what_was_queued_behind_it_is_still_written() -> None:
    """A batch's error goes to each of its callers; the queue behind it is written without waiting for a new item."""
    held = HeldWriter(doomed="doomed")
    writer, release, written = held.writer, held.release, held.written
    failed = writer.enqueue("doomed")
    await asyncio.sleep(0)  # the first batch, ["doomed"], is running
    behind = [writer.enqueue("m1"), writer.enqueue("m2")]
    release.set()
    with pytest.raises(OperationalError, match="database is locked"):
        await asyncio.wait_for(failed, 2)
    assert await asyncio.wait_for(asyncio.gather(*behind), 2) == ["stored m1", "stored m2"]
    assert written == [["doomed"], ["m1", "m2"]]


async def test_an_unexpected_failure_while_handling_a_frame_answers_server_error_and_is_recorded(
    alice, bob, user_socket, monkeypatch
) -> None:
    """Not a refusal the protocol names: the client gets ``server_error`` for that frame, the operator a record."""

    async def failing(consumer, frame) -> None:
        raise ConnectionError("the search service went away")

    monkeypatch.setattr(ChatConsumer, "on_message", failing)
    socket = await user_socket(alice)
    await socket.send({"type": "message", "to": "bob", "content": "hi", "client_id": "boom-1", "ref": 7})
    assert await socket.next("error") == {
        "type": "error",
        "code": "server_error",
        "detail": "the server could not do that; try again",
        "client_id": "boom-1",
        "ref": 7,
    }
    rows = await database_sync_to_async(list)(MessagingError.objects.all())
    assert [(r.category, r.severity, r.message, r.user_id) for r in rows] == [
        ("connection_error", "error", "failed to handle a message frame", alice.pk)
    ]
    assert rows[0].context["exception"] == "ConnectionError: the search service went away"
    await socket.send({"type": "ping"})
    assert await socket.next("pong") == {"type": "pong"}


async def test_a_socket_that_dropped_without_a_close_frame_is_recorded_as_an_info_naming_its_user(
    alice, bob, chat
) -> None:
    socket = await chat(alice, "bob")
    await socket.comm.disconnect(code=1006)
    [row] = await database_sync_to_async(list)(MessagingError.objects.all())
    assert (row.category, row.severity, row.user_id, row.message) == (
        "connection_error",
        "info",
        alice.pk,
        "a chat socket closed without a close frame (1006)",
    )
    assert row.context == {"code": "abnormal_closure", "suppressed_since_last": 0}


async def test_an_answer_the_server_cannot_encode_is_a_server_error_frame_and_recorded(
    alice, bob, chat, monkeypatch
) -> None:
    """A frame with a value JSON cannot hold (a bug): the client still gets a frame, the operator the cause."""
    monkeypatch.setattr(base, "pong_frame", lambda: {"type": "pong", "at": object()})
    socket = await chat(alice, "bob")
    await socket.send({"type": "ping", "ref": 3})
    assert await socket.next("error") == {
        "type": "error",
        "code": "server_error",
        "detail": "the server could not encode its answer",
    }
    [row] = await database_sync_to_async(list)(MessagingError.objects.all())
    assert (row.category, row.severity, row.user_id) == ("json_serialization_error", "error", alice.pk)
    assert row.message.startswith("cannot serialize dict: ") and "object" in row.message
    assert row.context["frame"] == "pong"
    assert row.context["exception"] == f"SerializationError: {row.message}"
    monkeypatch.undo()  # the socket goes on
    await socket.send({"type": "ping"})
    assert await socket.next("pong") == {"type": "pong"}
