"""The one place the database layer's refusals become the contract's coded errors."""

from __future__ import annotations

from typing import Any

from .. import exceptions
from ..frames import Ref
from ..store import errors


def wire_error(
    exc: errors.StoreError, *, client_id: str | None = None, ref: Ref | None = None
) -> exceptions.MessagingException:
    """The protocol error to answer ``exc`` with, carrying the request's ``client_id`` and ``ref``."""
    context: dict[str, Any] = {"client_id": client_id, "ref": ref}
    if isinstance(exc, errors.NotFound):
        return exceptions.NotFound(exc.detail, **context)
    if isinstance(exc, errors.Forbidden):
        return exceptions.Forbidden(exc.detail, **context)
    if isinstance(exc, (errors.Conflict, errors.Invalid)):
        return exceptions.InvalidFrame(exc.detail, **context)
    if isinstance(exc, errors.WindowClosed):
        if exc.setting == "MESSAGING_DELETE_WINDOW":
            return exceptions.DeleteWindowClosed(exc.detail, **context)
        return exceptions.EditWindowClosed(exc.detail, **context)
    if isinstance(exc, errors.LimitExceeded):
        if exc.setting == "MESSAGING_MAX_REACTIONS":
            return exceptions.TooManyReactions(exc.detail, limit=exc.limit, setting=exc.setting, **context)
        if exc.setting == "MESSAGING_MAX_PINNED_CONVERSATIONS":
            return exceptions.TooManyPins(exc.detail, limit=exc.limit, setting=exc.setting, **context)
        if exc.setting == "MESSAGING_MAX_GROUP_MEMBERS":
            return exceptions.TooManyMembers(exc.detail, limit=exc.limit, setting=exc.setting, **context)
        if exc.setting == "MESSAGING_MAX_SOCKETS_PER_USER":
            return exceptions.TooManySockets(exc.detail, limit=exc.limit, setting=exc.setting, **context)
        if exc.setting == "MESSAGING_MAX_FILES_PER_MESSAGE":
            return exceptions.TooManyFiles(exc.detail, limit=exc.limit, setting=exc.setting, **context)
        if exc.setting == "MESSAGING_UPLOAD_QUOTA_BYTES":
            return exceptions.QuotaExceeded(exc.detail, limit=exc.limit, setting=exc.setting, **context)
        return exceptions.TooLarge(exc.detail, limit=exc.limit, setting=exc.setting, **context)
    return exceptions.ServerError(exc.detail, **context)
