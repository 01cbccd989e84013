"""Doing things to a message: edit, delete for everyone, react; and, per member, delete for me and clear.

Edits, deletions and reactions are events of the conversation's log naming
their message in ``target_seq``, appended under the conversation's lock
(:func:`~messaging.store.events.lock_for_append`) in the same transaction
that changes the message's row, its edit history or its reactions: nothing
is ever half applied. Idempotency rests on the events' (sender,
``client_id``) constraint, as for messages. A request that would change
nothing (a reaction that is already there, a message already deleted, an
edit to the same text) stores nothing and answers ``None``.

Deleting a message for everyone purges it: its text is gone from the
message row (or the archive's), from its edit history and its edit events,
from its reactions and from the notifications that quoted it.

"Delete for me" and "clear chat" are not events: they change what one member
sees (``HiddenMessage`` rows, ``Participant.cleared_seq``), and
:mod:`.visibility` applies them to every read of that member.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from ..models import (
    ArchivedEvent,
    Conversation,
    Event,
    EventKind,
    HiddenMessage,
    MessageEdit,
    Notification,
    Participant,
    Reaction,
)
from .attachments import purge_for_event
from .conversations import member_of, unread_count
from .errors import Forbidden, LimitExceeded, NotFound, WindowClosed
from .events import Appended, insert_event, lock_for_append, repeat_of_event
from .notifications import settle_new_message_notification
from .users import User
from .visibility import can_see, in_window

Role = Participant.Role

#: what a purged message's notifications say instead of its text
DELETED_TEXT = "This message was deleted"

#: ``@username``: Django's username characters, not ending in a dot (``@bob.`` names bob)
MENTION = re.compile(r"(?<![\w@.+-])@([\w.@+-]*[\w@+-])")


def mentioned_names(content: str) -> set[str]:
    """The usernames ``content`` mentions (whether they are members is for the caller)."""
    return set(MENTION.findall(content)) if "@" in content else set()


@dataclass
class Change:
    """What an action stored (``appended`` None: nothing to change) and what the steps after the commit need."""

    appended: Appended | None
    #: the message acted on, as it is now (None for a repeat or when nothing changed)
    message: Event | ArchivedEvent | None = None
    #: an edit: members mentioned by the new text and not by the old one (user ids)
    newly_mentioned: list[int] = field(default_factory=list)


def _message(member: Participant, conversation: Conversation, seq: int) -> Event | ArchivedEvent:
    """The message at ``seq`` (hot table or archive), if ``member`` may see it; else :class:`NotFound`."""
    missing = NotFound(f"there is no message {seq} in this conversation")
    if not can_see(member, seq):
        raise missing
    for model in (Event, ArchivedEvent):
        row = model.objects.select_related("sender").filter(conversation=conversation, seq=seq).first()
        if row is not None:
            if row.kind != EventKind.MESSAGE:
                raise missing
            return row
    raise missing


def _too_late(row: Event | ArchivedEvent, window: datetime.timedelta | None, now: datetime.datetime) -> bool:
    return window is not None and now - row.created_at > window


def _act(
    actor: User,
    conversation_id: int,
    client_id: str,
    kind: str,
    apply: Callable[[Conversation, Participant, datetime.datetime], Change],
) -> Change:
    """Run ``apply`` under the conversation's lock for a current member, unless ``client_id`` repeats an earlier action.

    The sender's rate limit is taken before this, at the edge
    (:mod:`messaging.guards.admission`), as for messages.
    """
    existing = repeat_of_event(actor, client_id, conversation_id, kind)
    if existing is not None:
        return Change(Appended(existing, False, 0))
    try:
        with transaction.atomic():
            conversation = lock_for_append(conversation_id)
            existing = repeat_of_event(actor, client_id, conversation_id, kind)
            if existing is not None:
                return Change(Appended(existing, False, conversation.membership_seq))
            member = member_of(actor.pk, conversation_id, current=True)
            change = apply(conversation, member, timezone.now())
    except IntegrityError:
        existing = repeat_of_event(actor, client_id, conversation_id, kind)
        if existing is None:
            raise
        change = Change(Appended(existing, False, 0))
    return change


def edit_message(
    actor: User,
    conversation_id: int,
    seq: int,
    content: str,
    client_id: str,
    *,
    window: datetime.timedelta | None,
) -> Change:
    """The sender replaces a message's text, within ``window`` of sending it (None: any time).

    The message keeps its seq; the old text becomes a ``MessageEdit`` row and
    the ``edited`` event carries the new one.
    """

    def apply(conversation: Conversation, member: Participant, now: datetime.datetime) -> Change:
        row = _message(member, conversation, seq)
        if row.sender_id != actor.pk:
            raise Forbidden("only its sender may edit a message")
        if row.deleted_at is not None:
            raise NotFound(f"message {seq} was deleted")
        if _too_late(row, window, now):
            raise WindowClosed("this message can no longer be edited", setting="MESSAGING_EDIT_WINDOW")
        if row.content == content:
            return Change(None)
        event = insert_event(conversation, actor, EventKind.EDITED, client_id, content=content, target_seq=seq, now=now)
        MessageEdit.objects.create(
            conversation=conversation,
            message_seq=seq,
            edit_seq=event.seq,
            content=row.content,
            written_at=row.edited_at or row.created_at,
            replaced_at=now,
        )
        before = row.content
        type(row).objects.filter(pk=row.pk).update(content=content, edited_at=now)
        row.content, row.edited_at = content, now
        newly = mentioned_names(content) - mentioned_names(before)
        mentioned = (
            _members_named(conversation, newly - {actor.get_username()})
            if conversation.kind == Conversation.Kind.GROUP
            else []
        )
        return Change(Appended(event, True, conversation.membership_seq), row, mentioned)

    return _act(actor, conversation_id, client_id, EventKind.EDITED, apply)


def _members_named(conversation: Conversation, names: set[str]) -> list[int]:
    if not names:
        return []
    return list(
        Participant.objects.filter(
            conversation=conversation, left_seq__isnull=True, user__username__in=names, user__is_active=True
        ).values_list("user_id", flat=True)
    )


def delete_message(
    actor: User,
    conversation_id: int,
    seq: int,
    client_id: str,
    *,
    window: datetime.timedelta | None,
) -> Change:
    """Delete a message for everyone: its sender within ``window``, or a group's owner or admins at any time.

    The ``deleted`` event and the purge commit together.
    """

    def apply(conversation: Conversation, member: Participant, now: datetime.datetime) -> Change:
        row = _message(member, conversation, seq)
        if row.deleted_at is not None:
            return Change(None)
        moderator = conversation.kind == Conversation.Kind.GROUP and member.role in (Role.OWNER, Role.ADMIN)
        if not moderator:
            if row.sender_id != actor.pk:
                raise Forbidden("only its sender, or the group's owner and admins, may delete a message for everyone")
            if _too_late(row, window, now):
                raise WindowClosed(
                    "this message can no longer be deleted for everyone; delete it for yourself instead",
                    setting="MESSAGING_DELETE_WINDOW",
                )
        event = insert_event(conversation, actor, EventKind.DELETED, client_id, target_seq=seq, now=now)
        purge(conversation, row, now)
        return Change(Appended(event, True, conversation.membership_seq), row)

    return _act(actor, conversation_id, client_id, EventKind.DELETED, apply)


def purge(conversation: Conversation, row: Event | ArchivedEvent, now: datetime.datetime) -> None:
    """Empty a message everywhere its text could be (inside the deleting transaction).

    The row keeps its seq, sender and time ("This message was deleted"); its
    text, attachments (rows and stored files), earlier versions, edit
    events' texts and reactions go; so does its
    quote in notifications: found by their link to it, or, once it was
    archived (which unlinks them), by the text itself.
    """
    text = row.content
    type(row).objects.filter(pk=row.pk).update(content="", edited_at=None, deleted_at=now, data={})
    row.content, row.edited_at, row.deleted_at = "", None, now
    MessageEdit.objects.filter(conversation=conversation, message_seq=row.seq).delete()
    for model in (Event, ArchivedEvent):
        model.objects.filter(conversation=conversation, kind=EventKind.EDITED, target_seq=row.seq).update(content="")
    Reaction.objects.filter(conversation=conversation, message_seq=row.seq).delete()
    purge_for_event(row)  # its files: the rows now, the stored bytes once this commits
    quoted = Q(message_id=row.pk)
    if isinstance(row, ArchivedEvent) and text.strip():
        # The body quotes the text as it was typed (line breaks and runs of spaces included).
        quoted |= Q(url__in=_conversation_urls(conversation), body__contains=text[:60])
    Notification.objects.filter(quoted).update(body=DELETED_TEXT)


def _conversation_urls(conversation: Conversation) -> list[str]:
    urls = [f"/messages/c/{conversation.pk}/"]
    if conversation.kind == Conversation.Kind.DIRECT:
        urls += [
            f"/messages/{name}/"
            for name in Participant.objects.filter(conversation=conversation).values_list("user__username", flat=True)
        ]
    return urls


def react(
    actor: User,
    conversation_id: int,
    seq: int,
    emoji: str,
    client_id: str,
    *,
    add: bool,
    max_reactions: int,
) -> Change:
    """Add (or remove) the actor's ``emoji`` on a message; one per (user, message, emoji), kept so by a constraint."""
    kind = EventKind.REACTION_ADDED if add else EventKind.REACTION_REMOVED

    def apply(conversation: Conversation, member: Participant, now: datetime.datetime) -> Change:
        row = _message(member, conversation, seq)
        if row.deleted_at is not None:
            raise NotFound(f"message {seq} was deleted")
        reactions = Reaction.objects.filter(conversation=conversation, message_seq=seq)
        mine = reactions.filter(user=actor, emoji=emoji)
        if mine.exists() == add:
            return Change(None)
        if add and not reactions.filter(emoji=emoji).exists():
            distinct = reactions.values("emoji").distinct().count()
            if distinct >= max_reactions:
                raise LimitExceeded(
                    f"a message has at most {max_reactions} different reactions",
                    setting="MESSAGING_MAX_REACTIONS",
                    limit=max_reactions,
                )
        event = insert_event(conversation, actor, kind, client_id, target_seq=seq, data={"emoji": emoji}, now=now)
        if add:
            Reaction.objects.create(
                conversation=conversation, message_seq=seq, user=actor, emoji=emoji, seq=event.seq, created_at=now
            )
        else:
            mine.delete()
        return Change(Appended(event, True, conversation.membership_seq), row)

    return _act(actor, conversation_id, client_id, kind, apply)


# --- For one member only -----------------------------------------------------------


@dataclass(frozen=True)
class Hidden:
    """What a member hid: the seqs just hidden, their ``cleared_seq``, and their notification count if it changed."""

    conversation_id: int
    seqs: tuple[int, ...]
    cleared_seq: int
    notification_unread: int | None = None


def hide_messages(user: User, conversation_id: int, seqs: list[int]) -> Hidden:
    """Delete messages for ``user`` only ("delete for me"); all of them, or none when one is not theirs to see.

    Former members may hide what they keep, too.
    """
    member = member_of(user.pk, conversation_id)
    wanted = sorted(set(seqs))
    found: set[int] = set()
    for model in (Event, ArchivedEvent):
        found.update(
            model.objects.filter(conversation_id=conversation_id, seq__in=wanted, kind=EventKind.MESSAGE).values_list(
                "seq", flat=True
            )
        )
    missing = [s for s in wanted if s not in found or not in_window(member, s)]
    if missing:
        raise NotFound(f"there is no message {missing[0]} in this conversation")
    with transaction.atomic():
        HiddenMessage.objects.bulk_create(
            [
                HiddenMessage(conversation_id=conversation_id, user=user, seq=s)
                for s in wanted
                if s > member.cleared_seq
            ],
            ignore_conflicts=True,
        )
        unread = settle_new_message_notification(user.pk, conversation_id, unread_count(member))
    return Hidden(conversation_id, tuple(wanted), member.cleared_seq, unread)


def clear_conversation(user: User, conversation_id: int) -> Hidden:
    """Hide everything of the conversation up to now (or up to their leave) for ``user`` ("clear chat")."""
    member = member_of(user.pk, conversation_id)
    end = (
        member.conversation.last_seq if member.left_seq is None else min(member.left_seq, member.conversation.last_seq)
    )
    with transaction.atomic():
        Participant.objects.filter(pk=member.pk, cleared_seq__lt=end).update(cleared_seq=end)
        member.cleared_seq = max(member.cleared_seq, end)
        # Rows under the cleared seq say nothing more.
        HiddenMessage.objects.filter(conversation_id=conversation_id, user=user, seq__lte=member.cleared_seq).delete()
        unread = settle_new_message_notification(user.pk, conversation_id, unread_count(member))
    return Hidden(conversation_id, (), member.cleared_seq, unread)


# --- Reading an edit history ----------------------------------------------------------


@dataclass(frozen=True)
class Version:
    content: str
    written_at: datetime.datetime
    replaced_at: datetime.datetime | None


def edit_history(user_id: int, conversation_id: int, seq: int) -> list[Version]:
    """Every version of a message the user may see, oldest first, the current one last.

    A former member sees the versions replaced within their window.
    """
    member = member_of(user_id, conversation_id)
    row = _message(member, member.conversation, seq)
    versions = MessageEdit.objects.filter(conversation_id=conversation_id, message_seq=seq).order_by("edit_seq")
    if member.left_seq is not None:
        versions = versions.filter(edit_seq__lte=member.left_seq)
    if row.deleted_at is not None:
        return []
    found = [Version(v.content, v.written_at, v.replaced_at) for v in versions]
    later = None
    if member.left_seq is not None:
        later = (
            MessageEdit.objects.filter(conversation_id=conversation_id, message_seq=seq, edit_seq__gt=member.left_seq)
            .order_by("edit_seq")
            .first()
        )
    # The version the member sees now: the current one, or the one of when they left.
    found.append(
        Version(row.content, row.edited_at or row.created_at, None)
        if later is None
        else Version(later.content, later.written_at, None)
    )
    return found
