"""Every database operation the consumers and views need.

Each operation is a plain function doing its work in one short transaction;
views call them directly, and :class:`AsyncSafeMessageHandler` exposes them to
the consumers as ``database_sync_to_async`` coroutines, so no consumer ever
touches the ORM from the event loop.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any, Union

from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Max, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from .error_models import ErrorCategory
from .exceptions import InvalidFrame, MessagingException, RateLimited, ServerError, TooManySockets
from .logging_utils import messaging_logger
from .models import (
    ArchivedMessage,
    Connection,
    Conversation,
    Message,
    MessageStatus,
    Notification,
    Participant,
    UserStatus,
)
from .ops import metrics
from .ops.rate_limit import TokenBucket
from .pubsub import conversation_group
from .retry_handler import DATABASE_POLICY, MessageRetryHandler, RetriesExhausted

User = get_user_model()

UNREAD = (MessageStatus.SENT, MessageStatus.DELIVERED)

# One handler for the process, so its counters tell how often storing a
# message needed a retry and how often that worked.
database_retry = MessageRetryHandler(DATABASE_POLICY, operation="store_message")


@dataclass(frozen=True)
class ChatOpening:
    """What a chat socket needs to know about its conversation and peer."""

    conversation_id: int
    peer: Any

    @property
    def group_name(self) -> str:
        return conversation_group(self.conversation_id)

    @property
    def peer_id(self) -> int:
        return self.peer.pk

    @property
    def peer_username(self) -> str:
        return self.peer.get_username()


@dataclass(frozen=True)
class StatusChange:
    """Messages up to ``up_to`` moved to ``status`` because of ``by``."""

    conversation_id: int
    status: str
    up_to: int
    by: str
    at: datetime.datetime


@dataclass(frozen=True)
class PresenceChange:
    """``user_id`` went online or offline."""

    user_id: int
    username: str
    online: bool
    last_seen: datetime.datetime | None


@dataclass
class MessagePage:
    messages: list[Message]
    has_more: bool
    delivered: StatusChange | None = None


# --- Conversations ----------------------------------------------------------


def find_peer(user: Any, username: str) -> Any | None:
    """The active user called ``username``, unless it is ``user`` itself."""
    peer = User.objects.filter(username=username, is_active=True).first()
    if peer is None or peer.pk == user.pk:
        return None
    return peer


def get_or_create_direct_conversation(user: Any, peer: Any) -> Conversation:
    """The one direct conversation of the pair, created with both participants."""
    key = Conversation.direct_key_for(user.pk, peer.pk)
    conversation = Conversation.objects.filter(direct_key=key).first()
    if conversation is not None:
        return conversation
    try:
        with transaction.atomic():
            conversation = Conversation.objects.create(kind=Conversation.Kind.DIRECT, direct_key=key)
            Participant.objects.bulk_create(
                [Participant(conversation=conversation, user=user), Participant(conversation=conversation, user=peer)]
            )
            return conversation
    except IntegrityError:
        # Another request created it between our lookup and our insert.
        return Conversation.objects.get(direct_key=key)


def open_chat(user: Any, peer_username: str) -> ChatOpening | None:
    """The conversation between ``user`` and ``peer_username``, or None to refuse."""
    peer = find_peer(user, peer_username)
    if peer is None:
        return None
    conversation = get_or_create_direct_conversation(user, peer)
    return ChatOpening(
        conversation_id=conversation.pk,
        peer=peer,
    )


def last_seq(conversation_id: int) -> int:
    return Conversation.objects.filter(pk=conversation_id).values_list("last_seq", flat=True).get()


def chat_snapshot(conversation_id: int, user_id: int, peer_id: int, expiry: float) -> dict[str, Any]:
    """What the ``connected`` frame reports: last seq, unread count, peer presence."""
    online, last_seen = presence_of(peer_id, expiry)
    return {
        "last_seq": last_seq(conversation_id),
        "unread": unread_count(conversation_id, user_id),
        "peer_online": online,
        "peer_last_seen": last_seen,
    }


def unread_count(conversation_id: int, user_id: int) -> int:
    """The peer's messages to ``user_id`` in the conversation not yet read."""
    return Message.objects.filter(
        conversation_id=conversation_id, recipient_id=user_id, status__in=UNREAD
    ).count()


# --- Sending ----------------------------------------------------------------


@dataclass(frozen=True)
class NewMessage:
    """A message to store: who, where, what, and the sender's rate bucket (if limited)."""

    conversation_id: int
    sender: Any
    recipient: Any | None
    content: str
    client_id: str
    bucket: TokenBucket | None = None


#: what storing one message came to: the message and whether it is new, or
#: the error to answer with
Outcome = Union[tuple[Message, bool], MessagingException]


def create_message(
    conversation_id: int,
    sender: Any,
    recipient: Any | None,
    content: str,
    client_id: str,
    *,
    bucket: TokenBucket | None = None,
) -> tuple[Message, bool]:
    """Store a message; return it and whether it is new (raises the error to answer with)."""
    [outcome] = create_messages([NewMessage(conversation_id, sender, recipient, content, client_id, bucket)])
    if isinstance(outcome, MessagingException):
        raise outcome
    return outcome


def create_messages(items: list[NewMessage]) -> list[Outcome]:
    """Store messages in one transaction (group commit); one outcome per item, in order.

    Each seq is taken and its row inserted in that transaction, so a failure
    leaves neither a gap nor a half-stored message. The unique constraint on
    (sender, client_id) makes a repeat come back as the first message instead
    of a second row; a repeat takes no token from the sender's rate bucket.
    """
    outcomes: list[Outcome | None] = [None] * len(items)
    to_insert = []
    for index, item in enumerate(items):
        if item.bucket is not None and not item.bucket.take(item.sender.pk):
            outcomes[index] = _repeat_of(item) or RateLimited("too many messages; slow down", client_id=item.client_id)
        else:
            to_insert.append(index)
    if to_insert:
        try:
            inserted = database_retry.call(_insert_messages, [items[i] for i in to_insert])
        except RetriesExhausted as exc:
            messaging_logger.error(
                ErrorCategory.DATABASE_ERROR,
                f"could not store {len(to_insert)} message(s)",
                context={"client_ids": [items[i].client_id for i in to_insert], "attempts": exc.attempts},
                user=items[to_insert[0]].sender,
                exc=exc.last,
            )
            inserted = [exc] * len(to_insert)
        for index, message in zip(to_insert, inserted, strict=True):
            item = items[index]
            if isinstance(message, Message):
                metrics.MESSAGES_STORED.inc()
                outcomes[index] = (message, True)
                continue
            if item.bucket is not None:
                item.bucket.give_back(item.sender.pk)
            if isinstance(message, RetriesExhausted):
                outcomes[index] = ServerError(
                    "the message could not be stored; resend it with the same client_id", client_id=item.client_id
                )
            else:
                outcomes[index] = _repeat_of(item) or _vanished_repeat(item)
    return outcomes  # type: ignore[return-value]


def _insert_messages(items: list[NewMessage]) -> list[Message | None]:
    """One attempt: every item in one transaction; None for an item that repeats a client_id."""
    now = timezone.now()
    with transaction.atomic():
        return [_insert_message(item, now) for item in items]


def _insert_message(item: NewMessage, now: datetime.datetime) -> Message | None:
    """Take the next seq of the conversation and insert; inside the caller's transaction.

    The hottest code of the server, so it is plain statements rather than ORM
    calls (which cost more Python than the database work here): the UPDATE
    bumps ``last_seq`` and locks the conversation row until commit; the
    INSERT stores the message with that seq, or nothing when (sender,
    client_id) is taken, in which case the seq is handed back (no one else
    can have taken a later one while we hold the row), so seqs stay gap-free.
    """
    stamp = connection.ops.adapt_datetimefield_value(now)
    quote = connection.ops.quote_name
    conversations = quote(Conversation._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {conversations} SET last_seq = last_seq + 1, last_message_at = %s WHERE id = %s RETURNING last_seq",
            [stamp, item.conversation_id],
        )
        row = cursor.fetchone()
        if row is None:
            raise Conversation.DoesNotExist(f"conversation {item.conversation_id} does not exist")
        seq = row[0]
        cursor.execute(
            f"INSERT INTO {quote(Message._meta.db_table)} "
            "(conversation_id, seq, sender_id, recipient_id, content, client_id, status, created_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (sender_id, client_id) DO NOTHING RETURNING id",
            [
                item.conversation_id,
                seq,
                item.sender.pk,
                item.recipient.pk if item.recipient is not None else None,
                item.content,
                item.client_id,
                MessageStatus.SENT.value,
                stamp,
            ],
        )
        inserted = cursor.fetchone()
        if inserted is None:
            cursor.execute(f"UPDATE {conversations} SET last_seq = last_seq - 1 WHERE id = %s", [item.conversation_id])
            return None
    message = Message(
        id=inserted[0],
        conversation_id=item.conversation_id,
        seq=seq,
        sender=item.sender,
        recipient=item.recipient,
        content=item.content,
        client_id=item.client_id,
        status=MessageStatus.SENT,
        created_at=now,
    )
    message._state.adding = False
    message._state.db = connection.alias
    return message


def _repeat_of(item: NewMessage) -> Outcome | None:
    """The stored message this item repeats (by client_id), if any."""
    existing = _find_by_client_id(item.sender, item.client_id)
    if existing is None:
        return None
    if existing.conversation_id != item.conversation_id:
        return InvalidFrame(
            "this client_id was already used for a message in another conversation", client_id=item.client_id
        )
    return existing, False


def _vanished_repeat(item: NewMessage) -> ServerError:
    """The client_id was taken when inserting, and its message is gone now (archived or deleted)."""
    return ServerError("this client_id belongs to a message that is no longer here", client_id=item.client_id)


def _find_by_client_id(sender: Any, client_id: str) -> Message | None:
    return (
        Message.objects.select_related("sender", "recipient")
        .filter(sender=sender, client_id=client_id)
        .first()
    )


# --- Reading ----------------------------------------------------------------


def get_messages(
    conversation_id: int,
    reader_id: int,
    *,
    after: int | None = None,
    before: int | None = None,
    limit: int = 50,
    username: str | None = None,
) -> MessagePage:
    """A page of messages: ``after`` a seq oldest first, or ``before`` a seq newest first.

    Fetching is delivery: the reader's undelivered messages in the page become
    ``delivered`` (reported in ``MessagePage.delivered``). Callers that know
    the reader's username pass it and save a query.
    """
    rows = _page(Message, conversation_id, after, before, limit)
    if after is None and before is None:
        # "The newest page": newest means the conversation's last seq, which
        # may itself have been archived.
        before = last_seq(conversation_id) + 1
    if not _contiguous_and_full(rows, after, before, limit):
        # Some of the range may have been archived: read it from there too.
        archived = _page(ArchivedMessage, conversation_id, after, before, limit)
        if archived:
            rows = sorted(rows + archived, key=lambda m: m.seq, reverse=after is None)[: limit + 1]
    page = MessagePage(messages=rows[:limit], has_more=len(rows) > limit)
    undelivered = [
        m
        for m in page.messages
        if isinstance(m, Message) and m.recipient_id == reader_id and m.status == MessageStatus.SENT
    ]
    if undelivered:
        page.delivered = mark_delivered(conversation_id, reader_id, max(m.seq for m in undelivered), username)
        if page.delivered is not None:
            for message in undelivered:
                message.status = MessageStatus.DELIVERED
                message.delivered_at = page.delivered.at
    return page


def _page(model: Any, conversation_id: int, after: int | None, before: int | None, limit: int) -> list[Any]:
    query = model.objects.select_related("sender", "recipient").filter(conversation_id=conversation_id)
    if after is not None:
        query = query.filter(seq__gt=after).order_by("seq")
    else:
        if before is not None:
            query = query.filter(seq__lt=before)
        query = query.order_by("-seq")
    return list(query[: limit + 1])


def _contiguous_and_full(rows: list[Message], after: int | None, before: int | None, limit: int) -> bool:
    """Whether the hot table alone answered the page: no seq missing, nothing beyond.

    ``before`` is None only with ``after`` set.
    """
    if len(rows) <= limit:
        return False
    if after is not None:
        start, step = after + 1, 1
    else:
        assert before is not None
        start, step = before - 1, -1
    return all(row.seq == start + step * i for i, row in enumerate(rows))


# --- Status -----------------------------------------------------------------


def mark_delivered(
    conversation_id: int, recipient_id: int, up_to: int, recipient_username: str | None = None
) -> StatusChange | None:
    """The recipient's ``sent`` messages up to ``up_to`` become ``delivered``.

    Returns the change, or None when nothing moved (another tab or process
    got there first): each advance is announced once. Callers that know the
    recipient's username pass it and save a query.
    """
    now = timezone.now()
    # One statement per tick, on every pushed message: plain SQL, since the
    # ORM's query building costs several times the database's work here.
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {connection.ops.quote_name(Message._meta.db_table)} SET status = %s, delivered_at = %s "
            "WHERE conversation_id = %s AND recipient_id = %s AND status = %s AND seq <= %s",
            [
                MessageStatus.DELIVERED.value,
                connection.ops.adapt_datetimefield_value(now),
                conversation_id,
                recipient_id,
                MessageStatus.SENT.value,
                up_to,
            ],
        )
        moved = cursor.rowcount
    if not moved:
        return None
    by = recipient_username or _username(recipient_id)
    return StatusChange(conversation_id, MessageStatus.DELIVERED, up_to, by, now)


@dataclass(frozen=True)
class DeliveredMark:
    """What one socket was handed: its user's messages up to ``up_to`` are delivered."""

    conversation_id: int
    recipient_id: int
    up_to: int
    recipient_username: str


def mark_delivered_many(marks: list[DeliveredMark]) -> list[StatusChange | None]:
    """:func:`mark_delivered` for several sockets in one transaction (group commit)."""
    with transaction.atomic():
        return [
            mark_delivered(mark.conversation_id, mark.recipient_id, mark.up_to, mark.recipient_username)
            for mark in marks
        ]


def mark_message_read(
    conversation_id: int, reader_id: int, up_to: int, username: str | None = None
) -> StatusChange | None:
    """The peer's messages to ``reader_id`` up to ``up_to`` become ``read``.

    One UPDATE for the whole range. The reader's own messages are never
    touched and status never moves backwards; a repeat changes nothing and
    returns None. Callers that know the reader's username pass it and save a
    query.
    """
    now = timezone.now()
    unread = Message.objects.filter(
        conversation_id=conversation_id,
        recipient_id=reader_id,
        seq__lte=up_to,
        status__in=UNREAD,
    )
    with transaction.atomic():
        highest = unread.aggregate(highest=Max("seq"))["highest"]
        if highest is None:
            return None
        moved = unread.filter(seq__lte=highest).update(
            status=MessageStatus.READ,
            read_at=now,
            delivered_at=Coalesce("delivered_at", now),
        )
    if not moved:
        return None
    return StatusChange(conversation_id, MessageStatus.READ, highest, username or _username(reader_id), now)


def _username(user_id: int) -> str:
    return User.objects.filter(pk=user_id).values_list(User.USERNAME_FIELD, flat=True).get()


# --- Inbox ------------------------------------------------------------------


def conversations_for(user: Any, *, current: str | None = None) -> list[dict[str, Any]]:
    """The user's conversations, most recent first, with peer and unread count.

    A conversation without messages (someone only opened the chat page) is
    left out, so a peer's inbox does not fill with empty rows; only the one
    with ``current`` (the username of the chat being shown) is kept.
    """
    has_messages = Q(conversation__last_seq__gt=0)
    if current:
        with_current = Participant.objects.filter(user__username=current).values("conversation_id")
        has_messages |= Q(conversation_id__in=with_current)
    memberships = (
        Participant.objects.filter(has_messages, user=user)
        .select_related("conversation")
        .order_by(Coalesce("conversation__last_message_at", "conversation__created_at").desc())
    )
    conversations = [m.conversation for m in memberships]
    ids = [c.pk for c in conversations]
    peers = {
        p.conversation_id: p.user
        for p in Participant.objects.filter(conversation_id__in=ids).exclude(user=user).select_related("user")
    }
    # One condition for all (not one OR per conversation: SQLite refuses an
    # expression tree over 1000 deep, so a big inbox failed).
    last_messages = {
        m.conversation_id: m
        for m in Message.objects.filter(conversation_id__in=ids, seq=F("conversation__last_seq")).select_related(
            "sender", "recipient"
        )
    }
    unread = dict(
        Message.objects.filter(conversation_id__in=ids, recipient=user, status__in=UNREAD)
        .values("conversation_id")
        .annotate(n=Count("id"))
        .values_list("conversation_id", "n")
    )
    return [
        {
            "conversation": c,
            "peer": peers.get(c.pk),
            "last_message": last_messages.get(c.pk),
            "unread": unread.get(c.pk, 0),
        }
        for c in conversations
        if peers.get(c.pk) is not None
    ]


def search_users(user: Any, query: str, limit: int) -> list[Any]:
    """Active users whose username contains ``query``, prefix matches first, never ``user``."""
    query = query.strip()
    if not query:
        return []
    field = User.USERNAME_FIELD
    matches = (
        User.objects.filter(is_active=True, **{f"{field}__icontains": query})
        .exclude(pk=user.pk)
        .order_by(field)
    )
    prefixed = list(matches.filter(**{f"{field}__istartswith": query})[:limit])
    if len(prefixed) < limit:
        prefixed += list(matches.exclude(pk__in=[u.pk for u in prefixed])[: limit - len(prefixed)])
    return prefixed


# --- Presence ---------------------------------------------------------------


def _lock_status(user_id: int) -> UserStatus:
    status, _ = UserStatus.objects.select_for_update().get_or_create(user_id=user_id)
    return status


def _live_connections(user_id: int, now: datetime.datetime, expiry: float):
    return Connection.objects.filter(
        user_id=user_id, last_heartbeat__gte=now - datetime.timedelta(seconds=expiry)
    )


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
    return PresenceChange(user_id, username or _username(user_id), online, at)


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

    Raises :class:`TooManySockets` (recording nothing) when the user already
    has ``max_sockets`` live sockets.
    """
    with transaction.atomic():
        _lock_status(user_id)
        if max_sockets is not None:
            live = _live_connections(user_id, timezone.now(), expiry).count()
            if live >= max_sockets:
                raise TooManySockets(f"you already have {live} open sockets; close one first")
        Connection.objects.create(
            user_id=user_id,
            channel_name=channel_name,
            kind=kind,
            server_id=server_id,
            conversation_id=conversation_id,
        )
        return set_user_online_status(user_id, True, username=username)


def unregister_connection(
    user_id: int, channel_name: str, expiry: float, *, username: str | None = None
) -> PresenceChange | None:
    """Forget a closed socket; return the change if it was the user's last one."""
    now = timezone.now()
    with transaction.atomic():
        _lock_status(user_id)
        Connection.objects.filter(channel_name=channel_name).delete()
        if _live_connections(user_id, now, expiry).exists():
            return None
        return set_user_online_status(user_id, False, at=now, username=username)


def register_chat_connection(
    user_id: int,
    channel_name: str,
    server_id: str,
    conversation_id: int,
    peer_id: int,
    *,
    max_sockets: int | None = None,
    expiry: float = 60,
    username: str | None = None,
) -> tuple[PresenceChange | None, dict[str, Any]]:
    """:func:`register_connection` for a chat socket, with its :func:`chat_snapshot`, in one call.

    Connecting is on the path of every reconnect storm (a deploy, a network
    blip): one trip to the database thread instead of two.
    """
    change = register_connection(
        user_id,
        channel_name,
        Connection.Kind.CHAT,
        server_id,
        conversation_id,
        max_sockets=max_sockets,
        expiry=expiry,
        username=username,
    )
    return change, chat_snapshot(conversation_id, user_id, peer_id, expiry)


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
    for chunk in _chunks(stale):
        Connection.objects.filter(pk__in=chunk).delete()


def _chunks(items: list[Any], size: int = 500) -> list[list[Any]]:
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
            _lock_status(user_id)
            if _live_connections(user_id, now, expiry).exists():
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
    """:func:`presence_of` for several users in two queries (the inbox's peers)."""
    cutoff = timezone.now() - datetime.timedelta(seconds=expiry)
    online = set(
        Connection.objects.filter(user_id__in=user_ids, last_heartbeat__gte=cutoff).values_list("user_id", flat=True)
    )
    last_seen = dict(UserStatus.objects.filter(user_id__in=user_ids).values_list("user_id", "last_seen"))
    return {user_id: (user_id in online, last_seen.get(user_id)) for user_id in user_ids}


# --- Notifications --------------------------------------------------------------


def notification_unread_count(user_id: int) -> int:
    return Notification.objects.filter(user_id=user_id, read=False).count()


def mark_notification_read(user_id: int, notification_id: int) -> int | None:
    """Mark one of the user's notifications read; the new unread count, or None if nothing changed."""
    if not Notification.objects.filter(pk=notification_id, user_id=user_id).exists():
        raise InvalidFrame(f"there is no notification {notification_id} of yours")
    moved = Notification.objects.filter(pk=notification_id, user_id=user_id, read=False).update(
        read=True, read_at=timezone.now()
    )
    return notification_unread_count(user_id) if moved else None


def mark_all_notifications_read(user_id: int) -> int | None:
    """Mark every notification of the user read; 0, or None if nothing changed."""
    moved = Notification.objects.filter(user_id=user_id, read=False).update(read=True, read_at=timezone.now())
    return 0 if moved else None


def list_notifications(user_id: int, before: int | None, limit: int) -> tuple[list[Notification], bool]:
    """A page of the user's notifications, newest first, older than id ``before``."""
    query = Notification.objects.filter(user_id=user_id).order_by("-id")
    if before is not None:
        query = query.filter(pk__lt=before)
    rows = list(query[: limit + 1])
    return rows[:limit], len(rows) > limit


class AsyncSafeMessageHandler:
    """The database operations above as coroutines for the consumers.

    Each call runs in Django's database thread through
    ``database_sync_to_async`` (which also closes stale connections around
    it), so the event loop never blocks on the database.
    """

    open_chat = staticmethod(database_sync_to_async(open_chat))
    create_messages = staticmethod(database_sync_to_async(create_messages))
    get_messages = staticmethod(database_sync_to_async(get_messages))
    mark_delivered_many = staticmethod(database_sync_to_async(mark_delivered_many))
    mark_message_read = staticmethod(database_sync_to_async(mark_message_read))
    register_connection = staticmethod(database_sync_to_async(register_connection))
    register_chat_connection = staticmethod(database_sync_to_async(register_chat_connection))
    unregister_connection = staticmethod(database_sync_to_async(unregister_connection))
    refresh_connections = staticmethod(database_sync_to_async(refresh_connections))
    sweep_expired_connections = staticmethod(database_sync_to_async(sweep_expired_connections))
    notification_unread_count = staticmethod(database_sync_to_async(notification_unread_count))
    mark_notification_read = staticmethod(database_sync_to_async(mark_notification_read))
    mark_all_notifications_read = staticmethod(database_sync_to_async(mark_all_notifications_read))
    list_notifications = staticmethod(database_sync_to_async(list_notifications))
