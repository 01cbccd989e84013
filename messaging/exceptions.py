"""Errors of the messaging app.

Inside the app an error is an exception carrying a protocol ``code``; at the
edge (the consumers and the HTTP API) :func:`messaging.serializers.error_frame`
turns it into ``{"type": "error", "code", "detail"}``. One place maps one to the
other, so a new error is a new class here and nothing else.
"""

from __future__ import annotations

import enum


class ErrorCode(str, enum.Enum):
    """The error codes of the wire contract, plus the HTTP-only ones."""

    INVALID_JSON = "invalid_json"
    INVALID_FRAME = "invalid_frame"
    TOO_LARGE = "too_large"
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    # HTTP API only: a socket is refused at the handshake instead.
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"


class MessagingException(Exception):
    """Base of every error that reaches a client as an error frame."""

    code: ErrorCode = ErrorCode.SERVER_ERROR
    http_status: int = 500

    def __init__(self, detail: str = "", *, client_id: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail or self.code.value.replace("_", " ")
        self.client_id = client_id


class ProtocolError(MessagingException):
    """The client sent something the contract does not allow."""


class InvalidJSON(ProtocolError):
    code = ErrorCode.INVALID_JSON
    http_status = 400


class InvalidFrame(ProtocolError):
    code = ErrorCode.INVALID_FRAME
    http_status = 400


class TooLarge(ProtocolError):
    code = ErrorCode.TOO_LARGE
    http_status = 413


class RateLimited(ProtocolError):
    code = ErrorCode.RATE_LIMITED
    http_status = 429


class Forbidden(ProtocolError):
    code = ErrorCode.FORBIDDEN
    http_status = 403


class NotFound(ProtocolError):
    code = ErrorCode.NOT_FOUND
    http_status = 404


class ServerError(MessagingException):
    """The server could not do what was asked; the client may try again.

    Whoever raises it has already recorded the cause as a ``MessagingError``
    (it knows the category); the edge only answers.
    """

    code = ErrorCode.SERVER_ERROR
    http_status = 503


class SerializationError(ServerError):
    """A value could not be turned into JSON."""


class TooManySockets(ProtocolError):
    """The user already has ``MESSAGING_MAX_SOCKETS_PER_USER`` open sockets."""

    code = ErrorCode.RATE_LIMITED
    http_status = 429
