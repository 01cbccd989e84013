"""Fair under abuse: every frame kind has an allowance, refused work never reaches the database, repeats are limited.

Each test drives the project's real ASGI application through
``WebsocketCommunicator`` (the per-socket byte bound needs a real daphne:
``tests/e2e/test_slow_readers.py``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import override_settings

from messaging.models import Event
from messaging.realtime.writer import Dropped, GroupCommit, message_writer
from messaging.store.conversations import get_or_create_direct
from messaging.store.events import Appended, NewMessage

from .support.writers import HeldWriter

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def direct(a: Any, b: Any) -> int:
    return get_or_create_direct(a, b)[0].pk


def message(conversation: int, client_id: str, content: str = "hi") -> dict[str, Any]:
    return {"type": "message", "conversation": conversation, "content": content, "client_id": client_id}


async def answers(socket: Any, count: int, timeout: float = 5) -> list[dict[str, Any]]:
    """The next ``count`` acks and errors, in arrival order (other pushes skipped)."""
    got = []
    while len(got) < count:
        frame = await socket.expect_where(lambda f: f["type"] in ("ack", "error", "pong", "sync"), timeout=timeout)
        got.append(frame)
    return got


@override_settings(MESSAGING_RATE_LIMIT="5/60s", MESSAGING_REPEAT_RATE_LIMIT="off")
async def test_a_message_over_the_rate_never_enters_the_shared_write_queue(alice, bob, open_socket) -> None:
    conversation = await direct(alice, bob)
    socket = await open_socket(alice, "/ws/chat/")
    queued_before = message_writer.enqueued
    for i in range(30):
        await socket.send(message(conversation, f"m{i}"))
    got = await answers(socket, 30)
    acks = [f for f in got if f["type"] == "ack"]
    refused = [f for f in got if f["type"] == "error"]
    assert len(acks) == 5 and len(refused) == 25
    assert {f["code"] for f in refused} == {"rate_limited"} and all(f["retry_after"] > 0 for f in refused)
    assert message_writer.enqueued - queued_before == 5
    assert await database_sync_to_async(Event.objects.filter(kind="message").count)() == 5


@override_settings(MESSAGING_RATE_LIMIT="50/1s", MESSAGING_MAX_IN_FLIGHT=20)
async def test_an_outbox_burst_of_100_is_all_acked_when_the_client_follows_retry_after(alice, bob, open_socket) -> None:
    conversation = await direct(alice, bob)
    socket = await open_socket(alice, "/ws/chat/")
    pending = {f"burst-{i}" for i in range(100)}
    acked: set[str] = set()
    rounds = 0
    while pending:
        rounds += 1
        assert rounds < 20, f"still {len(pending)} unacked"
        for client_id in sorted(pending):
            await socket.send(message(conversation, client_id))
        wait = 0.0
        for frame in await answers(socket, len(pending)):
            if frame["type"] == "ack":
                acked.add(frame["client_id"])
            else:
                # the user's rate or the socket's in-flight cap: either says when to come back
                assert frame["code"] in ("rate_limited", "too_many_in_flight") and frame["retry_after"] > 0, frame
                wait = max(wait, frame["retry_after"])
        pending -= acked
        await asyncio.sleep(wait)
    assert len(acked) == 100 and rounds > 1
    assert not socket.comm.future.done(), "the socket was closed"
    assert await database_sync_to_async(Event.objects.filter(kind="message").count)() == 100


@override_settings(MESSAGING_PING_RATE_LIMIT="5/60s", MESSAGING_BAD_FRAME_LIMIT="3/60s")
async def test_a_ping_flood_is_refused_with_retry_after_and_never_closes_the_socket(alice, bob, open_socket) -> None:
    socket = await open_socket(alice, "/ws/chat/")
    for _ in range(20):
        await socket.send({"type": "ping"})
    got = await answers(socket, 20)
    assert [f["type"] for f in got].count("pong") == 5
    refusals = [f for f in got if f["type"] == "error"]
    assert len(refusals) == 15 and all(f["code"] == "ping_rate_limited" and f["retry_after"] > 0 for f in refusals)
    conversation = await direct(alice, bob)
    await socket.send(message(conversation, "still-open"))
    assert (await socket.expect("ack"))["client_id"] == "still-open"


@override_settings(MESSAGING_FETCH_RATE_LIMIT="3/60s")
async def test_fetch_frames_draw_from_a_per_socket_allowance(alice, bob, open_socket) -> None:
    conversation = await direct(alice, bob)
    socket = await open_socket(alice, "/ws/chat/")
    frames = [
        {"type": "sync", "conversation": conversation, "after": 0, "ref": 1},
        {"type": "history", "conversation": conversation, "before": None, "ref": 2},
        {"type": "conversations", "ref": 3},
        {"type": "resume", "cursors": {str(conversation): 0}, "ref": 4},
        {"type": "members", "conversation": conversation, "ref": 5},
    ]
    for frame in frames:
        await socket.send(frame)
    got = {}
    for _ in frames:
        frame = await socket.expect_where(lambda f: "ref" in f)
        got[frame["ref"]] = frame
    assert [got[ref]["type"] for ref in (1, 2, 3)] == ["sync", "history", "conversations"]
    assert [(got[ref]["code"], got[ref]["retry_after"] > 0) for ref in (4, 5)] == [("fetch_rate_limited", True)] * 2
    other = await open_socket(alice, "/ws/chat/")  # per socket: another tab has its own
    await other.send({"type": "conversations", "ref": "x"})
    assert (await other.expect("conversations"))["ref"] == "x"


@override_settings(MESSAGING_REPORT_RATE_LIMIT="4/60s")
async def test_receipt_reports_draw_from_a_per_socket_allowance(alice, bob, open_socket) -> None:
    conversation = await direct(alice, bob)
    socket = await open_socket(alice, "/ws/chat/")
    for i in range(6):
        await socket.send({"type": "read", "conversation": conversation, "up_to": 0, "ref": i})
    refused = [await socket.expect("error") for _ in range(2)]
    assert [(f["code"], f["ref"]) for f in refused] == [("report_rate_limited", 4), ("report_rate_limited", 5)]


@override_settings(MESSAGING_RATE_LIMIT="10/60s", MESSAGING_REPEAT_RATE_LIMIT="5/60s")
async def test_a_repeat_storm_is_acked_to_the_sender_only_and_limited_beyond_the_repeat_allowance(
    alice, bob, open_socket
) -> None:
    conversation = await direct(alice, bob)
    socket = await open_socket(alice, "/ws/chat/")
    peer = await open_socket(bob, "/ws/chat/")
    await socket.send(message(conversation, "once"))
    assert (await socket.expect("ack"))["event"]["seq"] == 1
    await peer.expect("event")
    for _ in range(30):
        await socket.send(message(conversation, "once"))
    got = await answers(socket, 30)
    acks = [f for f in got if f["type"] == "ack"]
    # 5 repeats free (their token given back), then each costs a token: the 9 left.
    assert len(acks) == 5 + 9 and all(f["event"]["seq"] == 1 for f in acks)
    assert {f["code"] for f in got if f["type"] == "error"} == {"rate_limited"}
    assert await peer.nothing(0.3), "a repeat was pushed to the other member"
    assert await database_sync_to_async(Event.objects.filter(kind="message").count)() == 1


@override_settings(MESSAGING_RATE_LIMIT="2/60s", MESSAGING_REPEAT_RATE_LIMIT="5/60s")
async def test_over_the_rate_a_resend_of_a_stored_message_still_gets_its_ack(alice, bob, open_socket) -> None:
    conversation = await direct(alice, bob)
    socket = await open_socket(alice, "/ws/chat/")
    for client_id in ("a", "b"):
        await socket.send(message(conversation, client_id))
        await socket.expect("ack")
    await socket.send(message(conversation, "c"))
    assert (await socket.expect("error"))["code"] == "rate_limited"
    await socket.send(message(conversation, "a"))  # an outbox resent after a reconnect
    assert (await socket.expect("ack"))["event"]["seq"] == 1


@override_settings(MESSAGING_RATE_LIMIT="3/60s")
async def test_group_changes_draw_from_the_users_bucket_before_the_database(alice, bob, carol, open_socket) -> None:
    socket = await open_socket(alice, "/ws/chat/")
    for i in range(5):
        await socket.send(
            {"type": "create_group", "title": f"g{i}", "members": ["bob"], "client_id": f"g{i}", "ref": i}
        )
    got = {}
    for _ in range(5):
        frame = await socket.expect_where(lambda f: f["type"] in ("ack", "error"))
        got[frame["ref"]] = frame["type"] if frame["type"] == "ack" else frame["code"]
    assert list(got.values()).count("ack") == 3 and list(got.values()).count("rate_limited") == 2
    assert await database_sync_to_async(Event.objects.filter(kind="created").count)() == 3


async def test_closing_a_socket_takes_back_what_it_still_had_queued() -> None:
    """Items of a closed socket that wait behind a running batch are never written."""
    held = HeldWriter()
    writer, release, written = held.writer, held.release, held.written
    first = writer.enqueue("a1", owner="a")
    await asyncio.sleep(0)  # the first batch, ["a1"], is running
    queued = [writer.enqueue("a2", owner="a"), writer.enqueue("b1", owner="b"), writer.enqueue("a3", owner="a")]
    assert writer.drop("a") == 2
    release.set()
    assert await first == "stored a1"
    assert await queued[1] == "stored b1"
    for future in (queued[0], queued[2]):
        with pytest.raises(Dropped):
            await future
    assert written == [["a1"], ["b1"]]
    assert (writer.enqueued, writer.dropped) == (4, 2)  # what the metrics and the fairness bench read


async def test_the_dropped_count_adds_up_over_every_socket_that_closed() -> None:
    """``dropped`` counts every item ever taken back (the metrics read it), not only the last socket's."""
    held = HeldWriter()
    writer, release = held.writer, held.release
    first = writer.enqueue("a1", owner="a")
    await asyncio.sleep(0)  # the first batch, ["a1"], is running
    queued = [writer.enqueue("a2", owner="a"), writer.enqueue("b1", owner="b"), writer.enqueue("b2", owner="b")]
    assert (writer.drop("a"), writer.drop("b")) == (1, 2)
    assert writer.dropped == 3
    release.set()
    assert await asyncio.wait_for(first, 2) == "stored a1"
    for future in queued:
        with pytest.raises(Dropped):
            await future


async def test_items_queued_while_a_batch_is_written_wait_for_its_commit_and_go_in_one_next_batch() -> None:
    """One batch at a time: what arrives meanwhile is the next batch, started only after the first returned."""
    held = HeldWriter()
    writer, release, written = held.writer, held.release, held.written
    first = writer.enqueue("m1")
    await asyncio.sleep(0)  # the first batch, ["m1"], is running
    behind = [writer.enqueue("m2"), writer.enqueue("m3")]
    for _ in range(5):
        await asyncio.sleep(0)
    assert written == [["m1"]]  # nothing else is written while the first batch is
    release.set()
    assert await asyncio.wait_for(asyncio.gather(first, *behind), 2) == ["stored m1", "stored m2", "stored m3"]
    assert written == [["m1"], ["m2", "m3"]]


async def test_a_batch_takes_the_database_threads_turns_in_the_shared_lane_not_as_whoever_queued_first() -> None:
    from messaging.guards import fair_turns

    lanes: list[object] = []

    async def run(items: list[str]) -> list[str]:
        lanes.append(fair_turns.acting_for())
        return items

    writer: GroupCommit[str, str] = GroupCommit("test", run)
    fair_turns.act_for(42)  # this task queues as user 42 (a socket's handler does)
    assert await asyncio.wait_for(writer.enqueue("m1"), 2) == "m1"
    assert lanes == [None]


async def test_a_message_stored_through_the_shared_writer_carries_who_it_notifies(alice, bob) -> None:
    """The writer reads the new message's recipients in its own trip: the notification step needs no second one."""
    conversation = await direct(alice, bob)
    outcome = await asyncio.wait_for(message_writer.submit(NewMessage(conversation, alice, "hi", "w1")), 5)
    assert isinstance(outcome, Appended) and outcome.created
    assert outcome.notify == (bob.pk,)  # bob has no live tab on it; the sender is left out


@override_settings(MESSAGING_RATE_LIMIT="2/60s")
def test_an_http_message_over_the_rate_is_429_with_retry_after(alice, bob) -> None:
    from django.test import Client

    client = Client()
    client.force_login(alice)
    conversation = get_or_create_direct(alice, bob)[0].pk
    url = f"/messages/api/conversations/{conversation}/messages"
    codes = [
        client.post(url, {"content": "hi", "client_id": f"h{i}"}, content_type="application/json").status_code
        for i in range(2)
    ]
    refused = client.post(url, {"content": "hi", "client_id": "h3"}, content_type="application/json")
    assert codes == [201, 201] and refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1 and refused.json()["retry_after"] > 0
