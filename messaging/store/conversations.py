"""Conversations and memberships: who is in which, their windows, the inbox, group changes.

Every membership change is an event of the conversation's log, appended
under the conversation row's lock (:func:`~messaging.store.events.lock_for_append`)
in the same transaction that changes the ``Participant`` rows, so the log and
the memberships never disagree, and a send racing a removal is ordered by the
same lock.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from .. import conf
from ..models import Conversation, Event, EventKind, HiddenMessage, Participant
from .errors import Forbidden, Invalid, LimitExceeded, NotFound
from .events import Appended, insert_event, lock_for_append, newest_message, repeat_of_event
from .users import User, active_users_named, find_peer
from .visibility import unread_q

Role = Participant.Role


# --- Windows: what a socket needs to know to filter pushes --------------------------


@dataclass(frozen=True)
class Window:
    """A user's window of one conversation, as of the conversation's ``membership_seq``."""

    conversation_id: int
    kind: str
    joined_seq: int
    left_seq: int | None
    membership_seq: int

    def sees(self, seq: int) -> bool:
        return self.joined_seq <= seq and (self.left_seq is None or seq <= self.left_seq)

    @property
    def is_member(self) -> bool:
        return self.left_seq is None


def _window(member: Participant) -> Window:
    return Window(
        member.conversation_id,
        member.conversation.kind,
        member.joined_seq,
        member.left_seq,
        member.conversation.membership_seq,
    )


def windows_of(user_id: int) -> list[Window]:
    """The user's current memberships (one query): a socket subscribes to each.

    A plain statement read into plain tuples: every handshake reads it (a
    user in 20 conversations cost 20 pairs of models, and most of the
    handshake's Python; docs/benchmark.md, issue 19's handshakes).
    """
    with connection.cursor() as cursor:
        cursor.execute(_windows_sql(), [user_id])
        return [Window(*row) for row in cursor.fetchall()]


@functools.cache
def _windows_sql() -> str:
    quote = connection.ops.quote_name
    return (
        f"SELECT p.conversation_id, c.kind, p.joined_seq, p.left_seq, c.membership_seq "
        f"FROM {quote(Participant._meta.db_table)} p JOIN {quote(Conversation._meta.db_table)} c "
        "ON c.id = p.conversation_id WHERE p.user_id = %s AND p.left_seq IS NULL"
    )


def window(user_id: int, conversation_id: int) -> Window | None:
    """The user's window of one conversation (current or former), or None if never a member."""
    member = (
        Participant.objects.filter(user_id=user_id, conversation_id=conversation_id)
        .select_related("conversation")
        .first()
    )
    return _window(member) if member is not None else None


def member_of(user_id: int, conversation_id: int, *, current: bool = False) -> Participant:
    """The user's membership row (with its conversation), for reading or, with ``current``, acting.

    Raises :class:`NotFound` when the user was never in it (so its existence
    is not revealed) and, with ``current``, :class:`Forbidden` when they left.
    """
    member = (
        Participant.objects.filter(user_id=user_id, conversation_id=conversation_id)
        .select_related("conversation")
        .first()
    )
    if member is None:
        raise NotFound(f"there is no conversation {conversation_id} of yours")
    if current and member.left_seq is not None:
        raise Forbidden("you are no longer a member of this conversation")
    return member


# --- Direct conversations ---------------------------------------------------------


def get_or_create_direct(user: User, peer: User) -> tuple[Conversation, bool]:
    """The one direct conversation of the pair, created with both members; and whether it is new."""
    key = Conversation.direct_key_for(user.pk, peer.pk)
    conversation = Conversation.objects.filter(direct_key=key).first()
    if conversation is not None:
        return conversation, False
    try:
        with transaction.atomic():
            conversation = Conversation.objects.create(
                kind=Conversation.Kind.DIRECT, direct_key=key, member_count=2, created_by=user
            )
            Participant.objects.bulk_create(
                [Participant(conversation=conversation, user=user), Participant(conversation=conversation, user=peer)]
            )
            return conversation, True
    except IntegrityError:
        # Another request created it between our lookup and our insert.
        return Conversation.objects.get(direct_key=key), False


def direct_with(user: User, username: str) -> tuple[int, dict[int, Summary]]:
    """The direct conversation with ``username`` for a first message (created if need be).

    Returns its id and, when it was just created, the summaries to tell both
    members about it, so their sockets subscribe (no query: nothing is in it yet).
    """
    peer = find_peer(user, username)
    if peer is None:
        raise NotFound(f"there is no one called {username!r} to talk to")
    conversation, created = get_or_create_direct(user, peer)
    return conversation.pk, direct_notices(conversation, user, peer) if created else {}


def direct_notices(conversation: Conversation, user: User, peer: User) -> dict[int, Summary]:
    """The summaries that tell both members of a just-made direct conversation about it.

    Whichever edge made it (a first message on ``ws/chat/``, the one-to-one
    view's handshake, the first contract's HTTP API), the members' open
    ``ws/chat/`` sockets must subscribe to it.
    """
    notices = {}
    # Loaded again with their profiles: the summary shows each one's display name and avatar.
    people = {u.pk: u for u in User.objects.filter(pk__in=[user.pk, peer.pk]).select_related("messaging_profile")}
    user, peer = people[user.pk], people[peer.pk]
    for member in Participant.objects.filter(conversation=conversation):
        me, other = (user, peer) if member.user_id == user.pk else (peer, user)
        member.conversation, member.user = conversation, me
        notices[me.pk] = Summary(conversation, member, peer=other)
    return notices


# --- Summaries: the inbox ---------------------------------------------------------


@dataclass
class Summary:
    """One conversation as one user sees it: the row ``C`` of the contract, before serializing."""

    conversation: Conversation
    member: Participant
    peer: User | None = None
    last_message: Event | None = None
    unread: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def activity(self) -> datetime.datetime:
        """When the conversation last moved: its newest message, else its creation (the inbox's order, as :func:`_activity`)."""
        return self.conversation.last_message_at or self.conversation.created_at


#: newest messages looked up per query (an OR of this many (conversation, seq) pairs)
NEWEST_CHUNK = 200


def summaries(user: User, members: Sequence[Participant]) -> list[Summary]:
    """Summaries for the user's membership rows (with their conversations), in the order given.

    A constant number of queries however many (but one more per
    ``NEWEST_CHUNK`` conversations): the direct peers, the newest messages
    (one lookup by ``(conversation, seq)`` each, in one query) and
    the unread counts (one grouped count of what lies past each read cursor).
    """
    if not members:
        return []
    ids = [m.conversation_id for m in members]
    direct_ids = [m.conversation_id for m in members if m.conversation.kind == Conversation.Kind.DIRECT]
    peers = {
        p.conversation_id: p.user
        for p in Participant.objects.filter(conversation_id__in=direct_ids)
        .exclude(user=user)
        .select_related("user", "user__messaging_profile")
    }
    inside = [
        m
        for m in members
        if _window_has(m, m.conversation.last_message_seq) and m.conversation.last_message_seq > m.cleared_seq
    ]
    hidden = (
        set(
            HiddenMessage.objects.filter(
                user_id=user.pk,
                conversation_id__in=[m.conversation_id for m in inside],
                seq__in={m.conversation.last_message_seq for m in inside},
            ).values_list("conversation_id", "seq")
        )
        if inside
        else set()
    )
    inside = [m for m in inside if (m.conversation_id, m.conversation.last_message_seq) not in hidden]
    # One (conversation, seq) probe of the unique index each: joined on
    # ``conversation.last_message_seq`` instead, PostgreSQL read every event
    # of the page's conversations and scanned the conversation table
    # (bench_growth). In chunks: SQLite refuses an OR deeper than 1000.
    last_messages: dict[int, Event] = {}
    for start in range(0, len(inside), NEWEST_CHUNK):
        newest = Q()
        for m in inside[start : start + NEWEST_CHUNK]:
            newest |= Q(conversation_id=m.conversation_id, seq=m.conversation.last_message_seq)
        last_messages.update((e.conversation_id, e) for e in Event.objects.filter(newest).select_related("sender"))
    for m in members:
        if m.conversation_id not in last_messages and m.conversation.last_message_seq > m.cleared_seq:
            found = newest_message(m, m.conversation.last_message_seq)
            if found is not None:
                last_messages[m.conversation_id] = found
    unread = unread_counts(user.pk, ids)
    return [
        Summary(
            conversation=m.conversation,
            member=m,
            peer=peers.get(m.conversation_id),
            last_message=last_messages.get(m.conversation_id),
            unread=unread.get(m.conversation_id, 0),
        )
        for m in members
    ]


def _window_has(member: Participant, seq: int) -> bool:
    return seq > 0 and member.joined_seq <= seq and (member.left_seq is None or seq <= member.left_seq)


def unread_counts(user_id: int, conversation_ids: list[int]) -> dict[int, int]:
    """Messages by others past the user's read cursor, inside their window, per conversation (one query).

    Messages the user hid or cleared, and messages deleted for everyone, do not count.
    """
    if not conversation_ids:
        return {}
    me = Q(conversation__participants__user_id=user_id)
    past_read = Q(seq__gt=F("conversation__participants__read_seq"))
    in_window = Q(seq__gte=F("conversation__participants__joined_seq")) & (
        Q(conversation__participants__left_seq__isnull=True) | Q(seq__lte=F("conversation__participants__left_seq"))
    )
    rows = (
        Event.objects.filter(
            me & past_read & in_window & unread_q(user_id), conversation_id__in=conversation_ids, kind=EventKind.MESSAGE
        )
        .exclude(sender_id=user_id)
        .values("conversation_id")
        .annotate(n=Count("id"))
        .values_list("conversation_id", "n")
    )
    return dict(rows)


def unread_count(member: Participant) -> int:
    return unread_counts(member.user_id, [member.conversation_id]).get(member.conversation_id, 0)


def _activity() -> Any:
    return Coalesce("conversation__last_message_at", "conversation__created_at")


def encode_cursor(activity: datetime.datetime, conversation_id: int) -> str:
    return f"{activity.isoformat()}|{conversation_id}"


def decode_cursor(cursor: str) -> tuple[datetime.datetime, int] | None:
    """An inbox page cursor (``next``) back into its position; None if it is not one."""
    stamp, _, conversation_id = cursor.partition("|")
    try:
        moment = datetime.datetime.fromisoformat(stamp)
        return moment, int(conversation_id)
    except ValueError:
        return None


def inbox_page(
    user: User, *, before: tuple[datetime.datetime, int] | None, limit: int, current_peer_id: int | None = None
) -> tuple[list[Summary], bool, str | None]:
    """A page of the user's conversations, most recently active first; the page, has_more, the next cursor.

    Conversations with no event yet (a direct conversation someone only
    opened) are left out, except the one with ``current_peer_id`` (the chat
    page being shown). Conversations the user left are kept: they still see
    what they could see.
    """
    shown = Q(conversation__last_seq__gt=0)
    if current_peer_id is not None:
        shown |= Q(conversation__direct_key=Conversation.direct_key_for(user.pk, current_peer_id))
    query = (
        Participant.objects.filter(shown, user=user, pinned_at__isnull=True)
        .select_related("conversation")
        .annotate(activity=_activity())
        .order_by("-activity", "-conversation_id")
    )
    if before is not None:
        moment, conversation_id = before
        query = query.filter(Q(activity__lt=moment) | Q(activity=moment, conversation_id__lt=conversation_id))
    members = list(query[: limit + 1])
    has_more = len(members) > limit
    members = members[:limit]
    next_cursor = encode_cursor(members[-1].activity, members[-1].conversation_id) if has_more else None
    return summaries(user, [*_pinned(user), *members] if before is None else members), has_more, next_cursor


def _pinned(user: User) -> list[Participant]:
    """The user's pinned conversations, the latest pin first: the inbox's first page starts with them.

    They stay out of the paged part (ordered by activity), so a pin never
    shifts a cursor; their number is bounded by ``MESSAGING_MAX_PINNED_CONVERSATIONS``.
    """
    return list(
        Participant.objects.filter(user=user, pinned_at__isnull=False)
        .select_related("conversation")
        .order_by("-pinned_at", "-conversation_id")
    )


def summary_of(user: User, conversation_id: int) -> Summary:
    return summaries(user, [member_of(user.pk, conversation_id)])[0]


def summaries_for(user: User, conversation_ids: list[int]) -> list[Summary]:
    """Summaries of the named conversations the user was ever in (others are left out)."""
    members = list(
        Participant.objects.filter(user=user, conversation_id__in=conversation_ids).select_related("conversation")
    )
    return summaries(user, members)


# --- Receipts and member lists ---------------------------------------------------


@dataclass(frozen=True)
class Receipt:
    """A member's cursors, as others see them."""

    user_id: int
    username: str
    delivered_seq: int
    read_seq: int
    joined_seq: int
    delivered_at: datetime.datetime | None = None
    read_at: datetime.datetime | None = None


def receipts_of(conversation_id: int, *, exclude_user_id: int | None = None) -> list[Receipt]:
    """The current members' cursors (the sender's own excluded when given)."""
    rows = Participant.objects.filter(conversation_id=conversation_id, left_seq__isnull=True).select_related("user")
    if exclude_user_id is not None:
        rows = rows.exclude(user_id=exclude_user_id)
    return [
        Receipt(p.user_id, p.user.get_username(), p.delivered_seq, p.read_seq, p.joined_seq, p.delivered_at, p.read_at)
        for p in rows.order_by("joined_seq", "id")
    ]


def current_members(conversation_id: int) -> list[Participant]:
    return list(
        Participant.objects.filter(conversation_id=conversation_id, left_seq__isnull=True)
        .select_related("user", "user__messaging_profile")
        .order_by("joined_seq", "id")
    )


# --- Group changes ----------------------------------------------------------------


@dataclass
class MembershipChange:
    """What a group change stored and whose membership it began or ended (for publishing after the commit)."""

    appended: Appended
    conversation: Conversation
    joined: list[Participant] = field(default_factory=list)
    left: list[Participant] = field(default_factory=list)


def notice_summaries(change: MembershipChange) -> dict[int, Summary]:
    """The summaries to send whoever joined or left.

    A member who just joined sees nothing yet but the event that added them:
    their summary needs no query. One who left gets their real one (what they
    keep).
    """
    notices = {p.user_id: Summary(change.conversation, p) for p in change.joined}
    for p in change.left:
        notices[p.user_id] = summaries(p.user, [p])[0]
    return notices


def _unique(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))


def create_group(
    creator: User, title: str, usernames: list[str], client_id: str, *, max_members: int
) -> MembershipChange:
    """A new group with ``creator`` as owner and the named users as members, and its ``created`` event."""
    repeat = _repeat(creator, client_id, None, EventKind.CREATED)
    if repeat is not None:
        return repeat
    names = [n for n in _unique(usernames) if n != creator.get_username()]
    if not names:
        raise Invalid("a group needs at least one other member")
    if len(names) + 1 > max_members:
        raise LimitExceeded(
            f"a group has at most {max_members} members", setting="MESSAGING_MAX_GROUP_MEMBERS", limit=max_members
        )
    users = active_users_named(names)
    try:
        with transaction.atomic():
            now = timezone.now()
            conversation = Conversation.objects.create(
                kind=Conversation.Kind.GROUP, title=title, created_by=creator, member_count=len(users) + 1
            )
            conversation = lock_for_append(conversation.pk)
            event = insert_event(
                conversation,
                creator,
                EventKind.CREATED,
                client_id,
                data={"title": title, "members": [creator.get_username(), *names]},
                now=now,
            )
            seq = event.seq
            members = Participant.objects.bulk_create(
                [
                    Participant(
                        conversation=conversation,
                        user=u,
                        role=Role.OWNER if u is creator else Role.MEMBER,
                        joined_seq=seq,
                        delivered_seq=seq,
                        read_seq=seq,
                        joined_at=now,
                    )
                    for u in [creator, *users]
                ]
            )
    except IntegrityError:
        repeat = _repeat(creator, client_id, None, EventKind.CREATED)
        if repeat is None:
            raise
        return repeat
    return MembershipChange(Appended(event, True, seq), conversation, joined=members)


def _repeat(actor: User, client_id: str, conversation_id: int | None, kind: str) -> MembershipChange | None:
    existing = repeat_of_event(actor, client_id, conversation_id, kind)
    if existing is None:
        return None
    return MembershipChange(Appended(existing, False, existing.conversation.membership_seq), existing.conversation)


def _acting_member(actor: User, conversation: Conversation, *, roles: tuple[str, ...] | None = None) -> Participant:
    """The actor's current membership of a group, with a role among ``roles`` if given."""
    member = Participant.objects.filter(conversation=conversation, user=actor).first()
    if member is None:
        raise NotFound(f"there is no conversation {conversation.pk} of yours")
    if member.left_seq is not None:
        raise Forbidden("you are no longer a member of this conversation")
    if conversation.kind != Conversation.Kind.GROUP:
        raise Forbidden("a direct conversation has no members to change")
    if roles is not None and member.role not in roles:
        raise Forbidden("only the group's owner or admins may do that")
    member.conversation, member.user = conversation, actor
    return member


def _change(
    actor: User, conversation_id: int, client_id: str, kind: str, apply: Callable[[Conversation], MembershipChange]
) -> MembershipChange:
    """Run ``apply(conversation)`` under the conversation's lock, unless ``client_id`` repeats an earlier change."""
    try:
        with transaction.atomic():
            conversation = lock_for_append(conversation_id)
            repeat = _repeat(actor, client_id, conversation_id, kind)
            if repeat is not None:
                return repeat
            return apply(conversation)
    except IntegrityError:
        repeat = _repeat(actor, client_id, conversation_id, kind)
        if repeat is None:
            raise
        return repeat


def add_members(
    actor: User, conversation_id: int, usernames: list[str], client_id: str, *, max_members: int
) -> MembershipChange:
    """The owner or an admin adds users; a former member is re-added (their window restarts here)."""

    names = _unique(usernames)

    def apply(conversation: Conversation) -> MembershipChange:
        _acting_member(actor, conversation, roles=(Role.OWNER, Role.ADMIN))
        if len(names) > max_members:
            # However many of them are in already, the rest would not fit:
            # refused before a query for every name.
            raise LimitExceeded(
                f"a group has at most {max_members} members", setting="MESSAGING_MAX_GROUP_MEMBERS", limit=max_members
            )
        users = active_users_named(names)
        rows = {p.user_id: p for p in Participant.objects.filter(conversation=conversation, user__in=users)}
        new = [u for u in users if u.pk not in rows or rows[u.pk].left_seq is not None]
        if not new:
            raise Invalid("they are all members already")
        if conversation.member_count + len(new) > max_members:
            raise LimitExceeded(
                f"a group has at most {max_members} members",
                setting="MESSAGING_MAX_GROUP_MEMBERS",
                limit=max_members,
            )
        now = timezone.now()
        event = insert_event(
            conversation,
            actor,
            EventKind.MEMBERS_ADDED,
            client_id,
            data={"users": [u.get_username() for u in new]},
            now=now,
        )
        seq = event.seq
        joined = []
        for u in new:
            row = rows.get(u.pk) or Participant()
            # also on a former member's row: its user is then this one, already loaded (no query for the notices)
            row.conversation, row.user = conversation, u
            row.role = Role.MEMBER
            row.joined_seq = row.delivered_seq = row.read_seq = seq
            row.left_seq = row.left_at = row.delivered_at = row.read_at = row.muted_until = None
            row.joined_at = now
            row.save()
            joined.append(row)
        conversation.member_count += len(new)
        conversation.save(update_fields=["member_count"])
        return MembershipChange(Appended(event, True, seq), conversation, joined=joined)

    return _change(actor, conversation_id, client_id, EventKind.MEMBERS_ADDED, apply)


def _end_membership(conversation: Conversation, member: Participant, seq: int, now: datetime.datetime) -> None:
    member.left_seq = seq
    member.left_at = now
    member.role = Role.MEMBER
    member.save(update_fields=["left_seq", "left_at", "role"])
    conversation.member_count -= 1
    conversation.save(update_fields=["member_count"])


def remove_member(actor: User, conversation_id: int, username: str, client_id: str) -> MembershipChange:
    """The owner removes anyone but themself; an admin removes plain members."""

    def apply(conversation: Conversation) -> MembershipChange:
        acting = _acting_member(actor, conversation, roles=(Role.OWNER, Role.ADMIN))
        [target_user] = active_users_named([username])
        target = Participant.objects.filter(conversation=conversation, user=target_user, left_seq__isnull=True).first()
        if target is None:
            raise NotFound(f"{username!r} is not a member of this group")
        target.conversation, target.user = conversation, target_user
        if target.user_id == actor.pk:
            raise Invalid("to leave a group, use leave")
        if target.role == Role.OWNER or (acting.role == Role.ADMIN and target.role == Role.ADMIN):
            raise Forbidden(f"you may not remove {username!r}")
        now = timezone.now()
        event = insert_event(conversation, actor, EventKind.MEMBER_REMOVED, client_id, data={"user": username}, now=now)
        _end_membership(conversation, target, event.seq, now)
        return MembershipChange(Appended(event, True, event.seq), conversation, left=[target])

    return _change(actor, conversation_id, client_id, EventKind.MEMBER_REMOVED, apply)


def leave(actor: User, conversation_id: int, client_id: str) -> MembershipChange:
    """A member leaves; an owner who leaves hands the group to the oldest admin, else the oldest member."""

    def apply(conversation: Conversation) -> MembershipChange:
        acting = _acting_member(actor, conversation)
        data: dict[str, Any] = {}
        heir = None
        if acting.role == Role.OWNER:
            others = Participant.objects.filter(conversation=conversation, left_seq__isnull=True).exclude(pk=acting.pk)
            heir = (
                others.filter(role=Role.ADMIN).order_by("joined_seq", "id").select_related("user").first()
                or others.order_by("joined_seq", "id").select_related("user").first()
            )
            if heir is not None:
                data["new_owner"] = heir.user.get_username()
        now = timezone.now()
        event = insert_event(conversation, actor, EventKind.MEMBER_LEFT, client_id, data=data, now=now)
        _end_membership(conversation, acting, event.seq, now)
        if heir is not None:
            Participant.objects.filter(pk=heir.pk).update(role=Role.OWNER)
        return MembershipChange(Appended(event, True, event.seq), conversation, left=[acting])

    return _change(actor, conversation_id, client_id, EventKind.MEMBER_LEFT, apply)


def rename(actor: User, conversation_id: int, title: str, client_id: str) -> MembershipChange:
    """Any current member renames the group."""

    def apply(conversation: Conversation) -> MembershipChange:
        _acting_member(actor, conversation)
        conversation.title = title
        conversation.save(update_fields=["title"])
        event = insert_event(conversation, actor, EventKind.RENAMED, client_id, data={"title": title})
        return MembershipChange(Appended(event, True, conversation.membership_seq), conversation)

    return _change(actor, conversation_id, client_id, EventKind.RENAMED, apply)


def set_role(actor: User, conversation_id: int, username: str, role: str, client_id: str) -> MembershipChange:
    """The owner makes a member an admin, or an admin a member again."""

    def apply(conversation: Conversation) -> MembershipChange:
        _acting_member(actor, conversation, roles=(Role.OWNER,))
        [target_user] = active_users_named([username])
        target = Participant.objects.filter(conversation=conversation, user=target_user, left_seq__isnull=True).first()
        if target is None:
            raise NotFound(f"{username!r} is not a member of this group")
        if target.role == Role.OWNER:
            raise Forbidden("the owner's role does not change; the owner hands the group on by leaving")
        if target.role == role:
            raise Invalid(f"{username!r} is already {'an admin' if role == Role.ADMIN else 'a member'}")
        target.role = role
        target.save(update_fields=["role"])
        event = insert_event(
            conversation, actor, EventKind.ROLE_CHANGED, client_id, data={"user": username, "role": role}
        )
        return MembershipChange(Appended(event, True, conversation.membership_seq), conversation)

    return _change(actor, conversation_id, client_id, EventKind.ROLE_CHANGED, apply)


def pin(user_id: int, conversation_id: int, pinned: bool) -> datetime.datetime | None:
    """Pin a conversation to the top of the user's inbox (or unpin it); when it was pinned, or None.

    Any conversation the user was ever in may be pinned (a group they left
    stays in their inbox). Pinning a pinned one keeps its place; at most
    ``MESSAGING_MAX_PINNED_CONVERSATIONS`` at once (:class:`LimitExceeded`,
    nothing changed). The user's row is locked while counting, so two tabs
    pinning at the same moment cannot pass the limit together.
    """
    with transaction.atomic():
        member = member_of(user_id, conversation_id)
        if not pinned:
            Participant.objects.filter(pk=member.pk).update(pinned_at=None)
            return None
        if member.pinned_at is not None:
            return member.pinned_at
        list(User.objects.select_for_update().filter(pk=user_id).values_list("pk"))
        limit = conf.max_pinned_conversations()
        if Participant.objects.filter(user_id=user_id, pinned_at__isnull=False).count() >= limit:
            raise LimitExceeded(
                f"at most {limit} conversations can be pinned: unpin one first",
                setting="MESSAGING_MAX_PINNED_CONVERSATIONS",
                limit=limit,
            )
        now = timezone.now()
        Participant.objects.filter(pk=member.pk).update(pinned_at=now)
        return now


def mute(user_id: int, conversation_id: int, until: datetime.datetime | None) -> datetime.datetime | None:
    """Silence (or, with None, unsilence) the conversation's notifications for one member."""
    member = member_of(user_id, conversation_id, current=True)
    Participant.objects.filter(pk=member.pk).update(muted_until=until)
    return until
