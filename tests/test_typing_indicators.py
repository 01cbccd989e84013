"""One socket's typing indicators (``messaging/realtime/typing.py``): what the others are told, and when.

``TypingIndicators`` calls ``announce(conversation, is_typing)`` whenever the
others must see a change. These tests give it a recorder for ``announce`` and
the event loop's own clock, moved by hand where a test is about time (the
loop's ``time`` is what the indicator reads), so nothing here waits on a real
timer except the one test of the expiry itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from messaging.realtime.typing import TypingIndicators

EXPIRY = 6.0


class Announced(list[tuple[int, bool]]):
    async def __call__(self, conversation_id: int, is_typing: bool) -> None:
        self.append((conversation_id, is_typing))


@pytest.fixture
async def clock() -> AsyncIterator[list[float]]:
    """The running loop's clock, frozen at 1,000 s; a test moves it with ``clock[0] += seconds``."""
    loop = asyncio.get_running_loop()
    now = [1000.0]
    loop.time = lambda: now[0]  # type: ignore[method-assign]
    try:
        yield now
    finally:
        del loop.time  # the class's own method again


def indicators(announced: Announced, expiry: float = EXPIRY) -> TypingIndicators:
    return TypingIndicators(expiry, announced)


async def test_typing_is_announced_once_however_many_keystrokes_come_within_half_the_expiry(clock) -> None:
    announced = Announced()
    typing = indicators(announced)
    await typing.set(7, True)
    for _ in range(5):
        clock[0] += EXPIRY * 0.09  # 0.45 of the expiry in all: still under half
        await typing.set(7, True)
    assert announced == [(7, True)]
    assert typing.is_typing(7)


@pytest.mark.parametrize(
    ("after", "announced_again"),
    [(0.6, True), (0.5, True), (0.4, False)],
    ids=["after-half", "at-exactly-half", "at-two-fifths"],
)
async def test_a_keystroke_announces_typing_again_once_half_the_expiry_has_passed(
    clock, after: float, announced_again: bool
) -> None:
    """ "At most once per half expiry": from half an expiry after the last announcement, the next one may go."""
    announced = Announced()
    typing = indicators(announced)
    await typing.set(7, True)
    clock[0] += EXPIRY * after
    await typing.set(7, True)
    assert announced == [(7, True)] * (2 if announced_again else 1)


async def test_stopping_is_announced_and_the_indicator_is_off(clock) -> None:
    announced = Announced()
    typing = indicators(announced)
    await typing.set(7, True)
    await typing.set(7, False)
    assert announced == [(7, True), (7, False)]
    assert not typing.is_typing(7)


async def test_stopping_where_nobody_was_typing_announces_nothing(clock) -> None:
    announced = Announced()
    typing = indicators(announced)
    await typing.set(7, False)
    await typing.set(8, True)
    await typing.set(8, False)
    await typing.set(8, False)
    assert announced == [(8, True), (8, False)]


async def test_typing_again_after_stopping_is_announced_at_once(clock) -> None:
    announced = Announced()
    typing = indicators(announced)
    await typing.set(7, True)
    await typing.set(7, False)
    await typing.set(7, True)
    assert announced == [(7, True), (7, False), (7, True)]


async def test_a_closing_socket_turns_off_every_indicator_it_had_on_and_only_those(clock) -> None:
    announced = Announced()
    typing = indicators(announced)
    await typing.set(7, True)
    await typing.set(8, True)
    await typing.set(9, True)
    await typing.set(9, False)
    announced.clear()
    await typing.stop_all()
    assert sorted(announced) == [(7, False), (8, False)]
    assert not typing.is_typing(7) and not typing.is_typing(8)


async def test_an_indicator_left_on_turns_itself_off_after_the_expiry() -> None:
    announced = Announced()
    typing = indicators(announced, expiry=0.05)
    await typing.set(7, True)
    deadline = asyncio.get_running_loop().time() + 5
    while announced[-1] != (7, False):
        assert asyncio.get_running_loop().time() < deadline, f"still typing: {announced}"
        await asyncio.sleep(0.01)
    assert announced == [(7, True), (7, False)]
    assert not typing.is_typing(7)


async def test_a_closed_socket_announces_nothing_when_its_expiry_would_have_come() -> None:
    announced = Announced()
    typing = indicators(announced, expiry=0.05)
    await typing.set(7, True)
    await typing.stop_all()
    await asyncio.sleep(0.2)  # four expiries: a timer left running would have announced by now
    assert announced == [(7, True), (7, False)]
