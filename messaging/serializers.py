"""JSON for the wire: the encoder, the serializer and the payloads of the contract.

Consumers and views never build JSON by hand: they build a frame (a dict, or
one of the payload ``TypedDict``s below) and call :meth:`JSONSerializer.dumps`.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from typing import Any, TypedDict

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from .connection_validator import strict_loads
from .exceptions import MessagingException, SerializationError
from .models import ArchivedEvent, Event, Message, Notification


class MessagePayload(TypedDict):
    id: int
    seq: int
    sender: str
    recipient: str | None
    content: str
    client_id: str
    created_at: datetime.datetime
    status: str
    delivered_at: datetime.datetime | None
    read_at: datetime.datetime | None


def message_payload(message: Message | ArchivedMessage) -> MessagePayload:
    """The message object ``M`` of the contract.

    ``sender``/``recipient`` are read from the related users, so callers should
    ``select_related("sender", "recipient")`` when they serialize many.
    """
    return {
        "id": message.pk,
        "seq": message.seq,
        "sender": message.sender.get_username(),
        "recipient": message.recipient.get_username() if message.recipient_id else None,
        "content": message.content,
        "client_id": message.client_id,
        "created_at": message.created_at,
        "status": message.status,
        "delivered_at": message.delivered_at,
        "read_at": message.read_at,
    }


# Models the encoder knows how to turn into their contract payload.
PAYLOADS: dict[type[models.Model], Callable[[Any], Any]] = {Message: message_payload, ArchivedEvent: message_payload}


def isoformat(value: datetime.datetime) -> str:
    """ISO 8601 with microseconds and an explicit offset, as the contract shows.

    ``DjangoJSONEncoder`` cuts to milliseconds and writes ``Z``; the contract
    wants ``2026-11-27T09:41:05.123456+00:00``.
    """
    if timezone.is_naive(value):
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(datetime.timezone.utc).isoformat(timespec="microseconds")


class MessagingJSONEncoder(DjangoJSONEncoder):
    """``DjangoJSONEncoder`` plus the contract's datetimes and model payloads.

    Dates, times, ``timedelta``, ``Decimal``, ``UUID`` and lazy strings come
    from Django's encoder.
    """

    def default(self, o: Any) -> Any:
        if isinstance(o, datetime.datetime):
            return isoformat(o)
        payload = PAYLOADS.get(type(o))
        if payload is not None:
            return payload(o)
        return super().default(o)


class JSONSerializer:
    """``dumps``/``loads`` with the contract's rules.

    ``dumps`` raises :class:`SerializationError` (a ``server_error`` at the
    edge) for a value it cannot encode; ``loads`` accepts strict JSON only
    (no ``NaN``/``Infinity``) and raises ``ValueError`` otherwise.
    """

    encoder = MessagingJSONEncoder

    @classmethod
    def dumps(cls, value: Any) -> str:
        try:
            return json.dumps(
                value, cls=cls.encoder, ensure_ascii=False, allow_nan=False, separators=(",", ":")
            )
        except (TypeError, ValueError, RecursionError) as exc:
            raise SerializationError(f"cannot serialize {type(value).__name__}: {exc}") from exc

    @staticmethod
    def loads(text: str | bytes) -> Any:
        return strict_loads(text)


def error_frame(error: MessagingException) -> dict[str, Any]:
    """The ``error`` frame (and HTTP error body) of the contract for ``error``."""
    frame: dict[str, Any] = {"type": "error", "code": error.code.value, "detail": error.detail}
    if error.client_id is not None:
        frame["client_id"] = error.client_id
    return frame


# --- Frames the server sends --------------------------------------------------


def ack_frame(payload: MessagePayload) -> dict[str, Any]:
    """The ``ack`` of a stored message; takes the payload so a send builds it once."""
    return {"type": "ack", "client_id": payload["client_id"], "message": payload}


def message_frame(payload: MessagePayload) -> dict[str, Any]:
    return {"type": "message", "message": payload}


def page_frame(kind: str, messages: list[Message], has_more: bool) -> dict[str, Any]:
    """The answer to ``sync`` or ``history`` (``kind``)."""
    return {"type": kind, "messages": [message_payload(m) for m in messages], "has_more": has_more}


def status_frame(status: str, up_to: int, by: str, at: datetime.datetime) -> dict[str, Any]:
    return {"type": "status", "status": status, "up_to": up_to, "by": by, "at": at}


def typing_frame(username: str, is_typing: bool) -> dict[str, Any]:
    return {"type": "typing", "user": username, "is_typing": is_typing}


def presence_frame(username: str, online: bool, last_seen: datetime.datetime | None) -> dict[str, Any]:
    return {"type": "presence", "user": username, "online": online, "last_seen": last_seen}


def connected_frame(
    peer_username: str, peer_online: bool, peer_last_seen: datetime.datetime | None, last_seq: int, unread: int
) -> dict[str, Any]:
    return {
        "type": "connected",
        "peer": {"username": peer_username, "online": peer_online, "last_seen": peer_last_seen},
        "last_seq": last_seq,
        "unread": unread,
    }


PONG = {"type": "pong"}


# --- Notifications -----------------------------------------------------------------


class NotificationPayload(TypedDict):
    id: int
    kind: str
    title: str
    body: str
    url: str
    created_at: datetime.datetime
    updated_at: datetime.datetime
    count: int
    read: bool


def notification_payload(notification: Any) -> NotificationPayload:
    return {
        "id": notification.pk,
        "kind": notification.kind,
        "title": notification.title,
        "body": notification.body,
        "url": notification.url,
        "created_at": notification.created_at,
        "updated_at": notification.updated_at,
        "count": notification.count,
        "read": notification.read,
    }


def notification_frame(notification: Any) -> dict[str, Any]:
    return {"type": "notification", "notification": notification_payload(notification)}


def unread_count_frame(count: int) -> dict[str, Any]:
    return {"type": "unread_count", "count": count}


def notifications_page_frame(items: list[Any], has_more: bool) -> dict[str, Any]:
    return {"type": "notifications", "items": [notification_payload(n) for n in items], "has_more": has_more}


PAYLOADS[Notification] = notification_payload
