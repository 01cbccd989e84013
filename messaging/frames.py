"""The frames the server sends, as ``TypedDict``s: docs/protocol.md's shapes, checked by mypy.

docs/protocol.md is the contract; these types follow it. The functions that
build a frame (:mod:`messaging.serializers`, the consumers, the HTTP API
where it answers with the same shapes) return these types, so a key missing
or misspelt in a builder is a type error, not a client that breaks.

What a client sends is described once, by the validator's frozen dataclasses
(:mod:`messaging.connection_validator`): they hold only checked values, so no
``TypedDict`` here claims a shape for unchecked JSON.

The browser app holds the same frames as TypeScript types in
``messaging/static/messaging/js/protocol/frames.d.ts``, which mirrors this
module (and the validator's dataclasses for the other direction);
``tests/test_frame_types.py`` checks that the two lists of frame type names
agree, both ways, so neither can drift. Times are ``datetime`` here: the
encoder (:class:`messaging.serializers.MessagingJSONEncoder`) writes them as
the contract's ISO 8601 strings, ``Time`` in frames.d.ts.

This module imports nothing of ours, so every layer may use it.
"""

from __future__ import annotations

import datetime
from typing import Any, Literal, NotRequired, TypedDict

#: a request's ``ref``, echoed by its answer or error: a short string or a safe integer
Ref = str | int


class Answer(TypedDict):
    """What every answer to a request may carry: the request's ``ref`` (when it had one)."""

    ref: NotRequired[Ref]


# --- Payloads ---------------------------------------------------------------------


class IdentityPayload(TypedDict):
    """``P``: how a person is shown; null fields are unset (the username and the letter avatar)."""

    username: str
    display_name: str | None
    avatar: str | None
    status: str | None


class PeerPayload(IdentityPayload):
    """A direct conversation's peer in ``C``: ``P`` plus presence."""

    online: bool
    last_seen: datetime.datetime | None


class ReactionPayload(TypedDict):
    emoji: str
    count: int
    users: list[str]


class ReplyQuote(TypedDict):
    """A reply's quote, made per reader: ``sender`` and ``preview`` null when the reader cannot see the original."""

    seq: int
    sender: str | None
    preview: str | None
    deleted: bool


class MessageFields(TypedDict):
    """A message's state (``serializers.message_fields``), part of its event payload."""

    content: str
    edited_at: datetime.datetime | None
    deleted: bool
    reactions: list[ReactionPayload]
    reply_to: ReplyQuote | None
    as_of: int | None


class EventPayload(TypedDict):
    """The event ``E``; a ``message`` also carries its state for its reader; a placeholder has ``hidden``."""

    conversation: int
    seq: int
    id: int
    kind: str
    #: None only in a placeholder (``serializers.hidden_payload``)
    sender: str | None
    created_at: datetime.datetime
    client_id: str
    content: str
    target_seq: int | None
    #: what ``data`` holds depends on ``kind`` (docs/protocol.md, "The conversation log")
    data: dict[str, Any]
    # a message's state (MessageFields)
    edited_at: NotRequired[datetime.datetime | None]
    deleted: NotRequired[bool]
    reactions: NotRequired[list[ReactionPayload]]
    reply_to: NotRequired[ReplyQuote | None]
    as_of: NotRequired[int | None]
    #: a placeholder for an event its reader may not see
    hidden: NotRequired[bool]


class ReceiptPayload(TypedDict):
    """``R``: a member's cursors (``joined_seq`` in lists; a ``receipts`` push carries ``at`` instead)."""

    user: str
    delivered_seq: int
    read_seq: int
    joined_seq: NotRequired[int]
    at: NotRequired[datetime.datetime]


class ConversationPayload(TypedDict):
    """The conversation summary ``C`` (a ``resume`` entry adds ``events``, ``has_more`` and ``receipts``)."""

    id: int
    kind: str
    title: str | None
    peer: PeerPayload | None
    member_count: int
    last_seq: int
    last_message: EventPayload | None
    last_activity: datetime.datetime
    role: str
    joined_seq: int
    left_seq: int | None
    delivered_seq: int
    read_seq: int
    unread: int
    muted_until: datetime.datetime | None
    pinned_at: datetime.datetime | None
    cleared_seq: int
    events: NotRequired[list[EventPayload]]
    has_more: NotRequired[bool]
    receipts: NotRequired[list[ReceiptPayload]]


class MemberPayload(TypedDict):
    """A member in a ``members`` answer: identity, role, cursors and presence."""

    username: str
    display_name: str | None
    avatar: str | None
    role: str
    joined_seq: int
    delivered_seq: int
    read_seq: int
    online: bool
    last_seen: datetime.datetime | None


class EditVersion(TypedDict):
    content: str
    written_at: datetime.datetime
    replaced_at: datetime.datetime | None


class SnippetPayload(TypedDict):
    text: str
    highlights: list[list[int]]
    cut_start: bool
    cut_end: bool


class SearchHitPayload(TypedDict):
    """A search hit ``H``."""

    conversation: int
    seq: int
    id: int
    sender: str
    created_at: datetime.datetime
    snippet: SnippetPayload
    score: NotRequired[float]


class SearchConversation(TypedDict):
    """How a result list names a conversation: a group's ``title``, a direct chat's ``peer`` (a username)."""

    id: int
    kind: str
    title: str | None
    peer: str | None


class SearchTotal(TypedDict):
    count: int
    exact: bool


class NotificationPayload(TypedDict):
    """The notification ``N`` of ``ws/notifications/``."""

    id: int
    kind: str
    title: str
    body: str
    url: str
    created_at: datetime.datetime
    updated_at: datetime.datetime
    count: int
    read: bool


class MessagePayload(TypedDict):
    """The first contract's message ``M`` (``ws/chat/<username>/`` and the one-to-one HTTP API)."""

    id: int
    seq: int
    sender: str | None
    recipient: str | None
    content: str
    client_id: str
    created_at: datetime.datetime
    status: str
    delivered_at: datetime.datetime | None
    read_at: datetime.datetime | None


# --- ws/chat/: server -> client -------------------------------------------------------


class ConnectedFrame(TypedDict):
    type: Literal["connected"]
    protocol: int
    user: IdentityPayload
    limits: dict[str, int]
    read_receipts: bool


class EventFrame(TypedDict):
    type: Literal["event"]
    event: EventPayload


class HiddenFrame(TypedDict):
    """What one member hid ("delete for me", "clear chat"), told to the user's other sockets."""

    type: Literal["hidden"]
    conversation: int
    seqs: list[int]
    cleared_seq: int


class AckFrame(Answer):
    """The answer to an event a client caused; ``hide``/``clear`` answer with ``event: None`` and ``hidden``."""

    type: Literal["ack"]
    client_id: str
    event: EventPayload | None
    conversation: NotRequired[ConversationPayload]
    hidden: NotRequired[HiddenFrame]


class ReceiptsFrame(TypedDict):
    type: Literal["receipts"]
    conversation: int
    receipts: list[ReceiptPayload]


class TypingFrame(TypedDict):
    """Someone is typing (``conversation`` is left out on the one-to-one view)."""

    type: Literal["typing"]
    user: str
    is_typing: bool
    conversation: NotRequired[int]


class PresenceFrame(TypedDict):
    type: Literal["presence"]
    user: str
    online: bool
    last_seen: datetime.datetime | None


class ConversationFrame(TypedDict):
    type: Literal["conversation"]
    conversation: ConversationPayload


class MutedFrame(Answer):
    type: Literal["muted"]
    conversation: int
    muted_until: datetime.datetime | None


class PinnedFrame(Answer):
    type: Literal["pinned"]
    conversation: int
    pinned_at: datetime.datetime | None


class SettingsFrame(TypedDict):
    """The user's whole set of settings (``settings_payload``); a client applies the keys it knows."""

    type: Literal["settings"]
    settings: dict[str, Any]


class ProfileFrame(TypedDict):
    type: Literal["profile"]
    user: IdentityPayload


class ErrorExtra(TypedDict, total=False):
    """The structured fields an error may carry besides its code (``MessagingException.extra``)."""

    #: seconds until a refused request may pass: every refusal that carries it means "wait, then send it again"
    retry_after: float
    #: the setting whose allowance was passed (with ``retry_after``), e.g. ``MESSAGING_FETCH_WORK_LIMIT``
    setting: str
    #: the limit that was passed (a setting's value)
    limit: int
    #: the form field at fault (HTTP profile API)
    field: str
    #: the file at fault (HTTP upload API)
    file: str
    #: the type a refused file really is (upload and avatar APIs)
    content_type: str


class ErrorFrame(Answer, ErrorExtra):
    """``{"type": "error", "code", "detail", ...}``, also the HTTP API's error body; the socket stays open."""

    type: Literal["error"]
    code: str
    detail: str
    client_id: NotRequired[str]


class PongFrame(Answer):
    type: Literal["pong"]


class ConversationsAnswer(Answer):
    type: Literal["conversations"]
    conversations: list[ConversationPayload]
    has_more: bool
    next: str | None


class ResumeAnswer(Answer):
    type: Literal["resume"]
    conversations: list[ConversationPayload]
    #: the conversations named that did not fit in this answer (ask again)
    unanswered: NotRequired[list[int]]


class SyncAnswer(Answer):
    type: Literal["sync"]
    conversation: int
    events: list[EventPayload]
    has_more: bool
    last_seq: int
    receipts: list[ReceiptPayload]


class HistoryAnswer(Answer):
    type: Literal["history"]
    conversation: int
    events: list[EventPayload]
    has_more: bool
    has_newer: NotRequired[bool]


class SearchAnswer(Answer):
    type: Literal["search"]
    query: dict[str, Any]
    results: list[SearchHitPayload]
    conversations: list[SearchConversation]
    next: str | None
    total: SearchTotal | None
    warnings: list[str]


class MembersAnswer(Answer):
    type: Literal["members"]
    conversation: int
    members: list[MemberPayload]


class EditsAnswer(Answer):
    type: Literal["edits"]
    conversation: int
    seq: int
    versions: list[EditVersion]


#: every frame the server sends on ``ws/chat/`` (frames.d.ts ``ServerFrame``)
ChatServerFrame = (
    ConnectedFrame
    | EventFrame
    | AckFrame
    | ReceiptsFrame
    | TypingFrame
    | PresenceFrame
    | ConversationFrame
    | MutedFrame
    | PinnedFrame
    | SettingsFrame
    | HiddenFrame
    | ProfileFrame
    | ErrorFrame
    | PongFrame
    | ConversationsAnswer
    | ResumeAnswer
    | SyncAnswer
    | HistoryAnswer
    | SearchAnswer
    | MembersAnswer
    | EditsAnswer
)


# --- ws/notifications/: server -> client ---------------------------------------------


class UnreadCountFrame(Answer):
    type: Literal["unread_count"]
    count: int


class NotificationFrame(Answer):
    type: Literal["notification"]
    notification: NotificationPayload


class NotificationsAnswer(Answer):
    type: Literal["notifications"]
    items: list[NotificationPayload]
    has_more: bool


#: every frame the server sends on ``ws/notifications/`` (frames.d.ts ``NotificationServerFrame``)
NotificationServerFrame = (
    UnreadCountFrame | NotificationFrame | NotificationsAnswer | SettingsFrame | ErrorFrame | PongFrame
)


# --- ws/chat/<username>/: the first contract's one-to-one view (no browser code speaks it) ---


class PeerState(TypedDict):
    username: str
    online: bool
    last_seen: datetime.datetime | None


class DirectConnectedFrame(TypedDict):
    type: Literal["connected"]
    peer: PeerState
    last_seq: int
    unread: int


class MessageAckFrame(Answer):
    type: Literal["ack"]
    client_id: str
    message: MessagePayload


class MessageFrame(TypedDict):
    type: Literal["message"]
    message: MessagePayload


class MessagesPage(Answer):
    """The answer to ``sync`` or ``history`` on the one-to-one view."""

    type: Literal["sync", "history"]
    messages: list[MessagePayload]
    has_more: bool


class StatusFrame(TypedDict):
    type: Literal["status"]
    status: str
    up_to: int
    by: str
    at: datetime.datetime


#: every frame the server sends on ``ws/chat/<username>/``
DirectServerFrame = (
    DirectConnectedFrame
    | MessageAckFrame
    | MessageFrame
    | MessagesPage
    | StatusFrame
    | TypingFrame
    | PresenceFrame
    | SettingsFrame
    | ErrorFrame
    | PongFrame
)

#: whatever a socket of ours may send
ServerFrame = ChatServerFrame | NotificationServerFrame | DirectServerFrame
