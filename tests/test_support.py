"""The test helpers themselves: a strict reader must fail on what it was not told to expect."""

from __future__ import annotations

import pytest

from .support import UnexpectedFrame

pytestmark = pytest.mark.django_db(transaction=True)


async def test_next_returns_the_frame_that_comes_next_when_it_is_the_one_named(alice, user_socket) -> None:
    socket = await user_socket(alice)
    await socket.send({"type": "ping", "ref": "p1"})
    assert (await socket.next("pong", ref="p1"))["type"] == "pong"


async def test_next_fails_on_any_other_frame_where_expect_would_skip_it(alice, user_socket) -> None:
    socket = await user_socket(alice)
    await socket.send({"type": "ping", "ref": "p1"})
    await socket.send({"type": "ping", "ref": "p2"})
    with pytest.raises(UnexpectedFrame, match="expected pong"):
        await socket.next("pong", ref="p2")  # p1's pong comes first
    assert (await socket.expect("pong", ref="p2"))["ref"] == "p2"
