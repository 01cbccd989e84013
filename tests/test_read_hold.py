"""A WebSocket stops being read while its consumer is behind, and for a while after a refusal (``linkup/server.py``).

:class:`FrameQueue` is driven with a stand-in for Twisted's transport (only
``pauseProducing``/``resumeProducing`` are looked at); the consumer side
runs the project's real ASGI application with a probe that records what it
is asked.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from django.test import override_settings

from linkup.server import MAX_QUEUED_FRAMES, FrameQueue
from tests.support import communicator

pytestmark = pytest.mark.django_db(transaction=True)


class Transport:
    def __init__(self) -> None:
        self.reading = True

    def pauseProducing(self) -> None:
        self.reading = False

    def resumeProducing(self) -> None:
        self.reading = True


class Protocol:
    def __init__(self) -> None:
        self.transport = Transport()


async def test_a_websocket_is_not_read_while_its_consumer_has_max_queued_frames_waiting() -> None:
    protocol = Protocol()
    queue = FrameQueue(protocol)
    for i in range(MAX_QUEUED_FRAMES - 1):
        queue.put_nowait({"type": "websocket.receive", "text": str(i)})
    assert protocol.transport.reading
    queue.put_nowait({"type": "websocket.receive", "text": "last"})
    assert not protocol.transport.reading
    while queue.qsize() > MAX_QUEUED_FRAMES // 2 + 1:
        await queue.get()
        assert not protocol.transport.reading
    await queue.get()
    assert protocol.transport.reading


async def test_during_a_hold_the_socket_is_not_read_and_the_consumer_is_handed_nothing() -> None:
    protocol = Protocol()
    queue = FrameQueue(protocol)
    queue.put_nowait({"type": "websocket.receive", "text": "x"})
    queue.hold(0.2)
    assert not protocol.transport.reading
    getting = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    assert not getting.done(), "a frame read before the hold waits for its end"
    assert (await asyncio.wait_for(getting, 5))["text"] == "x"
    assert protocol.transport.reading, "read again once the hold is over"


async def test_extending_a_hold_keeps_one_timer_and_reads_again_after_the_last_end() -> None:
    protocol = Protocol()
    queue = FrameQueue(protocol)
    for _ in range(20):
        queue.hold(0.05)
    timer = queue._timer
    queue.hold(0.1)
    assert queue._timer is timer
    for _ in range(500):
        await asyncio.sleep(0.01)
        if protocol.transport.reading:
            break
    assert protocol.transport.reading and queue._timer is None


class Probe:
    """The consumer's view of its connection, recording the holds it asks for."""

    def __init__(self) -> None:
        self.holds: list[float] = []

    def pending_bytes(self) -> int:
        return 0

    def abort(self) -> None:
        raise AssertionError("not expected")

    def hold_reading(self, seconds: float) -> None:
        self.holds.append(seconds)


async def open_with_probe(user: Any, cookies: Any) -> tuple[Any, Probe]:
    from channels.db import database_sync_to_async

    comm = communicator("/ws/chat/", await database_sync_to_async(cookies)(user))
    probe = Probe()
    comm.scope["extensions"] = {"linkup.transport": probe}
    connected, _ = await comm.connect(timeout=5)
    assert connected
    assert (await comm.receive_json_from(timeout=5))["type"] == "connected"
    return comm, probe


@override_settings(MESSAGING_PING_RATE_LIMIT="1/60s", MESSAGING_REFUSED_HOLD_SECONDS=0.5)
async def test_a_rate_limited_answer_stops_reading_the_socket_for_retry_after_at_most_the_setting(
    alice, cookies
) -> None:
    comm, probe = await open_with_probe(alice, cookies)
    try:
        await comm.send_json_to({"type": "ping", "ref": 1})
        assert (await comm.receive_json_from(timeout=5))["type"] == "pong"
        assert probe.holds == [], "an answered frame holds nothing"
        await comm.send_json_to({"type": "ping", "ref": 2})
        refused = await comm.receive_json_from(timeout=5)
        assert refused["code"] == "ping_rate_limited" and refused["retry_after"] > 0.5
        assert probe.holds == [0.5]
    finally:
        await comm.disconnect()


@override_settings(MESSAGING_PING_RATE_LIMIT="1/60s", MESSAGING_REFUSED_HOLD_SECONDS=0)
async def test_with_the_hold_off_a_refusal_keeps_reading(alice, cookies) -> None:
    comm, probe = await open_with_probe(alice, cookies)
    try:
        for ref in (1, 2):
            await comm.send_json_to({"type": "ping", "ref": ref})
            await comm.receive_json_from(timeout=5)
        assert probe.holds == []
    finally:
        await comm.disconnect()
