"""A handshake whose server-side work fails is closed with 1013 ("try again later"), recorded, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from messaging.error_models import ErrorCategory
from messaging.models import MessagingError
from messaging.realtime.base import TRY_AGAIN_LATER

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
