"""Fetches priced by the database work they cost, charged to the user across sockets, processes and the HTTP API (``MESSAGING_FETCH_WORK_LIMIT``).

The budget's arithmetic is checked with a clock of its own; the sockets are
the project's real ASGI application through ``WebsocketCommunicator``.
"""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.core.cache import cache
from django.test import override_settings

from messaging import conf
from messaging.conf import Rate
from messaging.guards.work import WorkBudget, fetch_budget, metered, metering
from messaging.store.conversations import get_or_create_direct

pytestmark = pytest.mark.django_db(transaction=True)

WORK_LIMIT = "1000/10s"


@database_sync_to_async
def direct(a: Any, b: Any) -> int:
    return get_or_create_direct(a, b)[0].pk


def budget() -> WorkBudget:
    return fetch_budget(conf.limits().fetch_work)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_budget_lets_fetches_through_until_the_work_owed_passes_the_window() -> None:
    clock = Clock()
    work = WorkBudget(Rate(1000, 10), name="arithmetic", clock=clock)  # 1 s of work per 10 s
    work.charge(7, 0.6)
    assert work.wait(7) == 0
    work.charge(7, 0.6)  # 1.2 s owed: 12 s to pay back, 2 s over the window
    assert work.wait(7) == pytest.approx(2.0)
    assert work.wait(8) == 0, "another user's budget is their own"
    clock.now += 2.0
    assert work.wait(7) == 0


def test_database_time_is_counted_only_inside_metering() -> None:
    timed = metered(lambda: sum(range(1000)))
    timed()
    with metering() as meter:
        timed()
        timed()
    assert meter.seconds > 0
    spent = meter.seconds
    timed()
    assert meter.seconds == spent


@override_settings(MESSAGING_FETCH_WORK_LIMIT=WORK_LIMIT)
async def test_a_fetch_is_charged_to_its_user_and_a_message_is_not(alice, bob, open_socket) -> None:
    conversation = await direct(alice, bob)
    socket = await open_socket(alice, "/ws/chat/")
    await socket.send({"type": "message", "conversation": conversation, "content": "hi", "client_id": "c1"})
    await socket.expect("ack")
    assert budget().debt(alice.pk) == 0
    await socket.send({"type": "history", "conversation": conversation, "before": None, "ref": 1})
    assert (await socket.expect("history"))["ref"] == 1
    await socket.send({"type": "ping", "ref": "p"})  # frames are handled in order: the charge is done by its pong
    await socket.expect("pong")
    assert budget().debt(alice.pk) > 0
    assert budget().debt(bob.pk) == 0


@override_settings(MESSAGING_FETCH_WORK_LIMIT=WORK_LIMIT, MESSAGING_BAD_FRAME_LIMIT="1/60s")
async def test_a_user_in_debt_is_refused_fetches_on_every_socket_before_any_database_work(
    alice, bob, open_socket
) -> None:
    conversation = await direct(alice, bob)
    first = await open_socket(alice, "/ws/chat/")
    second = await open_socket(alice, "/ws/chat/")
    budget().charge(alice.pk, 5.0)  # 50 s to pay back: 40 s over the window
    owed = budget().debt(alice.pk)
    for socket in (first, second):
        await socket.send({"type": "sync", "conversation": conversation, "after": 0, "ref": "s"})
        refused = await socket.expect("error")
        assert (refused["code"], refused["ref"], refused["setting"]) == (
            "fetch_work_limited",
            "s",
            "MESSAGING_FETCH_WORK_LIMIT",
        )
        assert 30 < refused["retry_after"] <= 40.01 and "MESSAGING_FETCH_WORK_LIMIT" in refused["detail"]
    assert budget().debt(alice.pk) <= owed, "a refused fetch cost nothing more"
    # Refusals are not bad frames, and what is not a fetch goes on.
    await first.send({"type": "message", "conversation": conversation, "content": "still", "client_id": "c2"})
    assert (await first.expect("ack"))["client_id"] == "c2"
    await first.send({"type": "ping", "ref": "p"})
    assert (await first.expect("pong"))["ref"] == "p"


@override_settings(MESSAGING_FETCH_WORK_LIMIT=WORK_LIMIT)
async def test_one_users_debt_does_not_refuse_another_users_fetches(alice, bob, open_socket) -> None:
    conversation = await direct(alice, bob)
    budget().charge(alice.pk, 5.0)
    socket = await open_socket(bob, "/ws/chat/")
    await socket.send({"type": "history", "conversation": conversation, "before": None, "ref": 2})
    assert (await socket.expect("history"))["ref"] == 2


async def test_a_reconnecting_tab_gets_every_page_within_the_default_budget(alice, bob, open_socket) -> None:
    conversation = await direct(alice, bob)
    sender = await open_socket(bob, "/ws/chat/")
    for i in range(30):
        await sender.send({"type": "message", "conversation": conversation, "content": f"m{i}", "client_id": f"m{i}"})
        await sender.expect("ack", timeout=10)
    for tab in range(3):
        socket = await open_socket(alice, "/ws/chat/")
        frames = [
            {"type": "resume", "cursors": {str(conversation): 0}, "ref": f"{tab}r"},
            {"type": "conversations", "ref": f"{tab}c"},
            {"type": "history", "conversation": conversation, "before": None, "ref": f"{tab}h"},
            {"type": "sync", "conversation": conversation, "after": 0, "ref": f"{tab}s"},
            {"type": "members", "conversation": conversation, "ref": f"{tab}m"},
        ]
        for frame in frames:
            await socket.send(frame)
        answered = [await socket.expect_where(lambda f: "ref" in f, timeout=10) for _ in frames]
        assert [f["type"] for f in answered] == ["resume", "conversations", "history", "sync", "members"]


@override_settings(MESSAGING_FETCH_WORK_LIMIT=WORK_LIMIT)
async def test_a_socket_refused_for_debt_refuses_further_fetches_itself_until_that_debt_is_paid(
    alice, bob, open_socket
) -> None:
    """Refusing a flood of fetches costs no cache read: the socket remembers until when its user owes."""
    conversation = await direct(alice, bob)
    socket = await open_socket(alice, "/ws/chat/")
    budget().charge(alice.pk, 5.0)
    await socket.send({"type": "sync", "conversation": conversation, "after": 0, "ref": 1})
    assert (await socket.expect("error"))["code"] == "fetch_work_limited"
    await database_sync_to_async(cache.clear)()  # the shared debt gone: only the socket's memory refuses now
    await socket.send({"type": "sync", "conversation": conversation, "after": 0, "ref": 2})
    assert (await socket.expect("error"))["code"] == "fetch_work_limited"
    other = await open_socket(alice, "/ws/chat/")
    await other.send({"type": "sync", "conversation": conversation, "after": 0, "ref": 3})
    assert (await other.expect("sync"))["ref"] == 3
