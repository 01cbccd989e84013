"""The one place the database layer's refusals become the contract's coded errors."""

from __future__ import annotations

from .. import exceptions
from ..store import errors

#: the limits the store checks that have a code of their own; any other is ``too_large``
LIMIT_ANSWERS: dict[str, type[exceptions.MessagingException]] = {
    "MESSAGING_MAX_REACTIONS": exceptions.TooManyReactions,
    "MESSAGING_MAX_PINNED_CONVERSATIONS": exceptions.TooManyPins,
    "MESSAGING_MAX_GROUP_MEMBERS": exceptions.TooManyMembers,
    "MESSAGING_MAX_SOCKETS_PER_USER": exceptions.TooManySockets,
    "MESSAGING_MAX_FILES_PER_MESSAGE": exceptions.TooManyFiles,
    "MESSAGING_UPLOAD_QUOTA_BYTES": exceptions.QuotaExceeded,
}


def wire_error(exc: errors.StoreError) -> exceptions.MessagingException:
    """The protocol error to answer ``exc`` with (the socket's edge adds the request's ``client_id`` and ``ref``)."""
    if isinstance(exc, errors.NotFound):
        return exceptions.NotFound(exc.detail)
    if isinstance(exc, errors.Forbidden):
        return exceptions.Forbidden(exc.detail)
    if isinstance(exc, (errors.Conflict, errors.Invalid)):
        return exceptions.InvalidFrame(exc.detail)
    if isinstance(exc, errors.WindowClosed):
        if exc.setting == "MESSAGING_DELETE_WINDOW":
            return exceptions.DeleteWindowClosed(exc.detail)
        return exceptions.EditWindowClosed(exc.detail)
    if isinstance(exc, errors.LimitExceeded):
        answer = LIMIT_ANSWERS.get(exc.setting, exceptions.TooLarge)
        return answer(exc.detail, limit=exc.limit, setting=exc.setting)
    return exceptions.ServerError(exc.detail)
