"""One socket's typing indicators, one per conversation, re-announced sparingly and expiring by themselves."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass
class _Typing:
    on: bool = False
    sent_at: float = 0.0
    expiry: asyncio.TimerHandle | None = None


class TypingIndicators:
    """Calls ``announce(conversation_id, is_typing)`` when an indicator must change for the others.

    ``is_typing: true`` is re-announced at most once per half expiry however
    often the client sends it, and turned off by itself after ``expiry``
    seconds without a refresh.
    """

    def __init__(self, expiry: float, announce: Callable[[int, bool], Awaitable[object]]) -> None:
        self.expiry = expiry
        self.announce = announce
        self._state: dict[int, _Typing] = {}

    def is_typing(self, conversation_id: int) -> bool:
        state = self._state.get(conversation_id)
        return state is not None and state.on

    async def set(self, conversation_id: int, is_typing: bool) -> None:
        loop = asyncio.get_running_loop()
        state = self._state.setdefault(conversation_id, _Typing())
        if state.expiry is not None:
            state.expiry.cancel()
            state.expiry = None
        if is_typing:
            state.expiry = loop.call_later(self.expiry, lambda: asyncio.ensure_future(self.set(conversation_id, False)))
            # Re-announce well before the others' copy expires, not on every keystroke.
            if state.on and loop.time() - state.sent_at < self.expiry / 2:
                return
        elif not state.on:
            self._state.pop(conversation_id, None)
            return
        state.on = is_typing
        state.sent_at = loop.time()
        if not is_typing:
            self._state.pop(conversation_id, None)
        await self.announce(conversation_id, is_typing)

    async def stop_all(self) -> None:
        """Turn every indicator off (the socket is closing)."""
        for conversation_id in [c for c, s in self._state.items() if s.on]:
            await self.set(conversation_id, False)
        for state in self._state.values():
            if state.expiry is not None:
                state.expiry.cancel()
        self._state.clear()
