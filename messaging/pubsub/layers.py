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
"""

from __future__ import annotations

import time

from channels.layers import InMemoryChannelLayer as ChannelsInMemoryChannelLayer

CLEAN_INTERVAL = 1.0


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
