"""Waiting on a condition with a deadline (never a bare sleep that assumes how long something takes)."""

from __future__ import annotations

import asyncio
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
