"""The conversation log: appending events under the conversation row's lock, and reading pages of it.

Appending is the hottest code of the server. A message takes the next seq with
one ``UPDATE … RETURNING`` that also checks, under the same row lock, that
the sender is a current member (so a removal and a send serialize), and is
inserted in the same transaction; ``ON CONFLICT (sender, client_id) DO
NOTHING`` makes a repeat come back as the first event, never a second row.
Membership changes (:mod:`messaging.store.conversations`) take the same lock
through :func:`lock_for_append` and :func:`insert_event`.

Reading checks the reader's window (``joined_seq`` .. ``left_seq``) and reads
the archive too, so archived events keep their place.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from ..error_models import ErrorCategory
from ..logging_utils import messaging_logger
from ..models import MEMBERSHIP_KINDS, MESSAGE_ACTION_KINDS, ArchivedEvent, Conversation, Event, EventKind, Participant
from ..ops import metrics
from ..retry_handler import DATABASE_POLICY, MessageRetryHandler, RetriesExhausted
from . import attachments as attachment_store
from .errors import Conflict, Forbidden, NotFound, StoreError, Unavailable
from .message_views import MessageView, ReplyPreview, annotate, fresh_view, quote
from .notifications import new_message_recipients
from .plain_sql import driver_execute, placeholders
from .search.indexer import indexer as search_indexer
from .users import User
from .visibility import can_see, visible_q
from .wal import checkpointer as wal_checkpointer

# One handler for the process, so its counters tell how often storing a
# message needed a retry and how often that worked.
database_retry = MessageRetryHandler(DATABASE_POLICY, operation="store_message")

#: kinds a history page shows (the timeline); the kinds that change an
#: earlier message (edits, deletions, reactions) are replayed by sync but
#: folded into their message in history
TIMELINE_KINDS = frozenset(EventKind.values) - MESSAGE_ACTION_KINDS


@dataclass(frozen=True)
class Appended:
    """A stored event, whether this call stored it (False: a repeat), and the
    conversation's ``membership_seq`` when it was stored (sockets use it to know
    whether their view of who may see it is current).

    ``notify``: for a new message stored by :func:`create_messages` with
    ``notify_expiry``, the members it notifies, read in the same trip to the
    database right after the commit (None: not read; the notification step
    reads it itself)."""

    event: Event
    created: bool
    membership_seq: int
    notify: tuple[int, ...] | None = None


# --- Sending messages -------------------------------------------------------------


@dataclass(frozen=True)
class NewMessage:
    """A message to store: where, who, what, the seq it replies to, the uploads it carries.

    The sender's rate limit is checked before it gets here (at the edge,
    :mod:`messaging.guards.admission`): the store never refuses for a rate.
    ``attachments``: ids of the sender's uploads to this conversation that the
    message carries (claimed in the same transaction).
    """

    conversation_id: int
    sender: User
    content: str
    client_id: str
    reply_to: int | None = None
    attachments: tuple[int, ...] = ()


#: what storing one message came to: the stored event, or the store's refusal
Outcome = Appended | StoreError


def create_message(
    conversation_id: int,
    sender: User,
    content: str,
    client_id: str,
    *,
    reply_to: int | None = None,
    attachments: tuple[int, ...] = (),
) -> Appended:
    """Store one message (raises the store's refusal)."""
    item = NewMessage(conversation_id, sender, content, client_id, reply_to=reply_to, attachments=attachments)
    [outcome] = create_messages([item])
    if isinstance(outcome, StoreError):
        raise outcome
    return outcome


def create_messages(items: list[NewMessage], *, notify_expiry: float | None = None) -> list[Outcome]:
    """Store messages in one transaction (group commit); one outcome per item, in order.

    Each seq is taken and its row inserted in that transaction, so a failure
    leaves neither a gap nor a half-stored message. A repeat (known
    ``client_id``) comes back as the first event (``created`` False). With
    ``notify_expiry`` (the presence expiry), who each new message notifies is
    read after the commit in the same call (:attr:`Appended.notify`), so a
    message that notifies nobody costs no second trip to the database thread.
    """
    outcomes: list[Outcome] = []
    if not items:
        return outcomes
    inserted: Sequence[Appended | StoreError | RetriesExhausted | None]
    try:
        inserted = database_retry.call(_insert_messages, items)
    except RetriesExhausted as exc:
        messaging_logger.error(
            ErrorCategory.DATABASE_ERROR,
            f"could not store {len(items)} message(s)",
            context={"client_ids": [item.client_id for item in items], "attempts": exc.attempts},
            user=items[0].sender,
            exc=exc.last,
        )
        inserted = [exc] * len(items)
    for item, result in zip(items, inserted, strict=True):
        if isinstance(result, Appended):
            metrics.MESSAGES_STORED.inc()
            outcomes.append(result)
        elif isinstance(result, RetriesExhausted):
            outcomes.append(Unavailable("the message could not be stored; resend it with the same client_id"))
        elif isinstance(result, StoreError):
            outcomes.append(_repeat_of_refused_reply(item, result))
        else:
            outcomes.append(
                _repeat_of(item) or Unavailable("this client_id belongs to a message that is no longer here")
            )
    if any(isinstance(o, Appended) and o.created for o in outcomes):
        search_indexer.poke()  # the triggers queued them for search; index them soon, off this path
        wal_checkpointer.poke()  # SQLite: the log copied into the database soon, off this path
    if notify_expiry is not None:
        outcomes = _with_recipients(outcomes, notify_expiry)
    return outcomes


def _repeat_of_refused_reply(item: NewMessage, refusal: StoreError) -> Outcome:
    """A reply refused because its original is out of the sender's sight may be the resend of one stored before it went.

    The reply is checked before its insert finds the ``client_id`` taken, so a
    sender who hid the original (or saw it leave their window) after replying
    would otherwise get ``not_found`` for a message that is stored: the
    resend is acked as the first send, its quote without the original's text.
    """
    if item.reply_to is None or not isinstance(refusal, NotFound):
        return refusal
    repeat = _repeat_of(item)
    return repeat if isinstance(repeat, Appended) else refusal


def _with_recipients(outcomes: list[Outcome], expiry: float) -> list[Outcome]:
    """The new messages' :attr:`Appended.notify`, one query for the batch (after the commit: never fails the send)."""
    created = [o for o in outcomes if isinstance(o, Appended) and o.created]
    if not created:
        return outcomes
    try:
        members = new_message_recipients([o.event.conversation_id for o in created], timezone.now(), expiry)
    except DatabaseError as exc:
        messaging_logger.error(ErrorCategory.DATABASE_ERROR, "could not read who new messages notify", exc=exc)
        return outcomes
    return [
        replace(o, notify=tuple(sorted(members[o.event.conversation_id] - {o.event.sender_id})))
        if isinstance(o, Appended) and o.created
        else o
        for o in outcomes
    ]


def _insert_messages(items: list[NewMessage]) -> list[Appended | StoreError | None]:
    """One attempt: every item in one transaction.

    Per item: the stored event, the store's refusal (not a member), or None
    when the ``client_id`` was taken (a repeat, looked up after the commit).
    A refusal is a value, not an exception, so that it does not roll back the
    other senders' messages of the batch.
    """
    now = timezone.now()
    # The plain statements run on the driver's own cursor (``_PlainInsert``):
    # its errors become Django's here, once for the batch.
    with transaction.atomic(), connection.cursor() as cursor, connection.wrap_database_errors:
        plain = _PlainInsert(cursor, now)
        if any(item.attachments for item in items):
            return [_insert_message_with_files(item, now) if item.attachments else plain.insert(item) for item in items]
        return plain.insert_runs(items)


def _insert_message_with_files(item: NewMessage, now: datetime.datetime) -> Appended | StoreError | None:
    """A message that carries uploads: the ORM path under the conversation's lock, in a savepoint.

    The uploads are claimed and the event inserted in the batch's
    transaction, so the message and its files commit together; a refusal
    (not a member, an upload that is not the sender's to send) or a repeat
    undoes this item's savepoint only. Messages without files keep the plain
    statements of :class:`_PlainInsert`.
    """
    reply = _reply_of(item)
    if isinstance(reply, StoreError):
        return reply
    try:
        with transaction.atomic():
            conversation = Conversation.objects.select_for_update().filter(pk=item.conversation_id).first()
            if (
                conversation is None
                or not Participant.objects.filter(
                    conversation_id=item.conversation_id, user_id=item.sender.pk, left_seq__isnull=True
                ).exists()
            ):
                return _not_a_member(item.conversation_id, item.sender.pk)
            if Event.objects.filter(sender_id=item.sender.pk, client_id=item.client_id).exists():
                return None
            files = attachment_store.claim(item.conversation_id, item.sender.pk, item.attachments)
            event = insert_event(
                conversation,
                item.sender,
                EventKind.MESSAGE,
                item.client_id,
                content=item.content,
                data={"attachments": [attachment_store.metadata(a) for a in files]},
                target_seq=item.reply_to,
                now=now,
            )
            attachment_store.mark_claimed(files, event.pk, event.seq)
    except IntegrityError:
        return None  # the client_id was taken meanwhile: a repeat
    except StoreError as exc:
        return exc
    event.view = fresh_view(event, reply)
    return Appended(event, True, conversation.membership_seq)


class _PlainInsert:
    """Messages without files, by plain statements on one cursor of the batch's transaction.

    Plain statements rather than ORM calls (which cost more Python than the
    database work here), and what every item of a batch shares (the SQL, the
    adapted time, the empty ``data``, the cursor) is made once per batch: the
    database thread's Python time is time the event loop waits for the GIL.
    For the same reason the two statements of each message go to the
    driver's cursor, not through Django's wrapper of it (which on SQLite
    rewrites the placeholders of every statement with a regex; the SQL is
    written in the driver's style once here), and the stored event is built
    from its row as a query would (``Model.from_db``), not by keyword.
    """

    def __init__(self, cursor: Any, now: datetime.datetime) -> None:
        self.cursor = cursor
        self.now = now
        # The cursor's own connection: each read of ``django.db.connection`` is a lookup of the thread's.
        db = cursor.db
        self.stamp = db.ops.adapt_datetimefield_value(now)
        self.empty_data = _empty_data(db.vendor)
        self.alias = db.alias
        self.insert_event, self.take_seqs, self.give_back_seqs = _plain_statements(db.vendor)
        self.execute = driver_execute(cursor)

    def insert_runs(self, items: list[NewMessage]) -> list[Appended | StoreError | None]:
        """Every item in the batch's order, a sender's consecutive messages to a conversation taking their seqs at once.

        Under load a batch often holds several messages of one sender to one
        conversation in a row (a client with a window of messages in flight):
        such a run takes ``k`` seqs with one ``UPDATE … RETURNING`` (the
        membership check and the row lock as for one), and the seqs are
        handed out to the rows inserted, in order; the ones a repeat did not
        use are handed back at the end of the run, under the same lock, so
        seqs stay gap-free. A run ends at the next message of *another*
        sender to the same conversation: within a conversation the seqs
        follow the batch's order, which is the order the finishers announce
        the events in, so every socket receives a conversation's events in
        seq order (grouping a sender's messages across the whole batch gave
        a tab ``1, 3, 4, 2``). Messages to other conversations in between do
        not end a run.
        """
        outcomes: list[Appended | StoreError | None] = [None] * len(items)
        runs: list[tuple[int, int, list[tuple[int, NewMessage, ReplyPreview | None]]]] = []
        latest: dict[int, tuple[int, list[tuple[int, NewMessage, ReplyPreview | None]]]] = {}
        for index, item in enumerate(items):
            reply = _reply_of(item)
            if isinstance(reply, StoreError):
                outcomes[index] = reply
                continue
            sender_id = item.sender.pk
            current = latest.get(item.conversation_id)
            if current is not None and current[0] == sender_id:
                current[1].append((index, item, reply))
                continue
            run = [(index, item, reply)]
            runs.append((item.conversation_id, sender_id, run))
            latest[item.conversation_id] = (sender_id, run)
        for conversation_id, sender_id, run in runs:
            for index, outcome in self._insert_run(conversation_id, sender_id, run):
                outcomes[index] = outcome
        return outcomes

    def _insert_run(
        self, conversation_id: int, sender_id: int, run: list[tuple[int, NewMessage, ReplyPreview | None]]
    ) -> list[tuple[int, Appended | StoreError | None]]:
        execute, count = self.execute, len(run)
        row = execute(
            self.take_seqs, (count, count, self.stamp, conversation_id, conversation_id, sender_id)
        ).fetchone()
        if row is None:
            refusal = _not_a_member(conversation_id, sender_id)
            return [(index, refusal) for index, _, _ in run]
        last_seq, membership_seq = row
        first = next_seq = last_seq - count + 1
        outcomes: list[tuple[int, Appended | StoreError | None]] = []
        for index, item, reply in run:
            inserted = execute(self.insert_event, self._row(item, next_seq)).fetchone()
            if inserted is None:
                outcomes.append((index, None))  # a repeat: looked up after the commit
                continue
            outcomes.append((index, Appended(self._event(inserted[0], item, next_seq, reply), True, membership_seq)))
            next_seq += 1
        unused = last_seq + 1 - next_seq
        if unused:
            cursor = self.cursor
            newest = next_seq - 1 if next_seq > first else _previous_message_seq(cursor, conversation_id, first)
            cursor.execute(self.give_back_seqs, [unused, newest, conversation_id])
        return outcomes

    def _row(self, item: NewMessage, seq: int) -> tuple[Any, ...]:
        """The INSERT's parameters for ``item`` at ``seq``."""
        return (
            item.conversation_id,
            seq,
            EventKind.MESSAGE.value,
            item.sender.pk,
            item.content,
            item.client_id,
            item.reply_to,
            self.empty_data,
            self.stamp,
        )

    def _event(self, pk: int, item: NewMessage, seq: int, reply: ReplyPreview | None) -> Event:
        """The stored event, built as a query's row would be (every concrete field, in order), its sender cached."""
        event = Event.from_db(
            self.alias,
            _EVENT_FIELDS,
            (
                pk,
                item.conversation_id,
                seq,
                EventKind.MESSAGE,
                item.sender.pk,
                item.content,
                item.client_id,
                item.reply_to,
                {},
                self.now,
                None,
                None,
            ),
        )
        _EVENT_SENDER.set_cached_value(event, item.sender)
        event.view = fresh_view(event, reply)
        return event

    def insert(self, item: NewMessage) -> Appended | StoreError | None:
        """Take the next seq of the conversation and insert; inside the batch's transaction.

        The UPDATE bumps ``last_seq`` and locks the conversation row until
        commit, but only while the sender is a current member; the INSERT
        stores the message with that seq, or nothing when (sender, client_id)
        is taken, in which case the seq is handed back (no one else can have
        taken a later one while we hold the row), so seqs stay gap-free.
        """
        reply = _reply_of(item)
        if isinstance(reply, StoreError):
            return reply
        [(_, outcome)] = self._insert_run(item.conversation_id, item.sender.pk, [(0, item, reply)])
        return outcome


#: the event's ``sender`` relation, to hand a new event its sender without a query
_EVENT_SENDER = Event._meta.get_field("sender")
#: the order of the row ``_PlainInsert._event`` gives ``Event.from_db``: the model's concrete fields
#: (``tests/test_store_events.py`` checks the row follows them)
_EVENT_FIELDS = tuple(field.attname for field in Event._meta.concrete_fields)


@functools.cache
def _plain_statements(vendor: str) -> tuple[str, str, str]:
    """:class:`_PlainInsert`'s SQL for the database ``vendor``, written once per process.

    The event's ``INSERT``, the seqs' ``UPDATE … RETURNING`` (in the
    driver's placeholder style: they go to the driver's cursor) and the
    ``UPDATE`` that gives back seqs a run did not use (through Django's
    cursor, in its style).
    """
    quote = connection.ops.quote_name
    conversations = quote(Conversation._meta.db_table)
    insert_event = (
        f"INSERT INTO {quote(Event._meta.db_table)} "
        "(conversation_id, seq, kind, sender_id, content, client_id, target_seq, data, created_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (sender_id, client_id) DO NOTHING RETURNING id"
    )
    take_seqs = (
        f"UPDATE {conversations} SET last_seq = last_seq + %s, last_message_seq = last_seq + %s, "
        f"last_message_at = %s WHERE id = %s AND EXISTS (SELECT 1 FROM {quote(Participant._meta.db_table)} "
        "WHERE conversation_id = %s AND user_id = %s AND left_seq IS NULL) RETURNING last_seq, membership_seq"
    )
    give_back_seqs = f"UPDATE {conversations} SET last_seq = last_seq - %s, last_message_seq = %s WHERE id = %s"
    return placeholders(insert_event, vendor), placeholders(take_seqs, vendor), give_back_seqs


def _reply_of(item: NewMessage) -> ReplyPreview | StoreError | None:
    """The quote a message carries: None for a message that replies to nothing, else :func:`_reply_target`."""
    return None if item.reply_to is None else _reply_target(item)


def _reply_target(item: NewMessage) -> ReplyPreview | StoreError:
    """The quote of the message a reply answers, if the sender, a current member, may see it.

    Only replies pay this: a lookup of the sender's membership and of the
    message (in the hot table, else the archive). Not under the
    conversation's lock: a message is never removed from the log (a deletion
    only empties it), and the sender's own hidden rows change only by them.
    """
    assert item.reply_to is not None
    member = Participant.objects.filter(
        conversation_id=item.conversation_id, user_id=item.sender.pk, left_seq__isnull=True
    ).first()
    if member is None:
        return _not_a_member(item.conversation_id, item.sender.pk)
    missing = NotFound(f"there is no message {item.reply_to} of yours to reply to in this conversation")
    if not can_see(member, item.reply_to):
        return missing
    for model in (Event, ArchivedEvent):
        row = (
            model.objects.select_related("sender")
            .filter(conversation_id=item.conversation_id, seq=item.reply_to, kind=EventKind.MESSAGE)
            .first()
        )
        if row is not None:
            return quote(row)
    return missing


def _previous_message_seq(cursor: Any, conversation_id: int, seq: int) -> int:
    """``last_message_seq`` as it was before a handed-back seq (the newest message below it)."""
    cursor.execute(
        f"SELECT MAX(seq) FROM {connection.ops.quote_name(Event._meta.db_table)} "
        "WHERE conversation_id = %s AND kind = %s AND seq < %s",
        [conversation_id, EventKind.MESSAGE.value, seq],
    )
    return cursor.fetchone()[0] or 0


_EMPTY_DATA: dict[str, Any] = {}


@functools.cache
def _empty_data(vendor: str) -> Any:
    """``{}`` as the database ``vendor``'s JSON column takes it (a ``Jsonb`` on PostgreSQL, text on SQLite), made once."""
    return Event._meta.get_field("data").get_db_prep_save(_EMPTY_DATA, connection)


def _not_a_member(conversation_id: int, user_id: int) -> StoreError:
    """Why the UPDATE matched nothing: never a member (or no such conversation), or no longer one."""
    if Participant.objects.filter(conversation_id=conversation_id, user_id=user_id).exists():
        return Forbidden("you are no longer a member of this conversation")
    return NotFound(f"there is no conversation {conversation_id} of yours")


def _repeat_of(item: NewMessage) -> Appended | StoreError | None:
    """The stored event this item repeats (by client_id), if any."""
    existing = find_by_client_id(item.sender, item.client_id)
    if existing is None:
        return None
    if existing.conversation_id != item.conversation_id or existing.kind != EventKind.MESSAGE:
        return Conflict("this client_id was already used for another event")
    existing.view = _repeat_view(existing, item)
    return Appended(existing, False, 0)


def _repeat_view(existing: Event, item: NewMessage) -> MessageView:
    """A repeat is acked like the first send: the message folded up to its own seq.

    Its current content and marks come along; later reactions are events the
    client folds on top (``as_of`` is the message's seq), as for a fresh send.
    """
    reply = None
    if existing.target_seq is not None:
        found = _reply_target(replace(item, reply_to=existing.target_seq))
        reply = found if isinstance(found, ReplyPreview) else ReplyPreview(existing.target_seq, None, None)
    return MessageView(existing.seq, existing.content, existing.edited_at, existing.deleted_at is not None, (), reply)


def repeat_of_message(item: NewMessage) -> Appended | StoreError | None:
    """The stored message ``item`` repeats (``created`` False), a :class:`Conflict`, or None when it is new.

    One read, no write: what a sender over their rate may still learn (the
    ack of a message already stored), within their repeat allowance.
    """
    return _repeat_of(item)


def find_by_client_id(sender: User, client_id: str) -> Event | None:
    return Event.objects.select_related("sender").filter(sender=sender, client_id=client_id).first()


# --- Other events: appended under the same lock by the membership operations ------


def lock_for_append(conversation_id: int) -> Conversation:
    """Lock the conversation row for the rest of the caller's transaction (``select_for_update``)."""
    conversation = Conversation.objects.select_for_update().filter(pk=conversation_id).first()
    if conversation is None:
        # Worded as for a conversation of someone else's: the answer must not
        # tell whether it exists.
        raise NotFound(f"there is no conversation {conversation_id} of yours")
    return conversation


def insert_event(
    conversation: Conversation,
    sender: User,
    kind: str,
    client_id: str,
    *,
    data: dict[str, Any] | None = None,
    content: str = "",
    target_seq: int | None = None,
    now: datetime.datetime | None = None,
) -> Event:
    """Append an event to a conversation locked by :func:`lock_for_append`, in the caller's transaction.

    Moves ``last_seq`` (and ``membership_seq`` for membership kinds,
    ``last_message_seq`` for messages) on the locked row and saves it. The
    caller checks idempotency (:func:`find_by_client_id`) before, under the
    same lock, and permissions.
    """
    now = now or timezone.now()
    conversation.last_seq += 1
    seq = conversation.last_seq
    fields = ["last_seq"]
    if kind in MEMBERSHIP_KINDS:
        conversation.membership_seq = seq
        fields.append("membership_seq")
    if kind == EventKind.MESSAGE:
        conversation.last_message_seq = seq
        fields.append("last_message_seq")
    if kind not in MESSAGE_ACTION_KINDS:
        # An edit or a reaction does not bring a conversation to the top of the inbox.
        conversation.last_message_at = now
        fields.append("last_message_at")
    conversation.save(update_fields=fields)
    return Event.objects.create(
        conversation=conversation,
        seq=seq,
        kind=kind,
        sender=sender,
        content=content,
        client_id=client_id,
        target_seq=target_seq,
        data=data or {},
        created_at=now,
    )


def repeat_of_event(sender: User, client_id: str, conversation_id: int | None, kind: str) -> Event | None:
    """The event a client-originated action repeats, or None; :class:`Conflict` if the id names another kind of event."""
    existing = find_by_client_id(sender, client_id)
    if existing is None:
        return None
    if existing.kind != kind or (conversation_id is not None and existing.conversation_id != conversation_id):
        raise Conflict("this client_id was already used for another event")
    return existing


# --- Reading ----------------------------------------------------------------------


@dataclass
class EventPage:
    events: list[Event]
    has_more: bool
    #: for a page around a seq: whether events newer than the page exist in the window
    has_newer: bool = False


def events_after(member: Participant, after: int, limit: int) -> EventPage:
    """Every event of the member's window after ``after``, oldest first (a ``sync`` page).

    Every seq is there (the client's cursor moves over each); what the member
    may not see (:mod:`.visibility`) comes as a placeholder.
    """
    as_of = member.conversation.last_seq
    lower = max(after + 1, member.joined_seq)
    page = _page(member.conversation_id, lower=lower, upper=member.left_seq, ascending=True, limit=limit)
    annotate(member, page.events, as_of)
    return page


def events_before(
    member: Participant, before: int | None, limit: int, *, kinds: frozenset[str] = TIMELINE_KINDS
) -> EventPage:
    """The timeline of the member's window before ``before`` (the newest when None), newest first.

    ``member.conversation`` is read for its ``last_seq``: the newest page
    starts there, which may itself have been archived. Edits, deletions and
    reactions are folded into their messages, and what the member hid is
    left out.
    """
    as_of = member.conversation.last_seq
    upper = member.left_seq if member.left_seq is not None else as_of
    if before is not None:
        upper = min(upper, before - 1)
    page = _page(
        member.conversation_id,
        lower=max(member.joined_seq, member.cleared_seq + 1),
        upper=upper,
        ascending=False,
        limit=limit,
        kinds=kinds,
        member=member,
    )
    annotate(member, page.events, as_of)
    return page


def events_around(member: Participant, around: int, limit: int) -> EventPage:
    """The timeline around ``around`` (a reply's original), newest first: up to half the page after it, the rest up to it.

    ``has_more``: there is more before the page; ``has_newer``: more after it.
    """
    as_of = member.conversation.last_seq
    end = member.left_seq if member.left_seq is not None else as_of
    lower = max(member.joined_seq, member.cleared_seq + 1)
    # A page of one holds no newer event, but still asks for one: whether a
    # message the member can see follows (a reaction or a hidden one is not).
    newer = _page(
        member.conversation_id,
        lower=max(lower, around + 1),
        upper=end,
        ascending=True,
        limit=limit // 2,
        kinds=TIMELINE_KINDS,
        member=member,
    )
    older = _page(
        member.conversation_id,
        lower=lower,
        upper=min(end, around),
        ascending=False,
        limit=limit - len(newer.events),
        kinds=TIMELINE_KINDS,
        member=member,
    )
    events = list(reversed(newer.events)) + older.events
    annotate(member, events, as_of)
    return EventPage(events, older.has_more, newer.has_more)


def _page(
    conversation_id: int,
    *,
    lower: int,
    upper: int | None,
    ascending: bool,
    limit: int,
    kinds: frozenset[str] | None = None,
    member: Participant | None = None,
) -> EventPage:
    """Events with ``lower <= seq <= upper`` from the hot table and, where it has holes, the archive.

    ``kinds`` (a subset of the kinds) leaves the others out; ``member``
    leaves out what they hid (the timeline; sync keeps every seq instead).
    """
    if upper is not None and upper < lower:
        return EventPage([], False)
    rows = _query(Event, conversation_id, lower, upper, ascending, limit, kinds, member)
    if kinds is not None or member is not None or not _contiguous_and_full(rows, lower, upper, ascending, limit):
        archived = _query(ArchivedEvent, conversation_id, lower, upper, ascending, limit, kinds, member)
        if archived:
            rows = sorted(rows + archived, key=lambda e: e.seq, reverse=not ascending)[: limit + 1]
    return EventPage(events=rows[:limit], has_more=len(rows) > limit)


def _query(
    model: Any,
    conversation_id: int,
    lower: int,
    upper: int | None,
    ascending: bool,
    limit: int,
    kinds: frozenset[str] | None,
    member: Participant | None = None,
) -> list[Any]:
    query = model.objects.select_related("sender").filter(conversation_id=conversation_id, seq__gte=lower)
    if upper is not None:
        query = query.filter(seq__lte=upper)
    if kinds is not None:
        query = query.filter(kind__in=kinds)
    if member is not None:
        query = query.filter(visible_q(member))
    query = query.order_by("seq" if ascending else "-seq")
    return list(query[: limit + 1])


def _contiguous_and_full(rows: list[Event], lower: int, upper: int | None, ascending: bool, limit: int) -> bool:
    """Whether the hot table alone answered the page: no seq missing from where it starts, and a full page.

    Descending pages always have an ``upper`` (see :func:`events_before`).
    """
    if len(rows) <= limit:
        return False
    if ascending:
        start, step = lower, 1
    else:
        assert upper is not None
        start, step = upper, -1
    return all(row.seq == start + step * i for i, row in enumerate(rows))


def newest_message(member: Participant, last_message_seq: int) -> Event | None:
    """The newest message the member may see, for the inbox (one lookup in the common case)."""
    if last_message_seq < member.joined_seq or last_message_seq == 0:
        return None
    if (member.left_seq is None or last_message_seq <= member.left_seq) and last_message_seq > member.cleared_seq:
        event = (
            Event.objects.select_related("sender")
            .filter(conversation_id=member.conversation_id, seq=last_message_seq)
            .filter(visible_q(member))
            .first()
        )
        if event is not None:
            return event
    page = events_before(member, None, 1, kinds=frozenset({EventKind.MESSAGE}))
    return page.events[0] if page.events else None
