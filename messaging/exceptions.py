"""Errors of the wire contract.

At the edge (the consumers and the HTTP API) an error is an exception
carrying a protocol ``code``; :func:`messaging.serializers.error_frame` turns
it into ``{"type": "error", "code", "detail", ...}``. The database layer raises
errors of its own (:mod:`messaging.store.errors`) that know nothing of the
wire; :func:`messaging.actions.errors.wire_error` maps those to these.
"""

from __future__ import annotations

import enum
from typing import Unpack

from .frames import ErrorExtra, Ref


class ErrorCode(str, enum.Enum):
    """The error codes of the wire contract."""

    INVALID_JSON = "invalid_json"
    INVALID_FRAME = "invalid_frame"
    TOO_LARGE = "too_large"
    RATE_LIMITED = "rate_limited"
    # every other allowance has a code of its own (docs/protocol.md "Limits")
    TOO_MANY_IN_FLIGHT = "too_many_in_flight"
    PING_RATE_LIMITED = "ping_rate_limited"
    TYPING_RATE_LIMITED = "typing_rate_limited"
    REPORT_RATE_LIMITED = "report_rate_limited"
    FETCH_RATE_LIMITED = "fetch_rate_limited"
    FETCH_WORK_LIMITED = "fetch_work_limited"
    SEARCH_RATE_LIMITED = "search_rate_limited"
    PROFILE_RATE_LIMITED = "profile_rate_limited"
    # the account pages (HTML, not the wire's JSON): docs/hardening.md "Who may do what"
    SIGNIN_RATE_LIMITED = "signin_rate_limited"
    SIGNUP_RATE_LIMITED = "signup_rate_limited"
    PASSWORD_RESET_RATE_LIMITED = "password_reset_rate_limited"
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    TOO_MANY_MEMBERS = "too_many_members"
    TOO_MANY_SOCKETS = "too_many_sockets"
    EDIT_WINDOW_CLOSED = "edit_window_closed"
    DELETE_WINDOW_CLOSED = "delete_window_closed"
    TOO_MANY_REACTIONS = "too_many_reactions"
    TOO_MANY_PINS = "too_many_pins"
    SERVER_ERROR = "server_error"
    # attachments (docs/protocol.md "Attachments")
    TOO_MANY_FILES = "too_many_files"
    QUOTA_EXCEEDED = "quota_exceeded"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    TOO_MANY_PIXELS = "too_many_pixels"
    INVALID_FILE = "invalid_file"
    # the settings page (a time zone that does not exist, quiet hours half set)
    INVALID_SETTING = "invalid_setting"


class MessagingException(Exception):
    """Base of every error that reaches a client as an error frame.

    ``client_id`` and ``ref`` are echoed so the client can match the error to
    what it sent; ``extra`` holds the structured fields of the code
    (``retry_after``, ``setting``, ``limit``).
    """

    code: ErrorCode = ErrorCode.SERVER_ERROR
    http_status: int = 500

    def __init__(
        self, detail: str = "", *, client_id: str | None = None, ref: Ref | None = None, **extra: Unpack[ErrorExtra]
    ) -> None:
        super().__init__(detail)
        self.detail = detail or self.code.value.replace("_", " ")
        self.client_id = client_id
        self.ref = ref
        self.extra = extra


class ProtocolError(MessagingException):
    """The client sent something the contract does not allow (counts toward the abuse close)."""


class InvalidJSON(ProtocolError):
    code = ErrorCode.INVALID_JSON
    http_status = 400


class InvalidFrame(ProtocolError):
    code = ErrorCode.INVALID_FRAME
    http_status = 400


class InvalidSetting(ProtocolError):
    code = ErrorCode.INVALID_SETTING
    http_status = 400


class TooLarge(ProtocolError):
    code = ErrorCode.TOO_LARGE
    http_status = 413


class Refused(MessagingException):
    """A well-formed request the server will not carry out (not a bad frame)."""


class RateLimited(Refused):
    """Over an allowance: ``retry_after`` seconds until the next try may pass, ``setting`` naming the allowance.

    This class is the user's message allowance (``MESSAGING_RATE_LIMIT``);
    each other allowance is a subclass with a code of its own, so a client
    (and an operator reading logs) can tell which limit it met, while every
    rule about refusals (the socket stays open, never a bad frame, the read
    hold, ``Retry-After``) is written once, for this class. A client that
    does not know a code but sees ``retry_after`` waits and retries.
    """

    code = ErrorCode.RATE_LIMITED
    http_status = 429
    setting = "MESSAGING_RATE_LIMIT"

    def __init__(
        self, detail: str = "", *, client_id: str | None = None, ref: Ref | None = None, **extra: Unpack[ErrorExtra]
    ) -> None:
        super().__init__(detail, client_id=client_id, ref=ref, **extra)
        self.extra.setdefault("setting", self.setting)


class TooManyInFlight(RateLimited):
    """One socket already has ``MESSAGING_MAX_IN_FLIGHT`` messages waiting for their commit."""

    code = ErrorCode.TOO_MANY_IN_FLIGHT
    setting = "MESSAGING_MAX_IN_FLIGHT"


class PingRateLimited(RateLimited):
    code = ErrorCode.PING_RATE_LIMITED
    setting = "MESSAGING_PING_RATE_LIMIT"


class TypingRateLimited(RateLimited):
    code = ErrorCode.TYPING_RATE_LIMITED
    setting = "MESSAGING_TYPING_RATE_LIMIT"


class ReportRateLimited(RateLimited):
    """Too many ``received``/``read``/``view``/``mute``/``pin``/``mark_read``/``mark_all_read`` frames."""

    code = ErrorCode.REPORT_RATE_LIMITED
    setting = "MESSAGING_REPORT_RATE_LIMIT"


class FetchRateLimited(RateLimited):
    """Too many fetches: per socket on the socket, per user over the HTTP API."""

    code = ErrorCode.FETCH_RATE_LIMITED
    setting = "MESSAGING_FETCH_RATE_LIMIT"


class FetchWorkLimited(RateLimited):
    """The user's fetches used their share of the server's database time."""

    code = ErrorCode.FETCH_WORK_LIMITED
    setting = "MESSAGING_FETCH_WORK_LIMIT"


class SearchRateLimited(RateLimited):
    code = ErrorCode.SEARCH_RATE_LIMITED
    setting = "MESSAGING_SEARCH_RATE_LIMIT"


class ProfileRateLimited(RateLimited):
    code = ErrorCode.PROFILE_RATE_LIMITED
    setting = "MESSAGING_PROFILE_RATE_LIMIT"


class SigninRateLimited(RateLimited):
    """Too many failed sign-ins for one username, or (``setting``: ``MESSAGING_SIGNIN_ADDRESS_RATE_LIMIT``) from one address."""

    code = ErrorCode.SIGNIN_RATE_LIMITED
    setting = "MESSAGING_SIGNIN_RATE_LIMIT"


class SignupRateLimited(RateLimited):
    code = ErrorCode.SIGNUP_RATE_LIMITED
    setting = "MESSAGING_SIGNUP_RATE_LIMIT"


class PasswordResetRateLimited(RateLimited):
    """Too many reset requests from one client address (over one email address, nothing is said)."""

    code = ErrorCode.PASSWORD_RESET_RATE_LIMITED
    setting = "MESSAGING_PASSWORD_RESET_RATE_LIMIT"


class NotFound(Refused):
    code = ErrorCode.NOT_FOUND
    http_status = 404


class Forbidden(Refused):
    code = ErrorCode.FORBIDDEN
    http_status = 403


class TooManyMembers(Refused):
    """A group would exceed ``MESSAGING_MAX_GROUP_MEMBERS``."""

    code = ErrorCode.TOO_MANY_MEMBERS
    http_status = 413


class TooManySockets(Refused):
    """The user already has ``MESSAGING_MAX_SOCKETS_PER_USER`` open sockets."""

    code = ErrorCode.TOO_MANY_SOCKETS
    http_status = 429


class EditWindowClosed(Refused):
    """The sender's ``MESSAGING_EDIT_WINDOW`` to edit this message has passed."""

    code = ErrorCode.EDIT_WINDOW_CLOSED
    http_status = 403


class DeleteWindowClosed(Refused):
    """The sender's ``MESSAGING_DELETE_WINDOW`` to delete this message for everyone has passed."""

    code = ErrorCode.DELETE_WINDOW_CLOSED
    http_status = 403


class TooManyReactions(Refused):
    """A message already has ``MESSAGING_MAX_REACTIONS`` different emoji."""

    code = ErrorCode.TOO_MANY_REACTIONS
    http_status = 413


class TooManyPins(Refused):
    """The user already pinned ``MESSAGING_MAX_PINNED_CONVERSATIONS`` conversations."""

    code = ErrorCode.TOO_MANY_PINS
    http_status = 413


# --- Attachments --------------------------------------------------------------


class TooManyFiles(Refused):
    """More files in one upload, or named by one message, than ``MESSAGING_MAX_FILES_PER_MESSAGE``."""

    code = ErrorCode.TOO_MANY_FILES
    http_status = 413


class QuotaExceeded(Refused):
    """The upload would take the user's stored bytes past ``MESSAGING_UPLOAD_QUOTA_BYTES``."""

    code = ErrorCode.QUOTA_EXCEEDED
    http_status = 413


class UnsupportedMediaType(Refused):
    """A file named or sent as an image whose content is something else."""

    code = ErrorCode.UNSUPPORTED_MEDIA_TYPE
    http_status = 415


class TooManyPixels(Refused):
    """An image whose header claims more than ``MESSAGING_MAX_IMAGE_PIXELS``."""

    code = ErrorCode.TOO_MANY_PIXELS
    http_status = 413


class InvalidFile(Refused):
    """An empty file, or an image that does not decode whole (truncated, corrupt)."""

    code = ErrorCode.INVALID_FILE
    http_status = 422


class ServerError(MessagingException):
    """The server could not do what was asked; the client may try again.

    Whoever raises it has already recorded the cause as a ``MessagingError``
    (it knows the category); the edge only answers.
    """

    code = ErrorCode.SERVER_ERROR
    http_status = 503


class SerializationError(ServerError):
    """A value could not be turned into JSON."""
