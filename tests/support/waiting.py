"""Waiting on a condition with a deadline (never a bare sleep that assumes how long something takes)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

WITHIN = 5.0  # seconds a condition may take to show


async def eventually(
    condition: Callable[[], Awaitable[object]], what: str, within: float = WITHIN, every: float = 0.01
) -> object:
    """Wait, up to ``within`` seconds, until ``condition()`` is truthy; return its value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = await condition()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        await asyncio.sleep(every)


def until(condition: Callable[[], object], what: str, within: float = 10.0, every: float = 0.02) -> object:
    """:func:`eventually` for a test's own thread (a background thread or process doing the work)."""
    deadline = time.monotonic() + within
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        time.sleep(every)
