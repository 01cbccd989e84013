"""``MessagingLogger``: one call that logs a failure and keeps it for operators.

Every server-side failure goes through :meth:`MessagingLogger.error` (or its
async twin :meth:`MessagingLogger.aerror`): it is written to the ``messaging``
logger and stored as a :class:`~messaging.error_models.MessagingError`.
Storing never raises into the caller: when the database is what failed, the
log line says so and the record waits in a small in-process backlog that is
stored as soon as the database answers again (the next record, or the
presence heartbeat, flushes it).

Bad frames from clients are not server failures but are still worth seeing;
:meth:`MessagingLogger.client_error` stores at most one row per user and code
per window and counts the rest, so a flood of bad frames cannot flood the
table.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections import deque
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from django.core.exceptions import SynchronousOnlyOperation
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from .error_models import ErrorCategory, MessagingError, Severity
from .exceptions import SerializationError
from .ops import metrics
from .ops.cachebox import shared_cache

if TYPE_CHECKING:
    # the project's user model (store.users.User, which this layer cannot import), or nobody signed in
    from django.contrib.auth.models import AnonymousUser, User

logger = logging.getLogger("messaging")

_LOG_LEVELS = {
    Severity.DEBUG: logging.DEBUG,
    Severity.INFO: logging.INFO,
    Severity.WARNING: logging.WARNING,
    Severity.ERROR: logging.ERROR,
    Severity.CRITICAL: logging.CRITICAL,
}

# Records that could not be stored while the database was down, oldest
# first; bounded so an outage cannot exhaust memory. Lost if the process dies.
_backlog: deque[MessagingError] = deque(maxlen=1000)

# One stored validation_error per user and code per minute is enough to see
# who sends what; the count of the others travels in the next stored row.
CLIENT_ERROR_WINDOW_SECONDS = 60


def category_for_exception(exc: BaseException) -> ErrorCategory:
    """The category an unexpected exception belongs to."""
    if isinstance(exc, SerializationError):
        return ErrorCategory.JSON_SERIALIZATION_ERROR
    if isinstance(exc, SynchronousOnlyOperation):
        return ErrorCategory.ASYNC_CONTEXT_VIOLATION
    if isinstance(exc, DatabaseError):
        return ErrorCategory.DATABASE_ERROR
    if isinstance(exc, (ConnectionError, OSError)):
        return ErrorCategory.CONNECTION_ERROR
    return ErrorCategory.DELIVERY_ERROR


# Windows of the throttle kept in this process while the cache is down:
# key -> (window start, events suppressed in it).
_local_windows: dict[str, tuple[float, int]] = {}


def _local_window(window_key: str) -> int | None:
    """:meth:`MessagingLogger._window_in_cache` in this process's memory."""
    now = time.monotonic()
    started, suppressed = _local_windows.get(window_key, (0.0, 0))
    if now - started < CLIENT_ERROR_WINDOW_SECONDS:
        _local_windows[window_key] = (started, suppressed + 1)
        return None
    if len(_local_windows) > 10000:  # bounded: drop the lot rather than grow
        _local_windows.clear()
    _local_windows[window_key] = (now, 0)
    return suppressed


def _user_id(user: User | AnonymousUser | None) -> int | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return user.pk


class MessagingLogger:
    """Log through ``logging`` and store a ``MessagingError``, in one call."""

    def __init__(self, name: str = "messaging") -> None:
        self.log = logging.getLogger(name)

    def error(
        self,
        category: ErrorCategory | str,
        message: str,
        *,
        severity: Severity | str = Severity.ERROR,
        context: dict[str, Any] | None = None,
        user: User | AnonymousUser | None = None,
        exc: BaseException | None = None,
        message_id: int | None = None,
    ) -> MessagingError | None:
        """Log and store one failure; return the stored row, or None if storing failed."""
        category = ErrorCategory(category)
        severity = Severity(severity)
        metrics.MESSAGING_ERRORS.labels(category.value).inc()
        context = dict(context or {})
        if exc is not None:
            context.setdefault("exception", f"{type(exc).__name__}: {exc}")
            context.setdefault("traceback", "".join(traceback.format_exception(exc))[-4000:])
        self.log.log(
            _LOG_LEVELS[severity],
            "[%s] %s",
            category.value,
            message,
            exc_info=exc if exc is not None and severity in (Severity.ERROR, Severity.CRITICAL) else None,
        )
        return self._store(category, severity, message, context, _user_id(user), message_id)

    async def aerror(self, *args: Any, **kwargs: Any) -> MessagingError | None:
        """:meth:`error` from async code: the row is stored in the sync thread.

        Plain ``sync_to_async`` rather than ``database_sync_to_async``: this is
        also reached from sync views through ``async_to_sync``, where closing
        "old" connections mid-request would break the caller's transaction.
        """
        return await sync_to_async(self.error)(*args, **kwargs)

    def client_error(
        self, user: User | AnonymousUser | None, code: str, detail: str, *, context: dict[str, Any] | None = None
    ) -> MessagingError | None:
        """Record a client's bad frame, at most one row per user and code per window."""
        return self.throttled(
            ErrorCategory.VALIDATION_ERROR, code, f"client sent a bad frame ({code}): {detail}", user, context=context
        )

    def throttled(
        self,
        category: ErrorCategory | str,
        code: str,
        message: str,
        user: User | AnonymousUser | None,
        *,
        context: dict[str, Any] | None = None,
        severity: Severity | str = Severity.WARNING,
    ) -> MessagingError | None:
        """Store at most one row per user, category and code per window; count the rest.

        For events a client can cause at will (bad frames, abrupt closes): the
        count of the suppressed ones travels in the next stored row.
        """
        window_key = f"messaging:throttled:{category}:{_user_id(user)}:{code}"
        try:
            suppressed = self._window_in_cache(window_key)
        except Exception as cache_exc:  # noqa: BLE001 - a cache outage must not stop the answer
            # The cache is Redis and Redis is down, which is when failures come
            # in floods: throttle in this process instead.
            self.log.warning("cache unavailable for error throttling: %s", cache_exc)
            suppressed = _local_window(window_key)
        if suppressed is None:
            metrics.MESSAGING_ERRORS.labels(ErrorCategory(category).value).inc()
            return None
        context = {"code": code, "suppressed_since_last": suppressed, **(context or {})}
        return self.error(category, message, severity=severity, context=context, user=user)

    @staticmethod
    def _window_in_cache(window_key: str) -> int | None:
        """None inside an open window (the event is counted); else how many the last window suppressed."""
        count_key = f"{window_key}:suppressed"
        cache = shared_cache()
        if not cache.add(window_key, 1, CLIENT_ERROR_WINDOW_SECONDS):
            if not cache.add(count_key, 1, CLIENT_ERROR_WINDOW_SECONDS * 10):
                cache.incr(count_key)
            return None
        suppressed = cache.get(count_key, 0)
        cache.delete(count_key)
        return suppressed

    async def athrottled(self, *args: Any, **kwargs: Any) -> MessagingError | None:
        return await sync_to_async(self.throttled)(*args, **kwargs)

    async def aclient_error(self, *args: Any, **kwargs: Any) -> MessagingError | None:
        return await sync_to_async(self.client_error)(*args, **kwargs)

    def _store(
        self,
        category: ErrorCategory,
        severity: Severity,
        message: str,
        context: dict[str, Any],
        user_id: int | None,
        message_id: int | None = None,
    ) -> MessagingError | None:
        row = MessagingError(
            message_ref_id=message_id,
            category=category,
            severity=severity,
            message=message[:10000],
            context=_json_safe(context),
            user_id=user_id,
            occurred_at=timezone.now(),
        )
        try:
            with transaction.atomic():
                row.save()
        except (DatabaseError, SynchronousOnlyOperation) as store_exc:
            self.log.critical("could not store MessagingError [%s] %s: %s", category.value, message, store_exc)
            if not isinstance(store_exc, SynchronousOnlyOperation):
                # Kept for when the database answers again (see flush_backlog).
                _backlog.append(row)
            return None
        self.flush_backlog()
        return row

    def flush_backlog(self) -> int:
        """Store the records that failed while the database was down; return how many.

        Stops at the first that fails for the database's sake (still down),
        so that the rest keep their order for the next try.
        """
        stored = 0
        while _backlog:
            row = _backlog[0]
            try:
                _save_kept(row)
            except DatabaseError:
                break
            _backlog.popleft()
            stored += 1
        return stored

    def drop_backlog(self) -> int:
        """Forget the records waiting for the database; return how many (a test's outage must not reach the next test)."""
        dropped = len(_backlog)
        _backlog.clear()
        return dropped


def _save_kept(row: MessagingError) -> None:
    """Store a record that waited in the backlog, without its links if what they name has gone.

    While it waited, its user or its message may have been deleted: its
    links then break a foreign key at commit, and it would fail for ever,
    holding back every record behind it. It is stored without them; their
    ids stay in its context.
    """
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        row.context = {**row.context, "user_id": row.user_id, "message_id": row.message_ref_id}
        row.user_id = row.message_ref_id = None
        row.pk, row._state.adding = None, True  # the rolled-back INSERT may have set it
        with transaction.atomic():
            row.save()


def _json_safe(value: Any) -> Any:
    """Context is free-form; make sure the JSON field can hold it."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = str(value)
    # Lone surrogates and NUL cannot be stored by every database.
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


messaging_logger = MessagingLogger()
