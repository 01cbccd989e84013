"""Messages as one reader sees them in a page: current state, reactions, the reply's quote, placeholders.

A history, sync or resume page shows each message in its current state
(``content`` after edits, ``edited_at``, ``deleted``), with its reactions
and, for a reply, a quote of the message it answers. ``as_of`` says up to
which seq of the log that state is folded in: a client applies the edits,
deletions and reactions it holds with a higher seq on top of it (the wire
contract's "message state").

Events the reader may not see (:mod:`.visibility`: cleared, hidden by them,
or an edit or reaction of such a message, or of one before their join) are
marked ``hidden``: pages keep every seq so that a client's cursor moves
over them, but they carry nothing.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from ..models import MESSAGE_ACTION_KINDS, ArchivedEvent, Event, EventKind, MessageEdit, Participant, Reaction
from .visibility import hidden_among, in_window

#: a page's rows: hot events, archived ones, or both
E = TypeVar("E", bound=Event | ArchivedEvent)

#: names listed per emoji (``count`` is the whole number): keeps a page's size bounded in big groups
REACTION_NAMES_SHOWN = 10
#: code points of a replied-to message quoted in the reply
PREVIEW_LENGTH = 100


@dataclass(frozen=True)
class ReplyPreview:
    """The quote of the message a reply answers; ``sender`` and ``preview`` are None when the reader cannot see it."""

    seq: int
    sender: str | None
    preview: str | None
    deleted: bool = False


@dataclass(frozen=True)
class ReactionSummary:
    emoji: str
    count: int
    users: tuple[str, ...]


@dataclass(frozen=True)
class MessageView:
    """A message's state for one reader, folded up to ``as_of``."""

    as_of: int | None
    content: str
    edited_at: datetime.datetime | None
    deleted: bool
    reactions: tuple[ReactionSummary, ...] = ()
    reply_to: ReplyPreview | None = None


def preview_of(content: str) -> str:
    text = " ".join(content.split())
    return text if len(text) <= PREVIEW_LENGTH else text[: PREVIEW_LENGTH - 1] + "…"


def quote(row: Event | ArchivedEvent) -> ReplyPreview:
    """The quote of a message row (an ``Event`` or ``ArchivedEvent``, its sender loaded)."""
    deleted = row.deleted_at is not None
    return ReplyPreview(row.seq, row.sender.get_username(), "" if deleted else preview_of(row.content), deleted)


def fresh_view(event: Event, reply_to: ReplyPreview | None = None) -> MessageView:
    """A message just stored: nothing has happened to it yet."""
    return MessageView(event.seq, event.content, None, False, (), reply_to)


def annotate(member: Participant, events: list[E], as_of: int) -> list[E]:
    """Attach each message's :class:`MessageView` (``event.view``) and mark what ``member`` may not see (``event.hidden``).

    A handful of queries for the whole page, none for a page without messages.
    """
    if not events:
        return events
    if member.left_seq is not None:
        as_of = min(as_of, member.left_seq)
    action_targets = {e.target_seq for e in events if e.kind in MESSAGE_ACTION_KINDS and e.target_seq}
    hidden = hidden_among(member, {e.seq for e in events} | action_targets)
    shown = []
    for event in events:
        event.hidden = event.seq in hidden or (event.kind in MESSAGE_ACTION_KINDS and event.target_seq in hidden)
        if event.kind == EventKind.MESSAGE and not event.hidden:
            shown.append(event)
    if not shown:
        return events
    conversation_id = member.conversation_id
    reactions = _reactions(conversation_id, [e.seq for e in shown if e.deleted_at is None], member)
    quotes = _quotes(member, events, [e.target_seq for e in shown if e.target_seq])
    versions = _versions_at_leave(member, [e for e in shown if e.edited_at is not None])
    for event in shown:
        content, edited_at = versions.get(event.seq, (event.content, event.edited_at))
        event.view = MessageView(
            as_of,
            content,
            edited_at,
            event.deleted_at is not None,
            reactions.get(event.seq, ()),
            quotes.get(event.target_seq) if event.target_seq else None,
        )
    return events


def _reactions(conversation_id: int, seqs: list[int], member: Participant) -> dict[int, tuple[ReactionSummary, ...]]:
    if not seqs:
        return {}
    rows = Reaction.objects.filter(conversation_id=conversation_id, message_seq__in=seqs)
    if member.left_seq is not None:
        rows = rows.filter(seq__lte=member.left_seq)
    grouped: dict[int, dict[str, list[tuple[int, str]]]] = defaultdict(dict)
    for seq, emoji, user_id, username in rows.order_by("seq").values_list(
        "message_seq", "emoji", "user_id", "user__username"
    ):
        grouped[seq].setdefault(emoji, []).append((user_id, username))
    found = {}
    for seq, by_emoji in grouped.items():
        summaries = []
        for emoji, users in by_emoji.items():
            # The reader first, so a client can tell its own reaction even from a shortened list.
            users.sort(key=lambda u: u[0] != member.user_id)
            summaries.append(
                ReactionSummary(emoji, len(users), tuple(name for _, name in users[:REACTION_NAMES_SHOWN]))
            )
        found[seq] = tuple(summaries)
    return found


def _quotes(
    member: Participant, events: Sequence[Event | ArchivedEvent], targets: Iterable[int]
) -> dict[int, ReplyPreview]:
    """The quotes of the replied-to messages: from the page itself when there, else read (both tables)."""
    wanted = set(targets)
    quotes = {}
    for seq in [s for s in wanted if not in_window(member, s)]:
        quotes[seq] = ReplyPreview(seq, None, None)
        wanted.discard(seq)
    on_page = {e.seq: e for e in events if e.kind == EventKind.MESSAGE}
    for seq in [s for s in wanted if s in on_page]:
        quotes[seq] = quote(on_page[seq])
        wanted.discard(seq)
    for model in (Event, ArchivedEvent):
        if not wanted:
            break
        for row in model.objects.select_related("sender").filter(
            conversation_id=member.conversation_id, seq__in=wanted, kind=EventKind.MESSAGE
        ):
            quotes[row.seq] = quote(row)
            wanted.discard(row.seq)
    return quotes


def _versions_at_leave(
    member: Participant, edited: Sequence[Event | ArchivedEvent]
) -> dict[int, tuple[str, datetime.datetime | None]]:
    """For a former member, the text of messages edited after they left, as it was when they left."""
    if member.left_seq is None or not edited:
        return {}
    found: dict[int, tuple[str, datetime.datetime | None]] = {}
    created = {e.seq: e.created_at for e in edited}
    for version in MessageEdit.objects.filter(
        conversation_id=member.conversation_id, message_seq__in=list(created), edit_seq__gt=member.left_seq
    ).order_by("edit_seq"):
        if version.message_seq not in found:
            written = version.written_at
            found[version.message_seq] = (version.content, None if written == created[version.message_seq] else written)
    return found
