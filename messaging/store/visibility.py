"""What one member may see of a conversation: THE rule every read of that member applies.

A member sees the events of their window (``joined_seq`` .. ``left_seq``),
minus what they hid for themself:

- every event up to their ``cleared_seq`` ("clear chat"), and
- the messages they deleted for themself (``HiddenMessage`` rows), with the
  edits and reactions of those messages.

Sync, resume and history (``store.events`` pages), the inbox's preview and
unread counts (``store.conversations``), and the actions (a member cannot act
on a message they cannot see) all go through here; so must search and
attachment downloads. For a queryset of ``Event`` (or ``ArchivedEvent``) rows
of one conversation, filter with :func:`visible_q`; for rows already read,
:func:`hidden_among` says which to replace by a placeholder.

Deleted-for-everyone messages are not hidden by this rule: everyone sees
"This message was deleted" in their place (their content is gone).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Exists, F, OuterRef, Q

from ..models import HiddenMessage, Participant


def in_window(member: Participant, seq: int) -> bool:
    return member.joined_seq <= seq and (member.left_seq is None or seq <= member.left_seq)


def visible_q(member: Participant) -> Q:
    """Rows of ``member``'s conversation they may see: their window, less what they cleared or hid.

    Only the row's own ``seq`` is checked; an edit or reaction whose message
    they cannot see is caught by :func:`hidden_among` (the pages do both).
    """
    condition = Q(conversation_id=member.conversation_id, seq__gte=member.joined_seq, seq__gt=member.cleared_seq)
    if member.left_seq is not None:
        condition &= Q(seq__lte=member.left_seq)
    hidden = HiddenMessage.objects.filter(
        conversation_id=member.conversation_id, user_id=member.user_id, seq=OuterRef("seq")
    )
    return condition & ~Q(Exists(hidden))


def hidden_among(member: Participant, seqs: Iterable[int]) -> set[int]:
    """Which of ``seqs`` the member may not see: outside their window, cleared, or hidden (one query at most)."""
    wanted = set(seqs)
    hidden = {seq for seq in wanted if not in_window(member, seq) or seq <= member.cleared_seq}
    rest = wanted - hidden
    if rest:
        hidden.update(
            HiddenMessage.objects.filter(
                conversation_id=member.conversation_id, user_id=member.user_id, seq__in=rest
            ).values_list("seq", flat=True)
        )
    return hidden


def can_see(member: Participant, seq: int) -> bool:
    return not hidden_among(member, [seq])


def unread_q(user_id: int) -> Q:
    """For the unread count, a query over ``Event`` joined to the user's ``Participant`` rows
    (``conversation__participants__user_id=user_id``): not cleared, not hidden, not deleted."""
    hidden = HiddenMessage.objects.filter(
        conversation_id=OuterRef("conversation_id"), user_id=user_id, seq=OuterRef("seq")
    )
    return Q(seq__gt=F("conversation__participants__cleared_seq"), deleted_at__isnull=True) & ~Q(Exists(hidden))
