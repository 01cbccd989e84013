"""Presence: one ``Connection`` row per open socket, with heartbeats and expiry.

A user is online while one of their rows is fresher than the presence expiry,
so the rows of a process killed with SIGKILL simply stop counting. The stored
``UserStatus.online`` flag is what makes each online/offline announcement
happen once: it flips under a lock on the user's status row.
"""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Count, Max
from django.utils import timezone

from ..error_models import ErrorCategory
from ..logging_utils import messaging_logger
from ..models import Connection, Conversation, Participant, UserStatus
from .errors import LimitExceeded
from .users import username_of

T = TypeVar("T")


@dataclass(frozen=True)
class PresenceChange:
    """``user_id`` went online or offline; ``conversation_ids``: their direct conversations, where it is told."""

    user_id: int
    username: str
    online: bool
    last_seen: datetime.datetime | None
    conversation_ids: tuple[int, ...] = field(default=())


def direct_conversation_ids(user_id: int) -> tuple[int, ...]:
    """The direct conversations the user is in: their peers are who hear of their presence."""
    return tuple(
        Participant.objects.filter(
            user_id=user_id, left_seq__isnull=True, conversation__kind=Conversation.Kind.DIRECT
        ).values_list("conversation_id", flat=True)
    )


def _lock_status(user_id: int) -> UserStatus | None:
    """Lock the user's status row (made on first use); None when the user was deleted meanwhile."""
    status = UserStatus.objects.select_for_update().filter(user_id=user_id).first()
    if status is None:
        if not get_user_model().objects.filter(pk=user_id).exists():
            return None
        status, _ = UserStatus.objects.select_for_update().get_or_create(user_id=user_id)
    return status


def _live_connections(user_id: int, now: datetime.datetime, expiry: float) -> Any:
    return Connection.objects.filter(user_id=user_id, last_heartbeat__gte=now - datetime.timedelta(seconds=expiry))


def set_user_online_status(
    user_id: int, online: bool, *, at: datetime.datetime | None = None, username: str | None = None
) -> PresenceChange | None:
    """Flip the stored online flag; return the change, or None if it was already so.

    Callers hold the user's status row lock (see :func:`_lock_status`), so a
    connect and a disconnect in two processes cannot interleave wrongly.
    Callers that know the username pass it: otherwise it is one more query
    inside that locked transaction (the heartbeat sweep does not know it).
    """
    at = at or timezone.now()
    moved = UserStatus.objects.filter(user_id=user_id, online=not online).update(online=online, last_seen=at)
    if not moved:
        return None
    return PresenceChange(user_id, username or username_of(user_id), online, at, direct_conversation_ids(user_id))


def register_connection(
    user_id: int,
    channel_name: str,
    kind: str,
    server_id: str,
    conversation_id: int | None = None,
    *,
    max_sockets: int | None = None,
    expiry: float = 60,
    username: str | None = None,
) -> PresenceChange | None:
    """Record an open socket; return the change if the user just came online.

    Raises :class:`LimitExceeded` (recording nothing) when the user already
    has ``max_sockets`` live sockets.
    """
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        sql = _registration_sql()
        cursor.execute(sql.lock, [user_id])
        row = cursor.fetchone()
        if row is not None:
            online = bool(row[0])
        else:
            status = _lock_status(user_id)  # the first socket ever: the row is made here
            online = status is not None and status.online
        if max_sockets is not None:
            cursor.execute(sql.count_live, [user_id, _stamp(now - datetime.timedelta(seconds=expiry))])
            live = cursor.fetchone()[0]
            if live >= max_sockets:
                raise LimitExceeded(
                    f"you already have {live} open sockets; close one first",
                    setting="MESSAGING_MAX_SOCKETS_PER_USER",
                    limit=max_sockets,
                )
        stamp = _stamp(now)
        cursor.execute(sql.insert, [user_id, channel_name, kind, conversation_id, server_id, stamp, stamp])
        if online:
            # Read under the row's lock: already online, no flip to make (every socket after a user's first).
            return None
        return set_user_online_status(user_id, True, username=username)


@dataclass(frozen=True)
class _RegistrationSQL:
    lock: str
    count_live: str
    insert: str


@functools.cache
def _registration_sql() -> _RegistrationSQL:
    """A registration's three statements, written once per process (and per database vendor).

    Plain statements rather than ORM calls: every handshake of a reconnect
    storm runs them on the one database thread, and building them through
    the ORM cost more Python than the database spent on them
    (docs/benchmark.md, issue 19's handshakes). The same statements the ORM
    made: the status row locked (``FOR UPDATE`` where the database has it;
    SQLite's ``BEGIN IMMEDIATE`` holds the write lock), the live sockets
    counted, the row inserted.
    """
    quote = connection.ops.quote_name
    status = quote(UserStatus._meta.db_table)
    connections = quote(Connection._meta.db_table)
    for_update = " FOR UPDATE" if connection.features.has_select_for_update else ""
    column = {f.name: f.attname for f in Connection._meta.concrete_fields}  # no db_column set: the column
    columns = ", ".join(
        quote(column[name])
        for name in ("user", "channel_name", "kind", "conversation", "server_id", "connected_at", "last_heartbeat")
    )
    return _RegistrationSQL(
        lock=f"SELECT online FROM {status} WHERE user_id = %s{for_update}",
        count_live=f"SELECT COUNT(*) FROM {connections} WHERE user_id = %s AND last_heartbeat >= %s",
        insert=f"INSERT INTO {connections} ({columns}) VALUES (%s, %s, %s, %s, %s, %s, %s)",
    )


def _stamp(moment: datetime.datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(moment)


def unregister_connection(
    user_id: int, channel_name: str, expiry: float, *, username: str | None = None
) -> PresenceChange | None:
    """Forget a closed socket; return the change if it was the user's last one."""
    now = timezone.now()
    with transaction.atomic():
        locked = _lock_status(user_id)
        Connection.objects.filter(channel_name=channel_name).delete()
        if locked is None or _live_connections(user_id, now, expiry).exists():
            # Deleted users take their rows with them; there is no one to announce.
            return None
        return set_user_online_status(user_id, False, at=now, username=username)


def set_viewing(channel_name: str, conversation_id: int | None) -> None:
    """The conversation a socket shows in a visible tab (no new-message notification for it)."""
    Connection.objects.filter(channel_name=channel_name).update(conversation_id=conversation_id)


def refresh_connections(server_id: str, channel_names: list[str], since: datetime.datetime) -> None:
    """Heartbeat: this process's open sockets are alive.

    Rows of this process that are not open any more (their consumer died
    without ``disconnect``) and are older than ``since`` are dropped; the sweep
    then announces their users offline.
    """
    now = timezone.now()
    live = set(channel_names)
    for chunk in _chunks(sorted(live)):
        Connection.objects.filter(server_id=server_id, channel_name__in=chunk).update(last_heartbeat=now)
    stale = [
        pk
        for pk, name in Connection.objects.filter(server_id=server_id, connected_at__lt=since).values_list(
            "pk", "channel_name"
        )
        if name not in live
    ]
    for ids in _chunks(stale):
        Connection.objects.filter(pk__in=ids).delete()


def _chunks(items: list[T], size: int = 500) -> list[list[T]]:
    """Bounded ``IN (...)`` lists: a process may hold more sockets than a query may have parameters."""
    return [items[i : i + size] for i in range(0, len(items), size)]


def sweep_expired_connections(expiry: float) -> list[PresenceChange]:
    """Drop expired rows and turn offline every user left with no live socket.

    Rows expire when their process stopped refreshing them (killed, hung).
    ``last_seen`` of such a user is their last heartbeat.
    """
    now = timezone.now()
    cutoff = now - datetime.timedelta(seconds=expiry)
    expired = Connection.objects.filter(last_heartbeat__lt=cutoff)
    last_beats = dict(expired.values("user_id").annotate(last=Max("last_heartbeat")).values_list("user_id", "last"))
    dead_servers = dict(expired.values("server_id").annotate(n=Count("id")).values_list("server_id", "n"))
    expired.delete()
    for server_id, sockets in dead_servers.items():
        messaging_logger.error(
            ErrorCategory.CONNECTION_ERROR,
            f"{sockets} socket(s) of server process {server_id} stopped heartbeating; the process is gone",
            severity="warning",
            context={"server_id": server_id, "sockets": sockets, "expiry_seconds": expiry},
        )
    ghosts = UserStatus.objects.filter(online=True).exclude(
        user_id__in=Connection.objects.filter(last_heartbeat__gte=cutoff).values("user_id")
    )
    changes = []
    for user_id in ghosts.values_list("user_id", flat=True):
        with transaction.atomic():
            if _lock_status(user_id) is None or _live_connections(user_id, now, expiry).exists():
                continue
            change = set_user_online_status(user_id, False, at=last_beats.get(user_id, cutoff))
        if change is not None:
            changes.append(change)
    return changes


def presence_of(user_id: int, expiry: float) -> tuple[bool, datetime.datetime | None]:
    """Whether the user has a live socket, and when they were last seen."""
    online = _live_connections(user_id, timezone.now(), expiry).exists()
    last_seen = UserStatus.objects.filter(user_id=user_id).values_list("last_seen", flat=True).first()
    return online, last_seen


def presence_of_many(user_ids: list[int], expiry: float) -> dict[int, tuple[bool, datetime.datetime | None]]:
    """:func:`presence_of` for several users in two queries (the inbox's peers, a member list)."""
    if not user_ids:
        return {}
    cutoff = timezone.now() - datetime.timedelta(seconds=expiry)
    online = set(
        Connection.objects.filter(user_id__in=user_ids, last_heartbeat__gte=cutoff).values_list("user_id", flat=True)
    )
    last_seen = dict(UserStatus.objects.filter(user_id__in=user_ids).values_list("user_id", "last_seen"))
    return {user_id: (user_id in online, last_seen.get(user_id)) for user_id in user_ids}
