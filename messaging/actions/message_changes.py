"""Doing things to a message: announce an edit, a deletion or a reaction after its commit, then notify.

An edit notifies only the members it newly mentions; a reaction notifies the
message's author when they are away; a deletion notifies nobody. "Delete for
me" and "clear chat" are told to the user's other sockets only.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async

from .. import notification_service
from ..frames import EventPayload
from ..models import Event, EventKind
from ..notification_service import push_unread_count
from ..pubsub import publish_event, publish_hidden
from ..serializers import event_payload
from ..store.message_actions import Change, Hidden
from .messages import in_background


async def announce(change: Change, *, origin: str = "") -> EventPayload | None:
    """Publish a stored change once (a repeat is answered to its sender only); its payload ``E``, or None if nothing changed."""
    appended = change.appended
    if appended is None:
        return None
    if not appended.created:
        return event_payload(appended.event)
    payload = await publish_event(appended, origin=origin)
    if _notifies(change):
        in_background(_anotify(change))
    return payload


def announce_sync(change: Change) -> EventPayload | None:
    """:func:`announce` for a view: publish, and make the notifications here (a view has no loop to leave them in)."""
    from asgiref.sync import async_to_sync

    appended = change.appended
    if appended is None:
        return None
    if not appended.created:
        return event_payload(appended.event)
    payload = async_to_sync(publish_event)(appended)
    if _notifies(change):
        try:
            notification_service.deliver_all_sync(_store_notifications(change))
        except Exception as exc:  # noqa: BLE001 - the change is stored; a failed notification must not fail it
            _log_failure(change, exc)
    return payload


def _notifies(change: Change) -> bool:
    kind = change.appended.event.kind if change.appended else None
    return (kind == EventKind.EDITED) or (kind == EventKind.REACTION_ADDED)


def _store_notifications(change: Change) -> list[Any]:
    """The notifications a change makes (in the database thread)."""
    if change.appended is None:  # never: only a change that appended an event notifies (_notifies)
        return []
    event = change.appended.event
    if event.kind == EventKind.EDITED:
        message = change.message
        if isinstance(message, Event):  # in the hot table (archiving unlinked an archived one's notifications)
            notification_service.rewrite_previews(message)
            return notification_service.store_mention_notifications(message, change.newly_mentioned)
        return []
    return notification_service.store_reaction_notification(event, change.message)


async def _anotify(change: Change) -> None:
    try:
        deliveries = await database_sync_to_async(_store_notifications)(change)
        await notification_service.adeliver_all(deliveries)
    except Exception as exc:  # noqa: BLE001 - the change is stored; a failed notification must not fail it
        await database_sync_to_async(_log_failure)(change, exc)


def _log_failure(change: Change, exc: BaseException) -> None:
    from ..logging_utils import category_for_exception, messaging_logger

    if change.appended is None:  # never: only a change that appended an event notifies (_notifies)
        return
    event = change.appended.event
    messaging_logger.error(
        category_for_exception(exc),
        f"could not make the notifications of an event of kind {event.kind}",
        user=event.sender,
        context={"event": event.pk, "conversation": event.conversation_id},
        exc=exc,
    )


async def announce_hidden(user_id: int, hidden: Hidden, *, origin: str = "") -> None:
    """Tell the user's other sockets what they hid, and their bell its new count if hiding changed it."""
    await publish_hidden(user_id, hidden, origin=origin)
    if hidden.notification_unread is not None:
        await push_unread_count(user_id, hidden.notification_unread)
