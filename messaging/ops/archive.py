"""Move old events out of the hot table without breaking seq or sync.

An archived event keeps its id, conversation and ``seq`` in
``ArchivedEvent``; the pages of :mod:`messaging.store.events` read both
tables, so a client syncing from seq 0 still gets 1, 2, 3, ... in order.
Idempotency on ``client_id`` covers the hot table: archive only messages far
older than any client would resend (the command refuses less than a day).
"""

from __future__ import annotations

import datetime

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from ..models import ArchivedEvent, Event

ARCHIVED_FIELDS = (
    "id",
    "conversation_id",
    "seq",
    "kind",
    "sender_id",
    "content",
    "client_id",
    "target_seq",
    "data",
    "created_at",
    "edited_at",
    "deleted_at",
)


def archive(messages: QuerySet[Event], *, batch_size: int = 1000) -> int:
    """Move ``messages`` to the archive in batches, each batch one transaction.

    Batches are paged by key (the next ``batch_size`` ids above the last
    batch's), so memory stays bounded however many messages match.
    """
    moved = 0
    last: int | None = None
    while True:
        query = messages.order_by("pk")
        if last is not None:
            query = query.filter(pk__gt=last)
        batch = list(query.values_list("pk", flat=True)[:batch_size])
        if not batch:
            return moved
        last = batch[-1]
        with transaction.atomic():
            rows = list(Event.objects.select_for_update().filter(pk__in=batch).values(*ARCHIVED_FIELDS))
            now = timezone.now()
            ArchivedEvent.objects.bulk_create(ArchivedEvent(**row, archived_at=now) for row in rows)
            Event.objects.filter(pk__in=[row["id"] for row in rows]).delete()
        moved += len(rows)


def archive_older_than(days: float, *, batch_size: int = 1000) -> int:
    cutoff = timezone.now() - datetime.timedelta(days=days)
    return archive(Event.objects.filter(created_at__lt=cutoff), batch_size=batch_size)
