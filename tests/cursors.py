"""Helpers for tests about receipts: a direct conversation, its cursors, and the statuses derived from them."""

from __future__ import annotations

import uuid
from typing import Any

from messaging.models import Conversation, Participant
from messaging.serializers import Cursors
from messaging.store import conversations, events, receipts
from messaging.store.receipts import CursorMark, ReceiptChange


def direct(a: Any, b: Any) -> Conversation:
    return conversations.get_or_create_direct(a, b)[0]


def send(conversation: Conversation, sender: Any, client_id: str | None = None) -> events.Appended:
    return events.create_message(conversation.pk, sender, "x", client_id or uuid.uuid4().hex)


def deliver(conversation: Conversation, user: Any, up_to: int) -> ReceiptChange | None:
    return receipts.move_cursors(CursorMark(conversation.pk, user.pk, user.username, delivered=up_to))


def read(conversation: Conversation, user: Any, up_to: int) -> ReceiptChange | None:
    return receipts.move_cursors(CursorMark(conversation.pk, user.pk, user.username, read=up_to))


def cursors(conversation: Conversation, user: Any) -> Cursors:
    p = Participant.objects.get(conversation=conversation, user=user)
    return Cursors(user.username, p.delivered_seq, p.read_seq, p.delivered_at, p.read_at)


def statuses(conversation: Conversation, a: Any, b: Any) -> dict[int, str]:
    """Each message's status, from the cursors of its recipient (the other member)."""
    others = {a.pk: cursors(conversation, b), b.pk: cursors(conversation, a)}
    return {
        seq: others[sender_id].status_of(seq) for seq, sender_id in conversation.events.values_list("seq", "sender_id")
    }
