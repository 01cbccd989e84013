"""``ConnectionValidator``: raw frame text in, a typed and validated frame out.

Nothing here raises on any input: :meth:`ConnectionValidator.parse` returns
either a frame object or a :class:`~messaging.exceptions.ProtocolError` that
the consumer turns into an error frame. This module imports nothing of ours
but the exceptions, so it can be tested on its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Union

from .exceptions import InvalidFrame, InvalidJSON, ProtocolError, TooLarge

# Seqs and ids are stored in 64-bit integer columns.
MAX_INT = 2**63 - 1
MAX_CLIENT_ID_LENGTH = 64
#: most items in one page: the highest ``limit`` of history and list, and the size of a sync page
MAX_PAGE = 100
DEFAULT_PAGE = 50


# --- Frames -------------------------------------------------------------


@dataclass(frozen=True)
class MessageFrame:
    content: str
    client_id: str
    type: str = "message"


@dataclass(frozen=True)
class TypingFrame:
    is_typing: bool
    type: str = "typing"


@dataclass(frozen=True)
class ReadFrame:
    up_to: int
    type: str = "read"


@dataclass(frozen=True)
class SyncFrame:
    after: int
    type: str = "sync"


@dataclass(frozen=True)
class HistoryFrame:
    before: int | None
    limit: int
    type: str = "history"


@dataclass(frozen=True)
class PingFrame:
    type: str = "ping"


@dataclass(frozen=True)
class MarkReadFrame:
    id: int
    type: str = "mark_read"


@dataclass(frozen=True)
class MarkAllReadFrame:
    type: str = "mark_all_read"


@dataclass(frozen=True)
class ListFrame:
    before: int | None
    limit: int
    type: str = "list"


Frame = Union[
    MessageFrame,
    TypingFrame,
    ReadFrame,
    SyncFrame,
    HistoryFrame,
    PingFrame,
    MarkReadFrame,
    MarkAllReadFrame,
    ListFrame,
]


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


def _is_int(value: Any) -> bool:
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


def _seq_field(data: Mapping[str, Any], name: str, *, required: bool, nullable: bool = False) -> int | None:
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


def _limit_field(data: Mapping[str, Any]) -> int:
    if "limit" not in data or data["limit"] is None:
        return DEFAULT_PAGE
    value = data["limit"]
    if not _is_int(value) or not 1 <= value <= MAX_PAGE:
        raise InvalidFrame(f"'limit' must be an integer from 1 to {MAX_PAGE}")
    return value


# --- The validator --------------------------------------------------------


class ConnectionValidator:
    """Validates frames against the contract's limits.

    ``max_length`` is the most code points in a message's content;
    ``max_frame_bytes`` the most UTF-8 bytes in one frame.
    """

    def __init__(self, *, max_length: int, max_frame_bytes: int) -> None:
        self.max_length = max_length
        self.max_frame_bytes = max_frame_bytes
        self._builders: dict[str, Callable[[Mapping[str, Any]], Frame]] = {
            "message": self._message,
            "typing": self._typing,
            "read": self._read,
            "sync": self._sync,
            "history": self._history,
            "ping": lambda data: PingFrame(),
            "mark_read": self._mark_read,
            "mark_all_read": lambda data: MarkAllReadFrame(),
            "list": self._list,
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

    def validate_message_data(self, data: Any, *, allowed: frozenset[str] | set[str] | None = None) -> Frame | ProtocolError:
        """Validate an already-decoded frame (for the HTTP API)."""
        try:
            return self._build(data, allowed)
        except ProtocolError as error:
            return error

    def _parse(
        self, text_data: str | None, bytes_data: bytes | None, allowed: frozenset[str] | set[str] | None
    ) -> Frame:
        if text_data is None:
            size = len(bytes_data) if isinstance(bytes_data, (bytes, bytearray)) else 0
            if size > self.max_frame_bytes:
                raise TooLarge(f"the frame is over {self.max_frame_bytes} bytes")
            raise InvalidFrame("binary frames are not part of the protocol; send JSON text")
        if not isinstance(text_data, str):
            raise InvalidFrame("a frame must be text")
        # A code point takes at most 4 bytes, so short frames skip the encode.
        if len(text_data) * 4 > self.max_frame_bytes:
            size = len(text_data.encode("utf-8", "surrogatepass"))
            if size > self.max_frame_bytes:
                raise TooLarge(f"the frame is over {self.max_frame_bytes} bytes")
        try:
            data = strict_loads(text_data)
        except ValueError as exc:
            raise InvalidJSON(f"the frame is not JSON: {_short(exc)}") from None
        return self._build(data, allowed)

    def _build(self, data: Any, allowed: frozenset[str] | set[str] | None) -> Frame:
        if not isinstance(data, dict):
            raise InvalidFrame("a frame must be a JSON object")
        frame_type = data.get("type")
        if not isinstance(frame_type, str):
            raise InvalidFrame("a frame needs a string 'type'")
        builder = self._builders.get(frame_type)
        if builder is None or (allowed is not None and frame_type not in allowed):
            raise InvalidFrame(f"unknown frame type {frame_type[:40]!r}")
        return builder(data)

    def _message(self, data: Mapping[str, Any]) -> MessageFrame:
        # A bad client_id is not echoed; once it is good, every other error carries it.
        client_id = data.get("client_id")
        if not isinstance(client_id, str) or not 1 <= len(client_id) <= MAX_CLIENT_ID_LENGTH:
            raise InvalidFrame(f"'client_id' must be a string of 1 to {MAX_CLIENT_ID_LENGTH} characters")
        if _has_unstorable(client_id):
            raise InvalidFrame("'client_id' holds a NUL or a lone surrogate")
        try:
            content = _text_field(data, "content")
            if len(content) > self.max_length:
                raise TooLarge(f"'content' is over {self.max_length} characters")
            if not content.strip():
                raise InvalidFrame("'content' is blank")
        except ProtocolError as error:
            error.client_id = client_id
            raise
        return MessageFrame(content=content, client_id=client_id)

    @staticmethod
    def _typing(data: Mapping[str, Any]) -> TypingFrame:
        value = data.get("is_typing")
        if not isinstance(value, bool):
            raise InvalidFrame("'is_typing' must be true or false")
        return TypingFrame(is_typing=value)

    @staticmethod
    def _read(data: Mapping[str, Any]) -> ReadFrame:
        return ReadFrame(up_to=_seq_field(data, "up_to", required=True))

    @staticmethod
    def _sync(data: Mapping[str, Any]) -> SyncFrame:
        return SyncFrame(after=_seq_field(data, "after", required=True))

    @staticmethod
    def _history(data: Mapping[str, Any]) -> HistoryFrame:
        before = _seq_field(data, "before", required=False, nullable=True)
        return HistoryFrame(before=before, limit=_limit_field(data))

    @staticmethod
    def _mark_read(data: Mapping[str, Any]) -> MarkReadFrame:
        return MarkReadFrame(id=_seq_field(data, "id", required=True))

    @staticmethod
    def _list(data: Mapping[str, Any]) -> ListFrame:
        before = _seq_field(data, "before", required=False, nullable=True)
        return ListFrame(before=before, limit=_limit_field(data))

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
    """``json.loads`` of strict JSON only: ``NaN`` and ``Infinity`` raise ``ValueError``."""
    return json.loads(text, parse_constant=_reject_constant)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _short(exc: Exception) -> str:
    return str(exc)[:120]
