"""What the database layer raises when it cannot do what was asked.

The store knows nothing of the wire: these say what went wrong in its own
terms, and :func:`messaging.actions.errors.wire_error` is the one place
that turns them into the protocol's coded errors.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of the database layer's refusals; ``detail`` is safe to show the user."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(StoreError):
    """No such conversation among the user's, no such user, no such row of theirs."""


class Forbidden(StoreError):
    """It exists and the user may know it, but may not do this (left, role, kind)."""


class Conflict(StoreError):
    """A ``client_id`` already names a different event of the sender."""


class Invalid(StoreError):
    """The request is well formed but means nothing here (nothing left to add)."""


class LimitExceeded(StoreError):
    """A configured limit would be exceeded; ``setting`` names it."""

    def __init__(self, detail: str, *, setting: str, limit: int) -> None:
        super().__init__(detail)
        self.setting = setting
        self.limit = limit


class Unavailable(StoreError):
    """The database did not answer, even after retries: nothing was stored."""


class WindowClosed(StoreError):
    """Too late: the sender's window to edit (or delete for everyone) a message has passed; ``setting`` names it."""

    def __init__(self, detail: str, *, setting: str) -> None:
        super().__init__(detail)
        self.setting = setting
