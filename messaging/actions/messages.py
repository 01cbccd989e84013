"""Sending: announce a stored message to its conversation, then notify the members who are away."""

from __future__ import annotations

import asyncio
from typing import Any

from .. import notification_service
from ..frames import EventPayload
from ..pubsub import publish_event, publish_membership
from ..serializers import event_payload
from ..store.conversations import Summary
from ..store.events import Appended

# Notifications run beside the chat, not in front of it: a sender's next
# message never waits for the previous one's notifications. Held here so the
# tasks are not garbage-collected while they run.
_notifying: set[asyncio.Task[None]] = set()


async def announce(appended: Appended, *, origin: str = "") -> EventPayload:
    """Push a stored message to its conversation (only the first time it was stored) and start its notifications.

    Returns the event's payload ``E`` for the sender's ``ack``. A repeat (a
    resend with a known ``client_id``) is answered to its sender only: its
    first broadcast already went out, and the client de-duplicates anyway.
    """
    if not appended.created:
        return event_payload(appended.event)
    payload = await publish_event(appended, origin=origin)
    if appended.notify == () and "@" not in appended.event.content:
        return payload  # read with the commit: nobody to notify (a mention notifies even who muted it)
    in_background(notification_service.anotify_new_message(appended.event, appended.notify))
    return payload


def in_background(work: Any) -> None:
    """Run a notification coroutine beside the chat; :func:`settle_notifications` waits for it."""
    task = asyncio.get_running_loop().create_task(work)
    _notifying.add(task)
    task.add_done_callback(_notifying.discard)


async def announce_direct(notices: dict[int, Summary]) -> None:
    """A direct conversation was just made by a first message: both members' sockets subscribe to it."""
    for user_id, summary in notices.items():
        await publish_membership(user_id, summary)


async def settle_notifications() -> None:
    """Wait for the notifications started so far (tests, and shutting down an event loop)."""
    if _notifying:
        await asyncio.gather(*list(_notifying), return_exceptions=True)
