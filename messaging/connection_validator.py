"""``ConnectionValidator``: raw frame text in, a typed and validated frame out.

Nothing here raises on any input: :meth:`ConnectionValidator.parse` returns
either a frame object or a :class:`~messaging.exceptions.ProtocolError` that
the consumer turns into an error frame. Once a frame's ``ref`` (and
``client_id``) are known to be usable, every later error carries them, so the
client can tell which request failed. This module imports nothing of ours
but the exceptions, so it can be tested on its own.
"""

from __future__ import annotations

import datetime
import functools
import json
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeGuard, overload

from .exceptions import InvalidFrame, InvalidJSON, ProtocolError, TooLarge
from .frames import Ref

# Seqs and ids are stored in 64-bit integer columns.
MAX_INT = 2**63 - 1
#: an integer ``ref`` must survive a JavaScript number
MAX_REF_INT = 2**53
MAX_CLIENT_ID_LENGTH = 64
MAX_REF_LENGTH = 64
#: Django's ``AbstractUser.username`` max_length
MAX_USERNAME_LENGTH = 150
#: most items in one page: the highest ``limit`` of history, sync, list and conversations
MAX_PAGE = 100
DEFAULT_PAGE = 50
#: most conversations one ``resume`` may name
MAX_RESUME = 200
#: a search's pages: most and default hits, and its orders
MAX_SEARCH_PAGE = 50
DEFAULT_SEARCH_PAGE = 20
SEARCH_SORTS = ("newest", "relevance")
#: a search's ``count``: ``estimate`` (the default: cheap, exact only when small) or ``exact`` (every match counted)
SEARCH_COUNTS = ("estimate", "exact")
#: what ``mute`` stores for "forever"
FOREVER = datetime.datetime(9999, 12, 31, tzinfo=datetime.UTC)


# --- Frames -------------------------------------------------------------
# Every frame has ``ref`` (None when the client sent none). ``conversation``
# is None only on the one-to-one compatibility view, where the consumer
# knows it.


@dataclass(frozen=True)
class MessageFrame:
    content: str
    client_id: str
    conversation: int | None = None
    to: str | None = None
    ref: Ref | None = None
    type: Literal["message"] = "message"
    #: the seq of the message this one replies to
    reply_to: int | None = None
    #: ids of the sender's uploads the message carries (docs/protocol.md "Attachments")
    attachments: tuple[int, ...] = ()


@dataclass(frozen=True)
class TypingFrame:
    is_typing: bool
    conversation: int | None = None
    ref: Ref | None = None
    type: Literal["typing"] = "typing"


@dataclass(frozen=True)
class ReadFrame:
    up_to: int
    conversation: int | None = None
    ref: Ref | None = None
    type: Literal["read"] = "read"


@dataclass(frozen=True)
class ReceivedFrame:
    up_to: int
    conversation: int | None = None
    ref: Ref | None = None
    type: Literal["received"] = "received"


@dataclass(frozen=True)
class SyncFrame:
    after: int
    limit: int = MAX_PAGE
    conversation: int | None = None
    ref: Ref | None = None
    type: Literal["sync"] = "sync"


@dataclass(frozen=True)
class HistoryFrame:
    before: int | None
    limit: int
    conversation: int | None = None
    ref: Ref | None = None
    type: Literal["history"] = "history"
    #: a page around this seq instead of before ``before`` (a search hit, a reply's original)
    around: int | None = None


# --- Doing things to a message (message actions) ----------------------------


@dataclass(frozen=True)
class EditFrame:
    conversation: int
    seq: int
    content: str
    client_id: str
    ref: Ref | None = None
    type: Literal["edit"] = "edit"


@dataclass(frozen=True)
class DeleteFrame:
    """Delete for everyone."""

    conversation: int
    seq: int
    client_id: str
    ref: Ref | None = None
    type: Literal["delete"] = "delete"


@dataclass(frozen=True)
class ReactFrame:
    """``react`` adds the emoji, ``unreact`` takes it back."""

    conversation: int
    seq: int
    emoji: str
    client_id: str
    ref: Ref | None = None
    type: Literal["react", "unreact"] = "react"


@dataclass(frozen=True)
class HideFrame:
    """Delete for me: several messages at once."""

    conversation: int
    seqs: tuple[int, ...]
    client_id: str
    ref: Ref | None = None
    type: Literal["hide"] = "hide"


@dataclass(frozen=True)
class ClearFrame:
    conversation: int
    client_id: str
    ref: Ref | None = None
    type: Literal["clear"] = "clear"


@dataclass(frozen=True)
class EditsFrame:
    """A message's edit history."""

    conversation: int
    seq: int
    ref: Ref | None = None
    type: Literal["edits"] = "edits"


@dataclass(frozen=True)
class PingFrame:
    ref: Ref | None = None
    type: Literal["ping"] = "ping"


@dataclass(frozen=True)
class ViewFrame:
    conversation: int | None
    ref: Ref | None = None
    type: Literal["view"] = "view"


@dataclass(frozen=True)
class ResumeFrame:
    cursors: dict[int, int]
    ref: Ref | None = None
    type: Literal["resume"] = "resume"


@dataclass(frozen=True)
class ConversationsFrame:
    before: str | None
    limit: int
    ref: Ref | None = None
    type: Literal["conversations"] = "conversations"


@dataclass(frozen=True)
class CreateGroupFrame:
    title: str
    members: tuple[str, ...]
    client_id: str
    ref: Ref | None = None
    type: Literal["create_group"] = "create_group"


@dataclass(frozen=True)
class AddMembersFrame:
    conversation: int
    users: tuple[str, ...]
    client_id: str
    ref: Ref | None = None
    type: Literal["add_members"] = "add_members"


@dataclass(frozen=True)
class RemoveMemberFrame:
    conversation: int
    user: str
    client_id: str
    ref: Ref | None = None
    type: Literal["remove_member"] = "remove_member"


@dataclass(frozen=True)
class LeaveFrame:
    conversation: int
    client_id: str
    ref: Ref | None = None
    type: Literal["leave"] = "leave"


@dataclass(frozen=True)
class RenameFrame:
    conversation: int
    title: str
    client_id: str
    ref: Ref | None = None
    type: Literal["rename"] = "rename"


@dataclass(frozen=True)
class SetRoleFrame:
    conversation: int
    user: str
    role: str
    client_id: str
    ref: Ref | None = None
    type: Literal["set_role"] = "set_role"


@dataclass(frozen=True)
class MuteFrame:
    conversation: int
    until: datetime.datetime | None
    ref: Ref | None = None
    type: Literal["mute"] = "mute"


@dataclass(frozen=True)
class PinFrame:
    conversation: int
    pinned: bool
    ref: Ref | None = None
    type: Literal["pin"] = "pin"


@dataclass(frozen=True)
class MembersFrame:
    conversation: int
    ref: Ref | None = None
    type: Literal["members"] = "members"


@dataclass(frozen=True)
class MarkReadFrame:
    id: int
    ref: Ref | None = None
    type: Literal["mark_read"] = "mark_read"


@dataclass(frozen=True)
class MarkAllReadFrame:
    ref: Ref | None = None
    type: Literal["mark_all_read"] = "mark_all_read"


@dataclass(frozen=True)
class ListFrame:
    before: int | None
    limit: int
    ref: Ref | None = None
    type: Literal["list"] = "list"


@dataclass(frozen=True)
class SearchFrame:
    q: str
    cursor: str | None
    sort: str
    limit: int
    ref: Ref | None = None
    type: Literal["search"] = "search"
    count: str = "estimate"


Frame = (
    MessageFrame
    | TypingFrame
    | ReadFrame
    | ReceivedFrame
    | SyncFrame
    | HistoryFrame
    | PingFrame
    | ViewFrame
    | ResumeFrame
    | ConversationsFrame
    | CreateGroupFrame
    | AddMembersFrame
    | RemoveMemberFrame
    | LeaveFrame
    | RenameFrame
    | SetRoleFrame
    | MuteFrame
    | PinFrame
    | MembersFrame
    | MarkReadFrame
    | MarkAllReadFrame
    | ListFrame
    | EditFrame
    | DeleteFrame
    | ReactFrame
    | HideFrame
    | ClearFrame
    | EditsFrame
    | SearchFrame
)

#: the message actions' frames (on ``ws/chat/`` only)
MESSAGE_ACTION_FRAMES = frozenset({"edit", "delete", "react", "unreact", "hide", "clear", "edits"})
#: most messages one ``hide`` names
MAX_HIDE = MAX_PAGE
#: most code points of one reaction (an emoji ZWJ sequence with skin tones is about ten)
MAX_EMOJI_LENGTH = 16
# What a reaction may hold besides symbols: combining marks and variation
# selectors (Mn, Me), skin tones (Sk), the zero-width joiner and tag
# characters (subdivision flags), and the digits, # and * of keycaps.
_EMOJI_JOINERS = {"\u200d"} | {chr(c) for c in range(0xE0020, 0xE0080)}
_KEYCAP_BASES = set("0123456789#*")

#: what the one-user socket ``ws/chat/`` speaks
CHAT_FRAMES = (
    frozenset(
        {
            "message",
            "typing",
            "read",
            "received",
            "sync",
            "history",
            "ping",
            "view",
            "resume",
            "conversations",
            "create_group",
            "add_members",
            "remove_member",
            "leave",
            "rename",
            "set_role",
            "mute",
            "pin",
            "members",
            "search",
        }
    )
    | MESSAGE_ACTION_FRAMES
)
#: what the one-to-one compatibility view ``ws/chat/<username>/`` speaks
DIRECT_FRAMES = frozenset({"message", "typing", "read", "sync", "history", "ping"})
NOTIFICATION_FRAMES = frozenset({"mark_read", "mark_all_read", "list", "ping"})


# --- Field checks ---------------------------------------------------------


def safe_get(data: Any, *path: Any, default: Any = None) -> Any:
    """``data[path[0]][path[1]]...`` or ``default``, whatever ``data`` holds.

    Works through dicts (by key) and lists/tuples (by integer index) and never
    raises: a missing key, a wrong type or an out-of-range index gives
    ``default``.
    """
    current = data
    for key in path:
        if isinstance(current, Mapping):
            if key not in current:
                return default
            current = current[key]
        elif isinstance(current, (list, tuple)) and isinstance(key, int) and not isinstance(key, bool):
            if not -len(current) <= key < len(current):
                return default
            current = current[key]
        else:
            return default
    return current


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _has_unstorable(text: str) -> bool:
    """NUL and lone surrogates cannot be stored by every database."""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _text_field(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str):
        raise InvalidFrame(f"'{name}' must be a string")
    if _has_unstorable(value):
        raise InvalidFrame(f"'{name}' holds a NUL or a lone surrogate")
    return value


@overload
def _seq_field(
    data: Mapping[str, Any], name: str, *, required: Literal[True], nullable: Literal[False] = False
) -> int: ...
@overload
def _seq_field(data: Mapping[str, Any], name: str, *, required: bool, nullable: bool = False) -> int | None: ...
def _seq_field(data: Mapping[str, Any], name: str, *, required: bool, nullable: bool = False) -> int | None:
    """A seq: a missing one is refused when ``required`` (so it is an ``int``), else None, as is null when ``nullable``."""
    if name not in data:
        if required:
            raise InvalidFrame(f"'{name}' is missing")
        return None
    value = data[name]
    if value is None and nullable:
        return None
    if not _is_int(value):
        raise InvalidFrame(f"'{name}' must be an integer")
    if not 0 <= value <= MAX_INT:
        raise InvalidFrame(f"'{name}' must be between 0 and {MAX_INT}")
    return value


def _in_utc(moment: datetime.datetime) -> datetime.datetime:
    """``moment`` in UTC, no later than :data:`FOREVER`.

    ISO 8601 allows offsets PostgreSQL refuses to store (it takes up to
    ±15:59; a frame may say -23:00), and a time just before the year 10000
    with a negative offset is past it in UTC: either would fail at the
    database as a ``server_error``. In UTC every offset is gone, and a time
    past the last one a date can hold means "until I unmute it".
    """
    try:
        return min(moment.astimezone(datetime.UTC), FOREVER)
    except OverflowError:
        return FOREVER


def _id_field(data: Mapping[str, Any], name: str) -> int:
    value = data.get(name)
    if not _is_int(value) or not 1 <= value <= MAX_INT:
        raise InvalidFrame(f"'{name}' must be a positive integer id")
    return value


def _limit_field(data: Mapping[str, Any], default: int = DEFAULT_PAGE) -> int:
    if "limit" not in data or data["limit"] is None:
        return default
    value = data["limit"]
    if not _is_int(value) or not 1 <= value <= MAX_PAGE:
        raise InvalidFrame(f"'limit' must be an integer from 1 to {MAX_PAGE}")
    return value


def _username(value: Any, name: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_USERNAME_LENGTH or _has_unstorable(value):
        raise InvalidFrame(f"'{name}' must be a username of 1 to {MAX_USERNAME_LENGTH} characters")
    return value


def _usernames(data: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = data.get(name)
    if not isinstance(value, list) or not value:
        raise InvalidFrame(f"'{name}' must be a non-empty list of usernames")
    return tuple(_username(item, name) for item in value)


def _emoji(data: Mapping[str, Any]) -> str:
    """One emoji (a sequence of symbols and their modifiers); a letter, a space or a control is not one."""
    value = data.get("emoji")
    problem = InvalidFrame(f"'emoji' must be one emoji of at most {MAX_EMOJI_LENGTH} code points")
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_EMOJI_LENGTH or _has_unstorable(value):
        raise problem
    symbols = 0
    for char in value:
        category = unicodedata.category(char)
        if category == "So" or char == "\u20e3":
            symbols += 1
        elif category not in ("Sk", "Mn", "Me") and char not in _EMOJI_JOINERS and char not in _KEYCAP_BASES:
            raise problem
    if not symbols:
        raise problem
    return value


def _seqs(data: Mapping[str, Any], name: str, most: int) -> tuple[int, ...]:
    value = data.get(name)
    if not isinstance(value, list) or not 1 <= len(value) <= most:
        raise InvalidFrame(f"'{name}' must be a list of 1 to {most} seqs")
    if not all(_is_int(v) and 1 <= v <= MAX_INT for v in value):
        raise InvalidFrame(f"'{name}' must hold seqs (positive integers)")
    return tuple(value)


def _client_id(data: Mapping[str, Any]) -> str:
    client_id = data.get("client_id")
    if not isinstance(client_id, str) or not 1 <= len(client_id) <= MAX_CLIENT_ID_LENGTH:
        raise InvalidFrame(f"'client_id' must be a string of 1 to {MAX_CLIENT_ID_LENGTH} characters")
    if _has_unstorable(client_id):
        raise InvalidFrame("'client_id' holds a NUL or a lone surrogate")
    return client_id


#: most attachment ids a frame may name (the store refuses past MESSAGING_MAX_FILES_PER_MESSAGE)
MAX_ATTACHMENT_IDS = 100


def _attachment_ids(data: Mapping[str, Any]) -> tuple[int, ...]:
    """A message's optional ``attachments``: distinct upload ids (a caption may then be empty)."""
    value = data.get("attachments")
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_ATTACHMENT_IDS:
        raise InvalidFrame(f"'attachments' must be a list of at most {MAX_ATTACHMENT_IDS} upload ids")
    if not all(_is_int(item) and 1 <= item <= MAX_INT for item in value):
        raise InvalidFrame("'attachments' must hold positive integer upload ids")
    if len(set(value)) != len(value):
        raise InvalidFrame("'attachments' names an upload twice")
    return tuple(value)


def _ref(data: Mapping[str, Any]) -> Ref | None:
    """The request's ``ref``: None, a short string or a safe integer; anything else is not echoed."""
    if "ref" not in data or data["ref"] is None:
        return None
    value = data["ref"]
    if _is_int(value) and 0 <= value <= MAX_REF_INT:
        return value
    if isinstance(value, str) and 1 <= len(value) <= MAX_REF_LENGTH and not _has_unstorable(value):
        return value
    raise InvalidFrame(f"'ref' must be a string of 1 to {MAX_REF_LENGTH} characters or an integer from 0 to 2^53")


def _usable(field: Callable[[Mapping[str, Any]], Any], data: Mapping[str, Any]) -> Any:
    """The value ``field`` reads from ``data``, or None when it is missing or unusable."""
    try:
        return field(data)
    except ProtocolError:
        return None


# --- The validator --------------------------------------------------------


class ConnectionValidator:
    """Validates frames against the contract's limits.

    ``max_length`` is the most code points in a message's content;
    ``max_frame_bytes`` the most UTF-8 bytes in one frame;
    ``max_title_length`` the most code points in a group's title. With
    ``conversation_required`` off (the one-to-one view), frames carry no
    ``conversation``. A list of usernames is bounded by the frame's size
    only: naming more users than ``MESSAGING_MAX_GROUP_MEMBERS`` is the
    store's ``too_many_members``, not a malformed frame.
    """

    def __init__(
        self,
        *,
        max_length: int,
        max_frame_bytes: int,
        max_title_length: int = 120,
        conversation_required: bool = True,
    ) -> None:
        self.max_length = max_length
        self.max_frame_bytes = max_frame_bytes
        self.max_title_length = max_title_length
        self.conversation_required = conversation_required
        self._builders: dict[str, Callable[[Mapping[str, Any], Ref | None], Frame]] = {
            "message": self._message,
            "typing": self._typing,
            "read": self._read,
            "received": self._received,
            "sync": self._sync,
            "history": self._history,
            "ping": lambda data, ref: PingFrame(ref=ref),
            "view": self._view,
            "resume": self._resume,
            "conversations": self._conversations,
            "create_group": self._create_group,
            "add_members": self._add_members,
            "remove_member": self._remove_member,
            "leave": self._leave,
            "rename": self._rename,
            "set_role": self._set_role,
            "mute": self._mute,
            "pin": self._pin,
            "members": self._members,
            "mark_read": lambda data, ref: MarkReadFrame(id=_seq_field(data, "id", required=True), ref=ref),
            "mark_all_read": lambda data, ref: MarkAllReadFrame(ref=ref),
            "list": self._list,
            "edit": self._edit,
            "delete": self._delete,
            "react": self._react,
            "unreact": self._react,
            "hide": self._hide,
            "clear": self._clear,
            "edits": self._edits,
            "search": self._search,
        }

    def parse(
        self,
        text_data: str | None = None,
        bytes_data: bytes | None = None,
        *,
        allowed: frozenset[str] | set[str] | None = None,
    ) -> Frame | ProtocolError:
        """Turn one socket frame into a frame object or the error to answer with.

        ``allowed`` names the frame types this endpoint speaks; any other type
        is ``invalid_frame``.
        """
        try:
            return self._parse(text_data, bytes_data, allowed)
        except ProtocolError as error:
            return error
        except RecursionError:
            return InvalidFrame("the frame is nested too deeply")

    def validate_message_data(
        self, data: Any, *, allowed: frozenset[str] | set[str] | None = None
    ) -> Frame | ProtocolError:
        """Validate an already-decoded frame (for the HTTP API)."""
        try:
            return self._build(data, allowed)
        except ProtocolError as error:
            return error

    def _frame_too_large(self) -> TooLarge:
        return TooLarge(
            f"the frame is over {self.max_frame_bytes} bytes",
            limit=self.max_frame_bytes,
            setting="MESSAGING_MAX_FRAME_BYTES",
        )

    def _parse(
        self, text_data: str | None, bytes_data: bytes | None, allowed: frozenset[str] | set[str] | None
    ) -> Frame:
        if text_data is None:
            size = len(bytes_data) if isinstance(bytes_data, (bytes, bytearray)) else 0
            if size > self.max_frame_bytes:
                raise self._frame_too_large()
            raise InvalidFrame("binary frames are not part of the protocol; send JSON text")
        if not isinstance(text_data, str):
            raise InvalidFrame("a frame must be text")
        # A code point takes at most 4 bytes, so short frames skip the encode.
        if len(text_data) * 4 > self.max_frame_bytes:
            size = len(text_data.encode("utf-8", "surrogatepass"))
            if size > self.max_frame_bytes:
                raise self._frame_too_large()
        try:
            data = strict_loads(text_data)
        except ValueError as exc:
            raise InvalidJSON(f"the frame is not JSON: {_short(exc)}") from None
        return self._build(data, allowed)

    def _build(self, data: Any, allowed: frozenset[str] | set[str] | None) -> Frame:
        if not isinstance(data, dict):
            raise InvalidFrame("a frame must be a JSON object")
        try:
            frame_type = data.get("type")
            if not isinstance(frame_type, str):
                raise InvalidFrame("a frame needs a string 'type'")
            builder = self._builders.get(frame_type)
            if builder is None or (allowed is not None and frame_type not in allowed):
                raise InvalidFrame(f"unknown frame type {frame_type[:40]!r}")
            return builder(data, _ref(data))
        except ProtocolError as error:
            # Whatever was wrong, the error names the request by what in it is usable.
            error.ref = _usable(_ref, data)
            if error.client_id is None:
                error.client_id = _usable(_client_id, data)
            raise

    def _conversation(self, data: Mapping[str, Any]) -> int | None:
        """The frame's ``conversation``: required on ``ws/chat/``, absent on the one-to-one view."""
        if not self.conversation_required:
            return None
        return _id_field(data, "conversation")

    def _message(self, data: Mapping[str, Any], ref: Ref | None) -> MessageFrame:
        # A bad client_id is not echoed; once it is good, every other error carries it.
        client_id = _client_id(data)
        try:
            conversation = to = None
            if self.conversation_required:
                if data.get("to") is not None and data.get("conversation") is not None:
                    raise InvalidFrame("give 'conversation' or 'to', not both")
                if data.get("to") is not None:
                    to = _username(data["to"], "to")
                else:
                    conversation = _id_field(data, "conversation")
            attachments = _attachment_ids(data)
            content = self._content(data, attachments)
            reply_to = _seq_field(data, "reply_to", required=False, nullable=True)
            if reply_to == 0:
                raise InvalidFrame("'reply_to' must be the seq of a message")
        except ProtocolError as error:
            error.client_id = client_id
            raise
        return MessageFrame(
            content=content,
            client_id=client_id,
            conversation=conversation,
            to=to,
            ref=ref,
            reply_to=reply_to,
            attachments=attachments,
        )

    def _content(self, data: Mapping[str, Any], attachments: tuple[int, ...] = ()) -> str:
        """The text of a message or an edit; a message with files may leave it out or blank (no caption)."""
        content = _text_field(data, "content") if "content" in data or not attachments else ""
        if len(content) > self.max_length:
            raise TooLarge(
                f"'content' is over {self.max_length} characters", limit=self.max_length, setting="MESSAGING_MAX_LENGTH"
            )
        if not content.strip() and not attachments:
            raise InvalidFrame("'content' is blank")
        return content

    def _target(self, data: Mapping[str, Any]) -> tuple[int, int]:
        """The ``conversation`` and message ``seq`` an action names."""
        conversation = _id_field(data, "conversation")
        return conversation, _id_field(data, "seq")

    def _edit(self, data: Mapping[str, Any], ref: Ref | None) -> Frame:
        def build(client_id: str) -> EditFrame:
            conversation, seq = self._target(data)
            return EditFrame(conversation, seq, self._content(data), client_id, ref)

        return self._with_client_id(data, build)

    def _delete(self, data: Mapping[str, Any], ref: Ref | None) -> Frame:
        return self._with_client_id(data, lambda client_id: DeleteFrame(*self._target(data), client_id, ref))

    def _react(self, data: Mapping[str, Any], ref: Ref | None) -> Frame:
        return self._with_client_id(
            data, lambda client_id: ReactFrame(*self._target(data), _emoji(data), client_id, ref, data["type"])
        )

    def _hide(self, data: Mapping[str, Any], ref: Ref | None) -> Frame:
        return self._with_client_id(
            data,
            lambda client_id: HideFrame(_id_field(data, "conversation"), _seqs(data, "seqs", MAX_HIDE), client_id, ref),
        )

    def _clear(self, data: Mapping[str, Any], ref: Ref | None) -> Frame:
        return self._with_client_id(data, lambda client_id: ClearFrame(_id_field(data, "conversation"), client_id, ref))

    def _edits(self, data: Mapping[str, Any], ref: Ref | None) -> Frame:
        return EditsFrame(*self._target(data), ref)

    def _typing(self, data: Mapping[str, Any], ref: Ref | None) -> TypingFrame:
        value = data.get("is_typing")
        if not isinstance(value, bool):
            raise InvalidFrame("'is_typing' must be true or false")
        return TypingFrame(is_typing=value, conversation=self._conversation(data), ref=ref)

    def _read(self, data: Mapping[str, Any], ref: Ref | None) -> ReadFrame:
        return ReadFrame(up_to=_seq_field(data, "up_to", required=True), conversation=self._conversation(data), ref=ref)

    def _received(self, data: Mapping[str, Any], ref: Ref | None) -> ReceivedFrame:
        return ReceivedFrame(
            up_to=_seq_field(data, "up_to", required=True), conversation=self._conversation(data), ref=ref
        )

    def _sync(self, data: Mapping[str, Any], ref: Ref | None) -> SyncFrame:
        return SyncFrame(
            after=_seq_field(data, "after", required=True),
            limit=_limit_field(data, MAX_PAGE),
            conversation=self._conversation(data),
            ref=ref,
        )

    def _history(self, data: Mapping[str, Any], ref: Ref | None) -> HistoryFrame:
        before = _seq_field(data, "before", required=False, nullable=True)
        around = _seq_field(data, "around", required=False, nullable=True) if self.conversation_required else None
        if around is not None and before is not None:
            raise InvalidFrame("give 'before' or 'around', not both")
        return HistoryFrame(
            before=before, limit=_limit_field(data), conversation=self._conversation(data), ref=ref, around=around
        )

    @staticmethod
    def _view(data: Mapping[str, Any], ref: Ref | None) -> ViewFrame:
        if data.get("conversation") is None:
            return ViewFrame(conversation=None, ref=ref)
        return ViewFrame(conversation=_id_field(data, "conversation"), ref=ref)

    @staticmethod
    def _resume(data: Mapping[str, Any], ref: Ref | None) -> ResumeFrame:
        cursors = data.get("cursors")
        if not isinstance(cursors, dict):
            raise InvalidFrame("'cursors' must be an object of conversation id to seq")
        if len(cursors) > MAX_RESUME:
            raise InvalidFrame(f"'cursors' names more than {MAX_RESUME} conversations")
        parsed: dict[int, int] = {}
        for key, seq in cursors.items():
            if not (isinstance(key, str) and key.isascii() and key.isdigit() and 0 < int(key) <= MAX_INT):
                raise InvalidFrame("'cursors' keys must be conversation ids")
            if not _is_int(seq) or not 0 <= seq <= MAX_INT:
                raise InvalidFrame("'cursors' values must be seqs (integers from 0)")
            parsed[int(key)] = seq
        return ResumeFrame(cursors=parsed, ref=ref)

    @staticmethod
    def _conversations(data: Mapping[str, Any], ref: Ref | None) -> ConversationsFrame:
        before = data.get("before")
        if before is not None and (
            not isinstance(before, str) or not 1 <= len(before) <= 100 or _has_unstorable(before)
        ):
            raise InvalidFrame("'before' must be the 'next' cursor of a previous page, or null")
        return ConversationsFrame(before=before, limit=_limit_field(data), ref=ref)

    def _title(self, data: Mapping[str, Any]) -> str:
        title = _text_field(data, "title").strip()
        if not title:
            raise InvalidFrame("'title' is blank")
        if len(title) > self.max_title_length:
            raise TooLarge(
                f"'title' is over {self.max_title_length} characters",
                limit=self.max_title_length,
                setting="MESSAGING_MAX_TITLE_LENGTH",
            )
        return title

    def _with_client_id(self, data: Mapping[str, Any], build: Callable[[str], Frame]) -> Frame:
        client_id = _client_id(data)
        try:
            return build(client_id)
        except ProtocolError as error:
            error.client_id = client_id
            raise

    def _create_group(self, data: Mapping[str, Any], ref: Ref | None) -> Frame:
        return self._with_client_id(
            data,
            lambda client_id: CreateGroupFrame(
                title=self._title(data),
                members=_usernames(data, "members"),
                client_id=client_id,
                ref=ref,
            ),
        )

    def _add_members(self, data: Mapping[str, Any], ref: Ref | None) -> Frame:
        return self._with_client_id(
            data,
            lambda client_id: AddMembersFrame(
                conversation=_id_field(data, "conversation"),
                users=_usernames(data, "users"),
                client_id=client_id,
                ref=ref,
            ),
        )

    def _remove_member(self, data: Mapping[str, Any], ref: Ref | None) -> Frame:
        return self._with_client_id(
            data,
            lambda client_id: RemoveMemberFrame(
                conversation=_id_field(data, "conversation"),
                user=_username(data.get("user"), "user"),
                client_id=client_id,
                ref=ref,
            ),
        )

    def _leave(self, data: Mapping[str, Any], ref: Ref | None) -> Frame:
        return self._with_client_id(
            data,
            lambda client_id: LeaveFrame(conversation=_id_field(data, "conversation"), client_id=client_id, ref=ref),
        )

    def _rename(self, data: Mapping[str, Any], ref: Ref | None) -> Frame:
        return self._with_client_id(
            data,
            lambda client_id: RenameFrame(
                conversation=_id_field(data, "conversation"), title=self._title(data), client_id=client_id, ref=ref
            ),
        )

    def _set_role(self, data: Mapping[str, Any], ref: Ref | None) -> Frame:
        def build(client_id: str) -> SetRoleFrame:
            role = data.get("role")
            if role not in ("admin", "member"):
                raise InvalidFrame("'role' must be 'admin' or 'member'")
            return SetRoleFrame(
                conversation=_id_field(data, "conversation"),
                user=_username(data.get("user"), "user"),
                role=role,
                client_id=client_id,
                ref=ref,
            )

        return self._with_client_id(data, build)

    @staticmethod
    def _pin(data: Mapping[str, Any], ref: Ref | None) -> PinFrame:
        pinned = data.get("pinned")
        if not isinstance(pinned, bool):
            raise InvalidFrame("'pinned' must be true or false")
        return PinFrame(conversation=_id_field(data, "conversation"), pinned=pinned, ref=ref)

    @staticmethod
    def _mute(data: Mapping[str, Any], ref: Ref | None) -> MuteFrame:
        conversation = _id_field(data, "conversation")
        until = data.get("until")
        if until is None:
            return MuteFrame(conversation=conversation, until=None, ref=ref)
        if until == "forever":
            return MuteFrame(conversation=conversation, until=FOREVER, ref=ref)
        if isinstance(until, str) and len(until) <= 40:
            try:
                moment = datetime.datetime.fromisoformat(until)
            except ValueError:
                moment = None
            if moment is not None and moment.tzinfo is not None:
                return MuteFrame(conversation=conversation, until=_in_utc(moment), ref=ref)
        raise InvalidFrame("'until' must be a time with its offset, \"forever\", or null")

    @staticmethod
    def _members(data: Mapping[str, Any], ref: Ref | None) -> MembersFrame:
        return MembersFrame(conversation=_id_field(data, "conversation"), ref=ref)

    @staticmethod
    def _search(data: Mapping[str, Any], ref: Ref | None) -> SearchFrame:
        """A search; how long ``q`` may be, and what it may say, is the search's own business (its limits, its errors)."""
        q = _text_field(data, "q")
        cursor = data.get("cursor")
        if cursor is not None and (
            not isinstance(cursor, str) or not 1 <= len(cursor) <= 100 or _has_unstorable(cursor)
        ):
            raise InvalidFrame("'cursor' must be the 'next' of a previous page, or null")
        sort = data.get("sort", "newest")
        if sort is None:
            sort = "newest"
        if sort not in SEARCH_SORTS:
            raise InvalidFrame(f"'sort' must be one of {', '.join(SEARCH_SORTS)}")
        limit = data.get("limit")
        if limit is None:
            limit = DEFAULT_SEARCH_PAGE
        elif not _is_int(limit) or not 1 <= limit <= MAX_SEARCH_PAGE:
            raise InvalidFrame(f"'limit' must be an integer from 1 to {MAX_SEARCH_PAGE}")
        count = data.get("count")
        if count is None:
            count = "estimate"
        if count not in SEARCH_COUNTS:
            raise InvalidFrame(f"'count' must be one of {', '.join(SEARCH_COUNTS)}")
        return SearchFrame(q=q, cursor=cursor, sort=sort, limit=limit, ref=ref, count=count)

    @staticmethod
    def _list(data: Mapping[str, Any], ref: Ref | None) -> ListFrame:
        before = _seq_field(data, "before", required=False, nullable=True)
        return ListFrame(before=before, limit=_limit_field(data), ref=ref)

    # --- The scope ---------------------------------------------------------

    @staticmethod
    def validate_connection_data(scope: Any, *, required_kwargs: tuple[str, ...] = ()) -> dict[str, Any] | None:
        """The route kwargs of an authenticated socket's scope, or None to refuse.

        Returns ``{"user": user, **kwargs}`` when the scope has an
        authenticated user and every ``required_kwargs`` is a non-empty string.
        """
        user = safe_get(scope, "user")
        if user is None or not getattr(user, "is_authenticated", False):
            return None
        kwargs = safe_get(scope, "url_route", "kwargs", default={})
        if not isinstance(kwargs, Mapping):
            return None
        result: dict[str, Any] = {"user": user}
        for name in required_kwargs:
            value = kwargs.get(name)
            if not isinstance(value, str) or not value:
                return None
            result[name] = value
        return result


def strict_loads(text: str | bytes) -> Any:
    """``json.loads`` of strict JSON only: ``NaN`` and ``Infinity`` raise ``ValueError``.

    A text frame (every frame a socket reads) goes to one decoder made once:
    ``json.loads`` with an argument builds a new decoder and scanner on every
    call (2 us of a frame's 3.3 here). Bytes, and text that starts with a
    byte order mark, take ``json.loads`` itself, which decodes or refuses them.
    """
    if isinstance(text, str) and not text.startswith("\ufeff"):
        return _STRICT_DECODER.decode(text)
    return json.loads(text, parse_constant=_reject_constant)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_STRICT_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _short(exc: Exception) -> str:
    return str(exc)[:120]


@functools.lru_cache(maxsize=32)
def shared_validator(
    *, max_length: int, max_frame_bytes: int, max_title_length: int, conversation_required: bool
) -> ConnectionValidator:
    """The validator for these limits, one instance shared by every socket that has them.

    A validator keeps nothing of a socket's (only its limits), and building
    one per socket cost 2.4 KB of bound parsers for each idle socket
    (tracemalloc over 300 in-process sockets; docs/benchmark.md "Idle sockets").
    """
    return ConnectionValidator(
        max_length=max_length,
        max_frame_bytes=max_frame_bytes,
        max_title_length=max_title_length,
        conversation_required=conversation_required,
    )
