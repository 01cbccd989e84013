"""The embedded default's channel layer: Channels' in-memory layer, made to scale with sockets.

``InMemoryChannelLayer`` walks every channel and every group membership to
expire old messages on *every* send and receive. With thousands of open
sockets that walk dominates: opening 5,000 sockets took minutes, mostly
there. Expiry only needs to run now and then, so this layer runs it at most
once per ``CLEAN_INTERVAL`` seconds; messages still expire (at most that much
later than their ``expiry``), and nothing else changes.
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
        super()._clean_expired()
