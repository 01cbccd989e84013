"""Read receipts on/off, WhatsApp's rule: a member's read position is shown to a viewer only if both share.

A user who turns read receipts off (``Profile.read_receipts``) never shows
others how far they read, and never sees how far others read. Delivery is
not private: ``delivered_seq`` is always shown, so the delivered ticks work.
A hidden ``read_seq`` is shown as the member's ``joined_seq`` (read nothing
the viewer can see), never as a guess.

Every read of other members' cursors for a viewer goes through
:func:`shown_read_seq`: ``sync``/``resume``/``members`` answers
(:mod:`messaging.store.reading`) and the ``receipts`` pushes (the consumer,
with the mover's flag carried by :class:`~messaging.store.receipts.ReceiptChange`),
so a push and a later sync always agree.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..models import Profile


def shown_read_seq(read_seq: int, joined_seq: int, *, viewer_shares: bool, member_shares: bool) -> int:
    """The ``read_seq`` of another member as a viewer may see it."""
    return read_seq if viewer_shares and member_shares else joined_seq


def sharing_of(user_ids: Iterable[int]) -> dict[int, bool]:
    """Whether each user shares read receipts (no profile: the default, on), in one query."""
    ids = list(dict.fromkeys(user_ids))
    found = dict.fromkeys(ids, True)
    if ids:
        found.update(Profile.objects.filter(user_id__in=ids).values_list("user_id", "read_receipts"))
    return found
