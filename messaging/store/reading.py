"""What a client reads, one call per request: a socket frame costs one trip to the database thread.

Each function checks the reader's membership (their window, at the time of
the read) and gathers everything its answer needs.
"""

from __future__ import annotations

import dataclasses
import datetime
from dataclasses import dataclass, field
from typing import Any

from ..models import Conversation, Participant
from ..serializers import identity_payload
from . import conversations, events, notifications, presence, profiles
from .conversations import Receipt, Summary, Window
from .read_privacy import sharing_of, shown_read_seq
from .users import User


@dataclass
class SyncPage:
    """A ``sync`` answer: events after a seq, the log's end, the other members' cursors."""

    member: Participant
    page: events.EventPage
    last_seq: int
    receipts: list[Receipt]


def sync_page(user_id: int, conversation_id: int, after: int, limit: int) -> SyncPage:
    member = conversations.member_of(user_id, conversation_id)
    return SyncPage(
        member,
        events.events_after(member, after, limit),
        member.conversation.last_seq,
        receipts_seen_by(member),
    )


def receipts_seen_by(member: Participant) -> list[Receipt]:
    """The other members' cursors as ``member`` may see them.

    A former member sees the members who joined within their window, with
    cursors no further than their leave: neither who came later nor how far
    the log went on after them. Read positions follow the read-receipts rule
    (:mod:`.read_privacy`).
    """
    receipts = private_reads(
        member.user_id, conversations.receipts_of(member.conversation_id, exclude_user_id=member.user_id)
    )
    left_seq = member.left_seq
    if left_seq is None:
        return receipts
    return [
        dataclasses.replace(r, delivered_seq=min(r.delivered_seq, left_seq), read_seq=min(r.read_seq, left_seq))
        for r in receipts
        if r.joined_seq <= left_seq
    ]


def private_reads(viewer_id: int, receipts: list[Receipt]) -> list[Receipt]:
    """Other members' receipts with the read positions the viewer may not see hidden (one query)."""
    sharing = sharing_of([viewer_id, *(r.user_id for r in receipts)])
    shown = []
    for r in receipts:
        if r.user_id == viewer_id or (sharing[viewer_id] and sharing[r.user_id]):
            shown.append(r)
        else:
            hidden = shown_read_seq(r.read_seq, r.joined_seq, viewer_shares=False, member_shares=False)
            shown.append(dataclasses.replace(r, read_seq=hidden, read_at=None))
    return shown


def peer_receipts(user_id: int, conversation_id: int) -> list[Receipt]:
    """The other current members' cursors, as the user may see them."""
    return private_reads(user_id, conversations.receipts_of(conversation_id, exclude_user_id=user_id))


def history_page(
    user_id: int, conversation_id: int, before: int | None, limit: int, *, around: int | None = None
) -> tuple[Participant, events.EventPage]:
    """A ``history`` page: before a seq (newest first), or around one (:func:`~.events.events_around`)."""
    member = conversations.member_of(user_id, conversation_id)
    if around is not None:
        return member, events.events_around(member, around, limit)
    return member, events.events_before(member, before, limit)


def around_page(user_id: int, conversation_id: int, around: int, limit: int) -> tuple[Participant, events.EventPage]:
    """The timeline around a seq (a reply's original, a search hit)."""
    return history_page(user_id, conversation_id, None, limit, around=around)


def with_presence(summaries: list[Summary], expiry: float) -> list[Summary]:
    """Add the direct peers' presence to summaries (``extra["presence"]``), in two queries."""
    peers = [s.peer.pk for s in summaries if s.peer is not None]
    found = presence.presence_of_many(peers, expiry)
    for summary in summaries:
        if summary.peer is not None:
            summary.extra["presence"] = found.get(summary.peer.pk, (False, None))
    return summaries


def inbox(
    user: User,
    *,
    before: tuple[datetime.datetime, int] | None,
    limit: int,
    expiry: float,
    current_peer_id: int | None = None,
) -> tuple[list[Summary], bool, str | None]:
    rows, has_more, next_cursor = conversations.inbox_page(
        user, before=before, limit=limit, current_peer_id=current_peer_id
    )
    return with_presence(rows, expiry), has_more, next_cursor


@dataclass
class Resumed:
    summary: Summary
    page: events.EventPage
    receipts: list[Receipt] = field(default_factory=list)


def resume(user: User, cursors: dict[int, int], limit: int, expiry: float) -> list[Resumed]:
    """For each conversation named (that the user was ever in): its summary, the events after the cursor, the receipts."""
    summaries = with_presence(conversations.summaries_for(user, list(cursors)), expiry)
    resumed = []
    for summary in summaries:
        conversation_id = summary.conversation.pk
        resumed.append(
            Resumed(
                summary,
                events.events_after(summary.member, cursors[conversation_id], limit),
                receipts_seen_by(summary.member),
            )
        )
    return resumed


def conversation_detail(user: User, conversation_id: int, expiry: float) -> tuple[Summary, list[Receipt]]:
    summary = with_presence([conversations.summary_of(user, conversation_id)], expiry)[0]
    return summary, receipts_seen_by(summary.member)


@dataclass(frozen=True)
class MemberInfo:
    username: str
    role: str
    joined_seq: int
    delivered_seq: int
    read_seq: int
    online: bool
    last_seen: datetime.datetime | None
    display_name: str | None = None
    avatar: str | None = None


def members(user_id: int, conversation_id: int, expiry: float) -> list[MemberInfo]:
    """The current members of a conversation the user is in, with their cursors and presence.

    A former member is refused (:class:`~messaging.store.errors.Forbidden`):
    who is in it now, and who of them is online, lies outside their window.
    """
    conversations.member_of(user_id, conversation_id, current=True)
    rows = conversations.current_members(conversation_id)
    found = presence.presence_of_many([p.user_id for p in rows], expiry)
    sharing = sharing_of([user_id, *(p.user_id for p in rows)])
    shown = {p.user_id: identity_payload(p.user) for p in rows}
    return [
        MemberInfo(
            p.user.get_username(),
            p.role,
            p.joined_seq,
            p.delivered_seq,
            p.read_seq
            if p.user_id == user_id
            else shown_read_seq(
                p.read_seq, p.joined_seq, viewer_shares=sharing[user_id], member_shares=sharing[p.user_id]
            ),
            *found.get(p.user_id, (False, None)),
            display_name=shown[p.user_id]["display_name"],
            avatar=shown[p.user_id]["avatar"],
        )
        for p in rows
    ]


@dataclass
class Session:
    """What a socket learns when it opens: its presence change, its windows, its direct peers' presence."""

    change: presence.PresenceChange | None
    windows: list[Window]
    #: the user's read-receipts setting (:mod:`.read_privacy`), kept by the socket and updated by ``settings`` pushes
    shares_reads: bool = True
    #: the user with their profile, for the ``connected`` frame's identity
    me: User | None = None


def open_session(
    user_id: int,
    channel_name: str,
    kind: str,
    server_id: str,
    *,
    max_sockets: int | None,
    expiry: float,
    username: str,
    me: User | None = None,
) -> Session:
    """Register the socket for presence and read what ``connected`` says, in one trip (every reconnect storm pays it).

    The user's windows, and the user with their profile (identity, and the
    read-receipts setting it holds: no profile means the default, on); ``me``:
    the signed-in user when they were read with their profile already
    (``messaging.http.auth_backend``), so it is not read again.
    """
    change = presence.register_connection(
        user_id, channel_name, kind, server_id, max_sockets=max_sockets, expiry=expiry, username=username
    )
    if me is None:
        me = profiles.user_with_profile(user_id)
    profile = getattr(me, "messaging_profile", None)
    shares = True if profile is None else bool(profile.read_receipts)
    return Session(change, conversations.windows_of(user_id), shares, me)


@dataclass
class BellSession:
    """What a ``ws/notifications/`` socket learns when it opens: its presence change and the unread count."""

    change: presence.PresenceChange | None
    unread: int


def open_notifications(
    user_id: int,
    channel_name: str,
    kind: str,
    server_id: str,
    *,
    max_sockets: int | None,
    expiry: float,
    username: str,
) -> BellSession:
    """Register the bell's socket for presence and read its unread count, in one database-thread trip.

    Every tab opens a bell beside its chat socket, so a reconnect storm pays
    this once per tab: two trips were one more thread hop per socket.
    """
    change = presence.register_connection(
        user_id, channel_name, kind, server_id, max_sockets=max_sockets, expiry=expiry, username=username
    )
    return BellSession(change, notifications.notification_unread_count(user_id))


@dataclass
class DirectOpening:
    """The compatibility view's direct conversation, its peer and the ``connected`` snapshot."""

    conversation: Conversation
    peer: User
    window: Window
    session: Session | None = None
    snapshot: dict[str, Any] = field(default_factory=dict)
    #: when the handshake made the conversation: the summaries to tell both members (see ``direct_notices``)
    notices: dict[int, Summary] = field(default_factory=dict)


def open_direct(user: User, peer_username: str) -> DirectOpening | None:
    """The direct conversation with ``peer_username`` (created if need be), or None to refuse the handshake."""
    from .users import find_peer

    peer = find_peer(user, peer_username)
    if peer is None:
        return None
    conversation, created = conversations.get_or_create_direct(user, peer)
    window = conversations.window(user.pk, conversation.pk)
    assert window is not None
    notices = conversations.direct_notices(conversation, user, peer) if created else {}
    return DirectOpening(conversation, peer, window, notices=notices)


def direct_snapshot(user_id: int, conversation_id: int, peer_id: int, expiry: float) -> dict[str, Any]:
    """What the compatibility view's ``connected`` frame reports."""
    member = conversations.member_of(user_id, conversation_id)
    online, last_seen = presence.presence_of(peer_id, expiry)
    return {
        "last_seq": member.conversation.last_seq,
        "unread": conversations.unread_count(member),
        "peer_online": online,
        "peer_last_seen": last_seen,
        "shares_reads": sharing_of([user_id])[user_id],
    }
