"""A handshake that waited longer than ``MESSAGING_HANDSHAKE_BUDGET_SECONDS`` is refused before its database work."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import override_settings
from prometheus_client import REGISTRY

from messaging.models import Connection, MessagingError
from messaging.realtime import handshake

from .support import communicator

pytestmark = pytest.mark.django_db(transaction=True)


def late_refusals_counted(consumer: str) -> float:
    """``linkup_handshakes_late_total`` for one consumer, as ``/metrics`` shows it."""
    return REGISTRY.get_sample_value("linkup_handshakes_late_total", {"consumer": consumer}) or 0.0


async def refused(path: str, cookie: str) -> bool:
    comm = communicator(path, cookie)
    connected, _ = await comm.connect(timeout=5)
    await comm.disconnect()
    return not connected


@pytest.mark.parametrize("path", ["/ws/chat/", "/ws/notifications/", "/ws/chat/bob/"])
async def test_a_handshake_older_than_the_budget_is_refused_and_registers_nothing(path, alice, bob, cookies) -> None:
    cookie = await database_sync_to_async(cookies)(alice)
    # Every real handshake takes longer than a microsecond to reach its consumer.
    with override_settings(MESSAGING_HANDSHAKE_BUDGET_SECONDS=1e-6):
        assert await refused(path, cookie)
    assert await database_sync_to_async(Connection.objects.count)() == 0


async def test_the_first_late_refusal_of_a_minute_is_recorded_and_the_rest_only_counted(
    alice, cookies, monkeypatch
) -> None:
    monkeypatch.setattr(handshake, "_last_recorded", None)
    cookie = await database_sync_to_async(cookies)(alice)
    counted_before = late_refusals_counted("chat")
    with override_settings(MESSAGING_HANDSHAKE_BUDGET_SECONDS=1e-6):
        for _ in range(3):
            assert await refused("/ws/chat/", cookie)
    assert late_refusals_counted("chat") == counted_before + 3
    rows = await database_sync_to_async(list)(MessagingError.objects.filter(context__code="handshake_late"))
    assert len(rows) == 1 and "MESSAGING_HANDSHAKE_BUDGET_SECONDS" in rows[0].message
    assert (rows[0].category, rows[0].severity) == ("connection_error", "warning")
    assert set(rows[0].context) == {"code", "waited_seconds"} and rows[0].context["waited_seconds"] >= 0


async def test_a_handshake_within_the_budget_is_served(alice, cookies) -> None:
    cookie = await database_sync_to_async(cookies)(alice)
    comm = communicator("/ws/chat/", cookie)
    connected, _ = await comm.connect(timeout=5)
    assert connected
    assert (await comm.receive_json_from(timeout=5))["type"] == "connected"
    await comm.disconnect()


def test_a_scope_the_clock_did_not_stamp_has_no_age() -> None:
    assert handshake.handshake_age({"type": "websocket"}) is None


def held_app(release: asyncio.Event, ready: asyncio.Event | None = None) -> Any:
    """An ASGI app that accepts each handshake once ``release`` is set, then sends its ready frame once ``ready`` is."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "websocket.connect"
        await release.wait()
        if ready is not None:
            handshake.pending_until_ready(scope)
        await send({"type": "websocket.accept"})
        if ready is not None:
            await ready.wait()
            await send({"type": "websocket.send", "text": '{"type": "connected"}'})
        while (await receive())["type"] != "websocket.disconnect":
            pass

    return app


async def test_a_handshake_arriving_with_the_pending_limit_reached_is_refused_at_once() -> None:
    release = asyncio.Event()
    gate = handshake.HandshakeClock(held_app(release))
    with override_settings(MESSAGING_MAX_PENDING_HANDSHAKES=2):
        first, second, third = (WebsocketCommunicator(gate, "/ws/chat/") for _ in range(3))
        waiting = [asyncio.create_task(c.connect(timeout=5)) for c in (first, second)]
        await asyncio.sleep(0.05)
        assert gate.pending == 2
        assert (await third.connect(timeout=1))[0] is False  # refused without waiting for the two
        release.set()
        assert [connected for connected, _ in await asyncio.gather(*waiting)] == [True, True]
        assert gate.pending == 0  # accepted: no longer pending, however long the sockets stay open
        fourth = WebsocketCommunicator(gate, "/ws/chat/")
        assert (await fourth.connect(timeout=5))[0] is True
        for c in (first, second, fourth):
            await c.disconnect()


async def test_an_accepted_handshake_that_asked_stays_pending_until_its_ready_frame() -> None:
    """LinkUp accepts before registering the socket: the registration is what the limit must bound."""
    release, ready = asyncio.Event(), asyncio.Event()
    release.set()
    gate = handshake.HandshakeClock(held_app(release, ready))
    with override_settings(MESSAGING_MAX_PENDING_HANDSHAKES=1):
        first, second = WebsocketCommunicator(gate, "/ws/chat/"), WebsocketCommunicator(gate, "/ws/chat/")
        assert (await first.connect(timeout=5))[0] is True
        assert gate.pending == 1  # accepted, still registering
        assert (await second.connect(timeout=1))[0] is False
        ready.set()
        assert await first.receive_json_from(timeout=5) == {"type": "connected"}
        assert gate.pending == 0
        await first.disconnect()


@pytest.mark.parametrize(("path", "ready"), [("/ws/chat/", "connected"), ("/ws/notifications/", "unread_count")])
async def test_linkup_sockets_ask_to_count_as_pending_until_their_ready_frame(
    path, ready, alice, cookies, monkeypatch
) -> None:
    marks: list[handshake.Pending] = []

    class Recorded(handshake.Pending):
        def __init__(self) -> None:
            super().__init__()
            marks.append(self)

    monkeypatch.setattr(handshake, "Pending", Recorded)
    comm = communicator(path, await database_sync_to_async(cookies)(alice))
    assert (await comm.connect(timeout=5))[0] is True
    assert (await comm.receive_json_from(timeout=5))["type"] == ready
    assert [mark.until_ready for mark in marks] == [True]
    await comm.disconnect()
