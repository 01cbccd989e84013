"""A handshake whose server-side work fails is closed with 1013 ("try again later"), recorded, never a 500."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from messaging import conf
from messaging.error_models import ErrorCategory
from messaging.models import MessagingError
from messaging.realtime.base import TRY_AGAIN_LATER

from .cursors import direct
from .faults import table_unreadable
from .support import communicator


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/ws/chat/", "/ws/notifications/", "/ws/chat/bob/"])
async def test_a_channel_layer_failure_while_opening_closes_with_1013_and_is_recorded(
    path: str, alice: Any, bob: Any, cookies: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unreachable(group: str, channel: str) -> None:
        raise ConnectionError("Connection refused (the channel layer's Redis is restarting)")

    monkeypatch.setattr(get_channel_layer(), "group_add", unreachable)
    comm = communicator(path, await database_sync_to_async(cookies)(alice))
    connected, _ = await comm.connect(timeout=5)
    assert connected, "accepted, so that the close code reaches the client"
    closed = await comm.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": TRY_AGAIN_LATER}
    await comm.send_input({"type": "websocket.disconnect", "code": TRY_AGAIN_LATER})
    await comm.wait(timeout=5)
    assert comm.future.exception() is None, "the consumer ended without an error (daphne would have answered 500)"
    recorded = await database_sync_to_async(
        lambda: list(
            MessagingError.objects.filter(category=ErrorCategory.CONNECTION_ERROR).values(
                "message", "user_id", "context"
            )
        )
    )()
    assert [r["user_id"] for r in recorded] == [alice.pk]
    assert "closed with 1013" in recorded[0]["message"]
    # the operator sees what failed, not only that something did
    assert (
        recorded[0]["context"]["exception"]
        == "ConnectionError: Connection refused (the channel layer's Redis is restarting)"
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/ws/chat/", "/ws/notifications/"])
async def test_a_database_failure_after_the_accept_closes_with_1013_and_accepts_only_once(
    path: str, alice: Any, cookies: Any
) -> None:
    # Registering the socket reads messaging_connection after the accept: the close must not accept again.
    cookie = await database_sync_to_async(cookies)(alice)
    async with table_unreadable("messaging_connection"):
        comm = communicator(path, cookie)
        connected, _ = await comm.connect(timeout=5)
        assert connected
        assert await comm.receive_output(timeout=5) == {"type": "websocket.close", "code": TRY_AGAIN_LATER}
        await comm.send_input({"type": "websocket.disconnect", "code": TRY_AGAIN_LATER})
        await comm.wait(timeout=5)
    assert comm.future.exception() is None
    recorded = await database_sync_to_async(
        lambda: list(
            MessagingError.objects.filter(message__contains="closed with 1013").values_list("user_id", flat=True)
        )
    )()
    assert recorded == [alice.pk]


def stalled_for(groups_prefix: str, real_group_add: Any, seconds: float | None) -> Any:
    """A ``group_add`` that waits ``seconds`` (None: for ever) for groups named ``groups_prefix``…, as a stalled Redis would."""

    async def group_add(group: str, channel: str) -> None:
        if group.startswith(groups_prefix):
            if seconds is None:
                await asyncio.Event().wait()
            await asyncio.sleep(seconds)
        await real_group_add(group, channel)

    return group_add


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/ws/chat/", "/ws/notifications/", "/ws/chat/bob/"])
async def test_a_channel_layer_that_stalls_while_opening_is_given_up_with_1013_and_recorded(
    path: str, alice: Any, bob: Any, cookies: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Left alone, autobahn would drop the connection at daphne's 5 s without an HTTP answer.
    layer = get_channel_layer()
    monkeypatch.setattr(layer, "group_add", stalled_for("", layer.group_add, None))
    comm = communicator(path, await database_sync_to_async(cookies)(alice))
    with override_settings(MESSAGING_HANDSHAKE_BUDGET_SECONDS=0.1, MESSAGING_HANDSHAKE_ACCEPT_SECONDS=0.3):
        connected, _ = await comm.connect(timeout=5)
    assert connected, "accepted, so that the close code reaches the client"
    assert await comm.receive_output(timeout=5) == {"type": "websocket.close", "code": TRY_AGAIN_LATER}
    await comm.send_input({"type": "websocket.disconnect", "code": TRY_AGAIN_LATER})
    await comm.wait(timeout=5)
    assert comm.future.exception() is None
    recorded = await database_sync_to_async(
        lambda: list(MessagingError.objects.values_list("category", "user_id", "context"))
    )()
    assert [(category, user_id) for category, user_id, _ in recorded] == [(ErrorCategory.CONNECTION_ERROR, alice.pk)]
    assert recorded[0][2]["exception"] == (
        "OpeningTooSlow: not accepted within MESSAGING_HANDSHAKE_ACCEPT_SECONDS (0.3 s) of its arrival"
    )


@pytest.mark.django_db(transaction=True)
async def test_the_work_after_the_accept_is_not_bound_by_the_handshake_deadline(
    alice: Any, bob: Any, cookies: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The conversation groups are joined after the accept: slower than the deadline, the socket still opens.
    await database_sync_to_async(direct)(alice, bob)
    layer = get_channel_layer()
    monkeypatch.setattr(layer, "group_add", stalled_for("conversation.", layer.group_add, 0.6))
    comm = communicator("/ws/chat/", await database_sync_to_async(cookies)(alice))
    with override_settings(MESSAGING_HANDSHAKE_BUDGET_SECONDS=0.1, MESSAGING_HANDSHAKE_ACCEPT_SECONDS=0.3):
        connected, _ = await comm.connect(timeout=5)
        assert connected
        assert (await comm.receive_json_from(timeout=5))["type"] == "connected"
    await comm.disconnect()
    assert await database_sync_to_async(MessagingError.objects.count)() == 0


async def closed_to_retry(comm: Any) -> list[str]:
    """Open ``comm``, expect the accept then a 1013 close, end it; the exceptions recorded (``MessagingError``)."""
    connected, _ = await comm.connect(timeout=5)
    assert connected, "accepted, so that the close code reaches the client"
    assert await comm.receive_output(timeout=5) == {"type": "websocket.close", "code": TRY_AGAIN_LATER}
    await comm.send_input({"type": "websocket.disconnect", "code": TRY_AGAIN_LATER})
    await comm.wait(timeout=5)
    return await database_sync_to_async(
        lambda: list(MessagingError.objects.values_list("context__exception", flat=True))
    )()


@pytest.mark.django_db(transaction=True)
async def test_the_handshake_deadline_counts_from_its_arrival_not_from_when_its_consumer_starts(
    alice: Any, cookies: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The session's user is read before the consumer starts: 1 s of the 1.6 s are gone by then, so a
    # 0.8 s stall of the channel layer outlasts what is left, though it is shorter than the whole deadline.
    import channels.auth

    read_user = channels.auth.get_user

    async def slow_user(scope: Any) -> Any:
        await asyncio.sleep(1.0)
        return await read_user(scope)

    monkeypatch.setattr(channels.auth, "get_user", slow_user)
    layer = get_channel_layer()
    join = layer.group_add
    stalls = [0.8]  # the first group only (the socket joins more than one)

    async def stalled_once(group: str, channel: str) -> None:
        if stalls:
            await asyncio.sleep(stalls.pop())
        await join(group, channel)

    monkeypatch.setattr(layer, "group_add", stalled_once)
    comm = communicator("/ws/notifications/", await database_sync_to_async(cookies)(alice))
    with override_settings(MESSAGING_HANDSHAKE_BUDGET_SECONDS=1.5, MESSAGING_HANDSHAKE_ACCEPT_SECONDS=1.6):
        exceptions = await closed_to_retry(comm)
    assert [e.split(":")[0] for e in exceptions] == ["OpeningTooSlow"]


@pytest.mark.django_db(transaction=True)
async def test_a_timeout_of_the_opening_work_itself_is_recorded_as_that_timeout_not_as_the_deadline(
    alice: Any, cookies: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def timed_out(group: str, channel: str) -> None:
        raise TimeoutError("Timeout reading from the channel layer's Redis")

    monkeypatch.setattr(get_channel_layer(), "group_add", timed_out)
    comm = communicator("/ws/notifications/", await database_sync_to_async(cookies)(alice))
    assert await closed_to_retry(comm) == ["TimeoutError: Timeout reading from the channel layer's Redis"]


@pytest.mark.parametrize("accept_seconds", [conf.DEFAULT_HANDSHAKE_BUDGET_SECONDS, 1.0])
def test_an_accept_deadline_not_past_the_handshake_budget_is_refused(accept_seconds: float) -> None:
    with (
        override_settings(MESSAGING_HANDSHAKE_ACCEPT_SECONDS=accept_seconds),
        pytest.raises(ImproperlyConfigured, match="MESSAGING_HANDSHAKE_ACCEPT_SECONDS must be longer"),
    ):
        conf.limits()
