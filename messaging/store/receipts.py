"""Receipts: each member's ``delivered_seq`` and ``read_seq`` cursors.

A cursor only moves forward, never past the end of the log or the member's
leave, and reading implies delivery. One statement per move: an ``UPDATE …
RETURNING`` whose ``WHERE`` matches only when a cursor moves, so a repeat or a
stale report costs nothing and announces nothing, and two tabs or processes
reporting the same position announce it once.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from ..models import Conversation, Participant, Profile
from .conversations import member_of, unread_count
from .notifications import settle_new_message_notification
from .wal import checkpointer as wal_checkpointer


@dataclass(frozen=True)
class ReceiptChange:
    """A member's cursors after a move, and which of them moved."""

    conversation_id: int
    user_id: int
    username: str
    delivered_seq: int
    read_seq: int
    at: datetime.datetime
    delivered_moved: bool
    read_moved: bool
    #: the member's join position and read-receipts setting: what a viewer is shown of ``read_seq`` (:mod:`.read_privacy`)
    joined_seq: int = 0
    shares_reads: bool = True


@dataclass(frozen=True)
class CursorMark:
    """A report to apply: the member's cursors should reach ``delivered``/``read`` (None: not reported)."""

    conversation_id: int
    user_id: int
    username: str
    delivered: int | None = None
    read: int | None = None


def move_cursors(mark: CursorMark) -> ReceiptChange | None:
    """Move the member's cursors up to what was reported, clamped to the log; the change, or None."""
    reach_delivered = max(mark.delivered or 0, mark.read or 0)
    reach_read = mark.read or 0
    if reach_delivered <= 0:
        return None
    now = timezone.now()
    stamp = connection.ops.adapt_datetimefield_value(now)
    quote = connection.ops.quote_name
    # The highest a cursor may reach: the log's end, or the member's leave.
    bound = (
        f"(CASE WHEN left_seq IS NOT NULL AND left_seq < (SELECT last_seq FROM {quote(Conversation._meta.db_table)} c "
        f"WHERE c.id = conversation_id) THEN left_seq ELSE (SELECT last_seq FROM {quote(Conversation._meta.db_table)} c "
        "WHERE c.id = conversation_id) END)"
    )
    reach_d = f"(CASE WHEN %(d)s > {bound} THEN {bound} ELSE %(d)s END)"
    reach_r = f"(CASE WHEN %(r)s > {bound} THEN {bound} ELSE %(r)s END)"
    sql = (
        f"UPDATE {quote(Participant._meta.db_table)} SET "
        f"delivered_at = CASE WHEN delivered_seq < {reach_d} THEN %(now)s ELSE delivered_at END, "
        f"read_at = CASE WHEN read_seq < {reach_r} THEN %(now)s ELSE read_at END, "
        f"delivered_seq = CASE WHEN delivered_seq < {reach_d} THEN {reach_d} ELSE delivered_seq END, "
        f"read_seq = CASE WHEN read_seq < {reach_r} THEN {reach_r} ELSE read_seq END "
        f"WHERE conversation_id = %(c)s AND user_id = %(u)s AND (delivered_seq < {reach_d} OR read_seq < {reach_r}) "
        # Whether each cursor moved is compared in SQL: the row hands back its
        # times converted (a naive datetime on SQLite), never equal to the adapted stamp.
        "RETURNING delivered_seq, read_seq, delivered_at = %(now)s, read_at = %(now)s, joined_seq, "
        # The mover's read-receipts setting, in the same statement (no profile: on).
        f"(SELECT COUNT(*) FROM {quote(Profile._meta.db_table)} pr WHERE pr.user_id = %(u)s AND NOT pr.read_receipts)"
    )
    params = {"d": reach_delivered, "r": reach_read, "now": stamp, "c": mark.conversation_id, "u": mark.user_id}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    delivered_seq, read_seq, delivered_moved, read_moved, joined_seq, withholds_reads = row
    return ReceiptChange(
        mark.conversation_id,
        mark.user_id,
        mark.username,
        delivered_seq,
        read_seq,
        now,
        delivered_moved=bool(delivered_moved),
        read_moved=bool(read_moved),
        joined_seq=joined_seq,
        shares_reads=not withholds_reads,
    )


@dataclass(frozen=True)
class ReceiptSettled:
    """A cursor report applied: the change (None if nothing moved), and the user's
    notification unread count when reading changed it (None otherwise)."""

    change: ReceiptChange | None
    notification_unread: int | None = None


def apply_receipts(marks: list[CursorMark]) -> list[ReceiptSettled]:
    """Move cursors (group commit) and bring each reader's new-message notification in line.

    Reading a conversation to its end marks its new-message notification
    read; reading part of it leaves the count of what is still unread: the
    bell and the inbox count the same thing.
    """
    settled = []
    with transaction.atomic():
        for mark in marks:
            change = move_cursors(mark)
            notification_unread = None
            if change is not None and change.read_moved:
                member = member_of(change.user_id, change.conversation_id)
                notification_unread = settle_new_message_notification(
                    change.user_id, change.conversation_id, unread_count(member)
                )
            settled.append(ReceiptSettled(change, notification_unread))
    if any(s.change is not None for s in settled):
        wal_checkpointer.poke()  # SQLite: the log copied into the database soon, off this path
    return settled
