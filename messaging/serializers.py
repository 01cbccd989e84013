"""JSON for the wire: the encoder, the serializer and the payloads of the contract.

Consumers and views never build JSON by hand: they build a frame (a dict, or
one of the payload ``TypedDict``s of :mod:`messaging.frames`) and call :meth:`JSONSerializer.dumps`.
Each builder returns its frame's type from :mod:`messaging.frames`, the
server->client half of the contract as types.
"""

from __future__ import annotations

import datetime
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.urls import reverse
from django.utils import timezone

from .connection_validator import strict_loads
from .exceptions import MessagingException, SerializationError
from .frames import (
    AckFrame,
    Answer,
    ConnectedFrame,
    ConversationFrame,
    ConversationPayload,
    ConversationsAnswer,
    DirectConnectedFrame,
    EditsAnswer,
    ErrorFrame,
    EventFrame,
    EventPayload,
    HiddenFrame,
    HistoryAnswer,
    IdentityPayload,
    MemberPayload,
    MembersAnswer,
    MessageAckFrame,
    MessageFields,
    MessageFrame,
    MessagePayload,
    MessagesPage,
    MutedFrame,
    NotificationFrame,
    NotificationPayload,
    NotificationsAnswer,
    PeerPayload,
    PinnedFrame,
    PongFrame,
    PresenceFrame,
    ProfileFrame,
    ReceiptPayload,
    ReceiptsFrame,
    Ref,
    ReplyQuote,
    ResumeAnswer,
    SearchAnswer,
    SearchHitPayload,
    SettingsFrame,
    StatusFrame,
    SyncAnswer,
    TypingFrame,
    UnreadCountFrame,
)
from .models import ArchivedEvent, Event, EventKind, Message, MessageStatus, Notification, Profile

if TYPE_CHECKING:
    # the project's user model (store.users.User, which this layer cannot import)
    from django.contrib.auth.models import User


def event_payload(event: Event | ArchivedEvent) -> EventPayload:
    """The event ``E`` of the contract.

    ``sender`` is read from the related user, so callers should
    ``select_related("sender")`` when they serialize many. A message event
    carries its state (see :func:`message_fields`); an event its reader may
    not see (``event.hidden``, set by ``store.message_views``) is a
    placeholder that keeps its seq (:func:`hidden_payload`).
    """
    if getattr(event, "hidden", False):
        return hidden_payload(event.conversation_id, event.seq, event.pk, event.kind, event.created_at)
    payload: EventPayload = {
        "conversation": event.conversation_id,
        "seq": event.seq,
        "id": event.pk,
        "kind": event.kind,
        "sender": event.sender.get_username(),
        "created_at": event.created_at,
        "client_id": event.client_id,
        "content": event.content,
        "target_seq": event.target_seq,
        "data": with_attachment_urls(event.data) if event.data and event.kind == "message" else event.data,
    }
    if event.kind == EventKind.MESSAGE:
        payload.update(message_fields(event))
    return payload


def message_fields(event: Event | ArchivedEvent) -> MessageFields:
    """A message's state: current ``content``, ``edited_at``, ``deleted``, ``reactions``, ``reply_to`` and ``as_of``.

    From the reader's view (``event.view``) when the store made one; else
    from the row alone, with ``as_of`` null: reactions and the quote were not
    read (an inbox's ``last_message``), so it is no state to fold onto.
    """
    view = getattr(event, "view", None)
    if view is None:
        reply: ReplyQuote | None = (
            {"seq": event.target_seq, "sender": None, "preview": None, "deleted": False}
            if event.target_seq is not None
            else None
        )
        return {
            "content": event.content,
            "edited_at": event.edited_at,
            "deleted": event.deleted_at is not None,
            "reactions": [],
            "reply_to": reply,
            "as_of": None,
        }
    reply_to = view.reply_to
    return {
        "content": view.content,
        "edited_at": view.edited_at,
        "deleted": view.deleted,
        "reactions": [{"emoji": r.emoji, "count": r.count, "users": list(r.users)} for r in view.reactions],
        "reply_to": None
        if reply_to is None
        else {"seq": reply_to.seq, "sender": reply_to.sender, "preview": reply_to.preview, "deleted": reply_to.deleted},
        "as_of": view.as_of,
    }


def hidden_payload(
    conversation_id: int, seq: int, event_id: int, kind: str, created_at: datetime.datetime
) -> EventPayload:
    """An event its reader may not see (hidden by them, cleared, or about a message outside their window).

    It keeps its place in the log, so a client's cursor moves over it, and
    says nothing else.
    """
    return {
        "conversation": conversation_id,
        "seq": seq,
        "id": event_id,
        "kind": kind,
        "sender": None,
        "created_at": created_at,
        "client_id": "",
        "content": "",
        "target_seq": None,
        "data": {},
        "hidden": True,
    }


def without_quote(payload: EventPayload) -> EventPayload:
    """A reply as a reader who cannot see the message it answers gets it: the quote's sender and text left out."""
    reply = payload.get("reply_to")
    if not reply:
        return payload
    return {**payload, "reply_to": {"seq": reply["seq"], "sender": None, "preview": None, "deleted": False}}


# --- Attachments: a message's ``data.attachments`` with the URLs to fetch them ---------


def attachment_payload(item: dict[str, Any]) -> dict[str, Any]:
    """One file of a message ``A``: what the store recorded, plus its download and thumbnail URLs."""
    payload = {key: value for key, value in item.items() if key != "thumbnail"}
    payload["url"] = reverse("attachment-download", args=[item["id"]])
    payload["thumbnail_url"] = reverse("attachment-thumbnail", args=[item["id"]]) if item.get("thumbnail") else None
    return payload


def with_attachment_urls(data: dict[str, Any]) -> dict[str, Any]:
    if "attachments" not in data:
        return data
    return {**data, "attachments": [attachment_payload(item) for item in data["attachments"]]}


@dataclass(frozen=True)
class Cursors:
    """A direct conversation member's cursors, for the first contract's ``M`` (status of messages to them)."""

    username: str
    delivered_seq: int = 0
    read_seq: int = 0
    delivered_at: datetime.datetime | None = None
    read_at: datetime.datetime | None = None

    def status_of(self, seq: int) -> str:
        if self.read_seq >= seq:
            return MessageStatus.READ
        if self.delivered_seq >= seq:
            return MessageStatus.DELIVERED
        return MessageStatus.SENT


def message_payload(event: EventPayload | dict[str, Any], recipient: Cursors) -> MessagePayload:
    """The first contract's message ``M`` of a direct conversation's message event ``E``.

    Its status comes from the recipient's cursors (a message just stored:
    ``Cursors(recipient)``, which says ``sent``).
    """
    status = recipient.status_of(event["seq"])
    return {
        "id": event["id"],
        "seq": event["seq"],
        "sender": event["sender"],
        "recipient": recipient.username,
        "content": event["content"],
        "client_id": event["client_id"],
        "created_at": event["created_at"],
        "status": status,
        "delivered_at": recipient.delivered_at if status != MessageStatus.SENT else None,
        "read_at": recipient.read_at if status == MessageStatus.READ else None,
    }


# Models the encoder knows how to turn into their contract payload.
PAYLOADS: dict[type[models.Model], Callable[[Any], Any]] = {
    Event: event_payload,
    Message: event_payload,
    ArchivedEvent: event_payload,
}


def isoformat(value: datetime.datetime) -> str:
    """ISO 8601 with microseconds and an explicit offset, as the contract shows.

    ``DjangoJSONEncoder`` cuts to milliseconds and writes ``Z``; the contract
    wants ``2026-11-27T09:41:05.123456+00:00``.
    """
    if value.tzinfo is not datetime.UTC:  # already UTC: the stored times, timezone.now()
        if timezone.is_naive(value):
            value = value.replace(tzinfo=datetime.UTC)
        value = value.astimezone(datetime.UTC)
    return value.isoformat(timespec="microseconds")


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


@functools.cache
def _encoder(encoder: type[json.JSONEncoder]) -> json.JSONEncoder:
    """One instance of ``encoder`` with the contract's options (``json.dumps(cls=...)`` builds one per call).

    ``encode`` keeps no state between calls, so threads may share it.
    """
    return encoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


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
            return _encoder(cls.encoder).encode(value)
        except (TypeError, ValueError, RecursionError) as exc:
            raise SerializationError(f"cannot serialize {type(value).__name__}: {exc}") from exc

    @staticmethod
    def loads(text: str | bytes) -> Any:
        return strict_loads(text)


def error_frame(error: MessagingException) -> ErrorFrame:
    """The ``error`` frame (and HTTP error body) of the contract for ``error``."""
    frame: ErrorFrame = {"type": "error", "code": error.code.value, "detail": error.detail}
    if error.client_id is not None:
        frame["client_id"] = error.client_id
    if error.ref is not None:
        frame["ref"] = error.ref
    frame.update(error.extra)
    return frame


AnswerT = TypeVar("AnswerT", bound=Answer)


def answer(frame: AnswerT, ref: Ref | None) -> AnswerT:
    """``frame`` as the answer to a request that carried ``ref`` (added only when there was one)."""
    if ref is not None:
        frame["ref"] = ref
    return frame


# --- People ----------------------------------------------------------------------


def profile_of(user: User) -> Profile | None:
    """The user's profile as loaded with them (``select_related("messaging_profile")``), or None."""
    try:
        return user.messaging_profile
    except Profile.DoesNotExist:
        return None


def avatar_url(profile: Profile | None) -> str | None:
    """The uploaded avatar's URL (fixed for the file: cacheable for good), or None for the letter avatar."""
    if profile is None or not profile.avatar_name:
        return None
    _prefix, user_id, file_name = profile.avatar_name.split("/", 2)
    return reverse("profile-avatar", args=[int(user_id), file_name])


def identity_payload(user: User) -> IdentityPayload:
    """How a person is shown: ``display_name``/``avatar``/``status`` null mean the username and its letter avatar."""
    profile = profile_of(user)
    return {
        "username": user.get_username(),
        "display_name": (profile.display_name or None) if profile is not None else None,
        "avatar": avatar_url(profile),
        "status": (profile.status_line or None) if profile is not None else None,
    }


def shown_name(user: User) -> str:
    """The name a person is shown by: their display name, else their username."""
    profile = profile_of(user)
    return (profile.display_name if profile is not None else "") or user.get_username()


def profile_frame(user: User) -> ProfileFrame:
    """A person's identity changed: to every socket of everyone who shares a conversation with them."""
    return {"type": "profile", "user": identity_payload(user)}


# --- ws/chat/ frames ------------------------------------------------------------


#: the version of the wire contract ``ws/chat/`` speaks, told in ``connected``; each change is in CHANGELOG.md
PROTOCOL_VERSION = 11


def connected_frame(user: User, limits: dict[str, int], *, read_receipts: bool = True) -> ConnectedFrame:
    """``user``: the signed-in user (its profile is read here when it was not loaded with it)."""
    return {
        "type": "connected",
        "protocol": PROTOCOL_VERSION,
        "user": identity_payload(user),
        "limits": limits,
        "read_receipts": read_receipts,
    }


def settings_frame(settings: dict[str, Any]) -> SettingsFrame:
    """The user's settings changed (any tab, any device): every open tab applies them at once.

    The whole set, not the change: a tab applies the keys it knows and ignores the others.
    """
    return {"type": "settings", "settings": settings}


def event_frame(payload: EventPayload) -> EventFrame:
    return {"type": "event", "event": payload}


def event_ack_frame(payload: EventPayload, *, conversation: ConversationPayload | None = None) -> AckFrame:
    """The ``ack`` of a stored event; takes the payload so a send builds it once (a new group's adds its summary)."""
    frame: AckFrame = {"type": "ack", "client_id": payload["client_id"], "event": payload}
    if conversation is not None:
        frame["conversation"] = conversation
    return frame


def action_ack_frame(client_id: str, payload: EventPayload | None) -> AckFrame:
    """The ``ack`` of a message action: its event, or None when there was nothing to change."""
    return {"type": "ack", "client_id": client_id, "event": payload}


def hidden_ack_frame(client_id: str, hidden: Any) -> AckFrame:
    """The ``ack`` of ``hide``/``clear``: no event, what was hidden."""
    return {"type": "ack", "client_id": client_id, "event": None, "hidden": hidden_frame(hidden)}


class RenderedPayload(dict):
    """An event payload ``E`` with its JSON (``text``), rendered once for the broadcast and the ack."""

    text: str


def rendered_payload(payload: EventPayload) -> RenderedPayload:
    rendered = RenderedPayload(payload)
    rendered.text = JSONSerializer.dumps(payload)
    return rendered


def event_frame_text(payload: RenderedPayload) -> str:
    """``event_frame(payload)`` serialized, around the payload's own JSON."""
    return '{"type":"event","event":' + payload.text + "}"


def event_ack_text(payload: RenderedPayload, ref: Ref | None) -> str:
    """``answer(event_ack_frame(payload), ref)`` serialized, around the payload's own JSON."""
    client_id = JSONSerializer.dumps(payload["client_id"])
    tail = "}" if ref is None else ',"ref":' + JSONSerializer.dumps(ref) + "}"
    return '{"type":"ack","client_id":' + client_id + ',"event":' + payload.text + tail


def receipts_frame(conversation_id: int, changes: list[Any]) -> ReceiptsFrame:
    """Members' cursors that moved (one or a burst of them), each member once."""
    return {
        "type": "receipts",
        "conversation": conversation_id,
        "receipts": [
            {"user": c.username, "delivered_seq": c.delivered_seq, "read_seq": c.read_seq, "at": c.at} for c in changes
        ],
    }


def pushed_receipts_frame(conversation_id: int, receipts: list[dict[str, Any]]) -> ReceiptsFrame:
    """A ``receipts`` push rebuilt from the broadcast's extras (for a viewer some read positions are hidden from)."""
    return {
        "type": "receipts",
        "conversation": conversation_id,
        "receipts": [
            {
                "user": r["username"],
                "delivered_seq": r["delivered_seq"],
                "read_seq": r["read_seq"],
                "at": datetime.datetime.fromtimestamp(r["at"], tz=datetime.UTC),
            }
            for r in receipts
        ],
    }


def receipt_payload(receipt: Any) -> ReceiptPayload:
    """A member's cursors ``R`` in a list (sync answers, resume entries)."""
    return {
        "user": receipt.username,
        "delivered_seq": receipt.delivered_seq,
        "read_seq": receipt.read_seq,
        "joined_seq": receipt.joined_seq,
    }


def conversation_payload(summary: Any) -> ConversationPayload:
    """The conversation summary ``C`` of the contract, from a :class:`messaging.store.conversations.Summary`."""
    conversation, member = summary.conversation, summary.member
    peer: PeerPayload | None = None
    if summary.peer is not None:
        online, last_seen = summary.extra.get("presence", (False, None))
        peer = {**identity_payload(summary.peer), "online": online, "last_seen": last_seen}
    return {
        "id": conversation.pk,
        "kind": conversation.kind,
        "title": conversation.title if conversation.kind == conversation.Kind.GROUP else None,
        "peer": peer,
        "member_count": conversation.member_count,
        "last_seq": conversation.last_seq if member.left_seq is None else min(conversation.last_seq, member.left_seq),
        "last_message": event_payload(summary.last_message) if summary.last_message is not None else None,
        "last_activity": conversation.last_message_at or conversation.created_at,
        "role": member.role,
        "joined_seq": member.joined_seq,
        "left_seq": member.left_seq,
        "delivered_seq": member.delivered_seq,
        "read_seq": member.read_seq,
        "unread": summary.unread,
        "muted_until": member.muted_until,
        "pinned_at": member.pinned_at,
        "cleared_seq": member.cleared_seq,
    }


def conversation_frame(summary: Any) -> ConversationFrame:
    return {"type": "conversation", "conversation": conversation_payload(summary)}


def sync_frame(
    conversation_id: int, events: list[Any], has_more: bool, last_seq: int, receipts: list[Any]
) -> SyncAnswer:
    return {
        "type": "sync",
        "conversation": conversation_id,
        "events": [event_payload(e) for e in events],
        "has_more": has_more,
        "last_seq": last_seq,
        "receipts": [receipt_payload(r) for r in receipts],
    }


def history_frame(
    conversation_id: int, events: list[Any], has_more: bool, has_newer: bool | None = None
) -> HistoryAnswer:
    """A history page; ``has_newer`` only for a page ``around`` a seq (whether events after it exist)."""
    frame: HistoryAnswer = {
        "type": "history",
        "conversation": conversation_id,
        "events": [event_payload(e) for e in events],
        "has_more": has_more,
    }
    if has_newer is not None:
        frame["has_newer"] = has_newer
    return frame


def hidden_frame(hidden: Any) -> HiddenFrame:
    """What one member hid ("delete for me", "clear chat"): told to the user's other sockets."""
    return {
        "type": "hidden",
        "conversation": hidden.conversation_id,
        "seqs": list(hidden.seqs),
        "cleared_seq": hidden.cleared_seq,
    }


def edits_frame(conversation_id: int, seq: int, versions: list[Any]) -> EditsAnswer:
    """A message's versions, oldest first, the one shown now last (``replaced_at`` null)."""
    return {
        "type": "edits",
        "conversation": conversation_id,
        "seq": seq,
        "versions": [
            {"content": v.content, "written_at": v.written_at, "replaced_at": v.replaced_at} for v in versions
        ],
    }


def resumed_payload(resumed: Any, events: int | None = None) -> ConversationPayload:
    """A ``resume`` entry; with ``events``, only the first that many (``has_more`` then set: the page was cut for size)."""
    page = resumed.page.events if events is None else resumed.page.events[:events]
    return {
        **conversation_payload(resumed.summary),
        "events": [event_payload(e) for e in page],
        "has_more": resumed.page.has_more or len(page) < len(resumed.page.events),
        "receipts": [receipt_payload(r) for r in resumed.receipts],
    }


def typing_frame(username: str, is_typing: bool, conversation_id: int | None = None) -> TypingFrame:
    frame: TypingFrame = {"type": "typing", "user": username, "is_typing": is_typing}
    if conversation_id is not None:
        frame["conversation"] = conversation_id
    return frame


def presence_frame(username: str, online: bool, last_seen: datetime.datetime | None) -> PresenceFrame:
    return {"type": "presence", "user": username, "online": online, "last_seen": last_seen}


def pinned_frame(conversation_id: int, pinned_at: datetime.datetime | None) -> PinnedFrame:
    return {"type": "pinned", "conversation": conversation_id, "pinned_at": pinned_at}


def muted_frame(conversation_id: int, muted_until: datetime.datetime | None) -> MutedFrame:
    return {"type": "muted", "conversation": conversation_id, "muted_until": muted_until}


def members_frame(conversation_id: int, members: list[Any]) -> MembersAnswer:
    return {"type": "members", "conversation": conversation_id, "members": [member_payload(m) for m in members]}


def conversations_frame(
    conversations: list[ConversationPayload], has_more: bool, next_cursor: str | None
) -> ConversationsAnswer:
    """A page of the inbox; ``next`` is the cursor of the page after it."""
    return {"type": "conversations", "conversations": conversations, "has_more": has_more, "next": next_cursor}


def resume_frame(conversations: list[ConversationPayload], unanswered: list[int]) -> ResumeAnswer:
    """The answer to ``resume``; ``unanswered`` names the conversations that did not fit (asked again)."""
    frame: ResumeAnswer = {"type": "resume", "conversations": conversations}
    if unanswered:
        frame["unanswered"] = unanswered
    return frame


def member_payload(info: Any) -> MemberPayload:
    return {
        "username": info.username,
        "display_name": info.display_name,
        "avatar": info.avatar,
        "role": info.role,
        "joined_seq": info.joined_seq,
        "delivered_seq": info.delivered_seq,
        "read_seq": info.read_seq,
        "online": info.online,
        "last_seen": info.last_seen,
    }


# --- Search ------------------------------------------------------------------------


def search_frame(page: Any) -> SearchAnswer:
    """A page of search results (a :class:`messaging.store.search.SearchPage`), as the socket and the API answer it."""
    return {
        "type": "search",
        "query": page.query.describe(),
        "results": [search_hit_payload(hit) for hit in page.hits],
        "conversations": [{"id": c.id, "kind": c.kind, "title": c.title, "peer": c.peer} for c in page.conversations],
        "next": page.next,
        "total": {"count": page.total.count, "exact": page.total.exact} if page.total is not None else None,
        "warnings": list(page.warnings),
    }


def search_hit_payload(hit: Any) -> SearchHitPayload:
    """A hit ``H`` (a :class:`messaging.store.search.Hit`); ``score`` only on a relevance page."""
    payload: SearchHitPayload = {
        "conversation": hit.conversation_id,
        "seq": hit.seq,
        "id": hit.event_id,
        "sender": hit.sender,
        "created_at": hit.created_at,
        "snippet": hit.snippet.payload(),
    }
    if hit.score is not None:
        payload["score"] = hit.score
    return payload


# --- ws/chat/<username>/ frames (the first contract) -----------------------------


def ack_frame(payload: MessagePayload) -> MessageAckFrame:
    """The first contract's ``ack`` of a stored message."""
    return {"type": "ack", "client_id": payload["client_id"], "message": payload}


def message_frame(payload: MessagePayload) -> MessageFrame:
    return {"type": "message", "message": payload}


def page_frame(kind: Literal["sync", "history"], messages: list[MessagePayload], has_more: bool) -> MessagesPage:
    """The first contract's answer to ``sync`` or ``history`` (``kind``)."""
    return {"type": kind, "messages": messages, "has_more": has_more}


def status_frame(status: str, up_to: int, by: str, at: datetime.datetime) -> StatusFrame:
    return {"type": "status", "status": status, "up_to": up_to, "by": by, "at": at}


def direct_connected_frame(
    peer_username: str, peer_online: bool, peer_last_seen: datetime.datetime | None, last_seq: int, unread: int
) -> DirectConnectedFrame:
    return {
        "type": "connected",
        "peer": {"username": peer_username, "online": peer_online, "last_seen": peer_last_seen},
        "last_seq": last_seq,
        "unread": unread,
    }


def pong_frame() -> PongFrame:
    return {"type": "pong"}


# --- Notifications -----------------------------------------------------------------


def notification_payload(notification: Notification) -> NotificationPayload:
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


def notification_frame(notification: Notification) -> NotificationFrame:
    return {"type": "notification", "notification": notification_payload(notification)}


def unread_count_frame(count: int) -> UnreadCountFrame:
    return {"type": "unread_count", "count": count}


def notifications_page_frame(items: list[Notification], has_more: bool) -> NotificationsAnswer:
    return {"type": "notifications", "items": [notification_payload(n) for n in items], "has_more": has_more}


PAYLOADS[Notification] = notification_payload
