"""The embedded default's channel layer: Channels' in-memory layer, made to scale with sockets and keep them.

Two changes to ``InMemoryChannelLayer``:

- It walks every channel and every group membership to expire old messages
  on *every* send and receive. With thousands of open sockets that walk
  dominates: opening 5,000 sockets took minutes, mostly there. Expiry only
  needs to run now and then, so this layer runs it at most once per
  ``CLEAN_INTERVAL`` seconds; messages still expire (at most that much later
  than their ``expiry``).
- When a channel's message expires (its consumer fell behind, say a busy
  socket of a big group), Channels also drops the channel from every group,
  and the socket stays open but hears nothing again; a membership older than
  ``group_expiry`` (a day) is dropped too, for a socket that is still open.
  LinkUp's consumers leave their groups themselves when they close (in a
  ``finally``), so here an expired message is only dropped: the socket keeps
  its groups, misses that push, and ``sync`` repairs it.

And one change to what a send costs: Channels' ``group_send`` starts a task
per member channel, waits for them with ``as_completed``, deep-copies the
event for each, and builds an ``asyncio.Queue`` on every send even when the
channel has one. Here a group send puts the event on each member's queue
directly, and an event whose values are all immutable (LinkUp's are: the
frame pre-rendered as ``text`` and a few ints and strings) is copied
shallowly, which is as safe as a deep copy for such a dict. What a receiver
gets is the same; an event holding a list or dict is still deep-copied.
"""

from __future__ import annotations

import asyncio
import time
from copy import deepcopy
from typing import Any

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer as ChannelsInMemoryChannelLayer

CLEAN_INTERVAL = 1.0

#: value types a shallow copy of an event may share with the sender's dict
IMMUTABLE = (str, int, float, bool, bytes, type(None))


class InMemoryChannelLayer(ChannelsInMemoryChannelLayer):
    _last_clean = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._last_clean < CLEAN_INTERVAL:
            return
        self._last_clean = now
        wall = time.time()
        for channel, queue in list(self.channels.items()):
            expired = False
            while not queue.empty() and queue._queue[0][0] < wall:  # type: ignore[attr-defined]  # peek the oldest (asyncio.Queue has no peek)
                queue.get_nowait()
                expired = True
            # Only a queue that held expired messages had nobody waiting on it.
            if expired and queue.empty():
                self.channels.pop(channel, None)

    def _queue(self, channel: str) -> asyncio.Queue:
        """The channel's queue, made only when it has none (Channels builds one on every send)."""
        queue = self.channels.get(channel)
        if queue is None:
            queue = self.channels[channel] = asyncio.Queue(maxsize=self.get_capacity(channel))
        return queue

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        assert "__asgi_channel__" not in message
        try:
            self._queue(channel).put_nowait((time.time() + self.expiry, deepcopy(message)))
        except asyncio.QueueFull:
            raise ChannelFull(channel) from None

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        """Put ``message`` on every member channel's queue; a full queue misses it (as in Channels)."""
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        members = self.groups.get(group)
        if not members:
            return
        flat = all(isinstance(value, IMMUTABLE) for value in message.values())
        expires = time.time() + self.expiry
        # The names were checked when they joined the group (group_add).
        for channel in list(members):
            copy = dict(message) if flat else deepcopy(message)
            try:
                self._queue(channel).put_nowait((expires, copy))
            except asyncio.QueueFull:
                continue

    async def receive(self, channel: str) -> dict[str, Any]:
        self.require_valid_channel_name(channel)
        self._clean_expired()
        queue = self._queue(channel)
        try:
            _, message = await queue.get()
        finally:
            if queue.empty():
                self.channels.pop(channel, None)
        return message
