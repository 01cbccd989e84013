"""This process's open sockets and the heartbeat that keeps them counted.

Presence lives in ``Connection`` rows (see :mod:`messaging.models`). Every
``presence_heartbeat`` seconds, each server process refreshes the rows of the
sockets it really holds, drops rows of consumers that died without
``disconnect``, and sweeps rows that no process refreshed for
``presence_expiry`` seconds (a process killed with SIGKILL), announcing their
users offline. Any live process sweeps; the flip of ``UserStatus.online`` is
what makes each announcement happen once.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import socket
import uuid

from channels.db import database_sync_to_async
from django.utils import timezone

from .. import conf
from ..async_handlers import AsyncSafeMessageHandler as db
from ..logging_utils import category_for_exception, messaging_logger
from ..pubsub import publish_presence


class PresenceTracker:
    def __init__(self) -> None:
        self.server_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.channel_names: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    def add(self, channel_name: str) -> None:
        self.channel_names.add(channel_name)
        self._ensure_running()

    def discard(self, channel_name: str) -> None:
        self.channel_names.discard(channel_name)

    def stop(self) -> None:
        """Cancel the heartbeat task (tests, and shutting down an event loop)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.channel_names.clear()

    def _ensure_running(self) -> None:
        loop = asyncio.get_running_loop()
        if self._task is not None and not self._task.done() and self._task.get_loop() is loop:
            return
        self._task = loop.create_task(self._run(), name="messaging-presence-heartbeat")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(conf.limits().presence_heartbeat)
            try:
                await self.beat()
            except Exception as exc:  # noqa: BLE001 - the heartbeat must outlive a failed beat
                await messaging_logger.aerror(category_for_exception(exc), "presence heartbeat failed", exc=exc)

    async def beat(self) -> int:
        """Refresh this process's sockets and sweep expired ones; return offline announcements."""
        limits = conf.limits()
        since = timezone.now() - datetime.timedelta(seconds=limits.presence_heartbeat)
        await db.refresh_connections(self.server_id, sorted(self.channel_names), since)
        await database_sync_to_async(messaging_logger.flush_backlog)()
        changes = await db.sweep_expired_connections(limits.presence_expiry)
        for change in changes:
            await publish_presence(change)
        return len(changes)


tracker = PresenceTracker()
