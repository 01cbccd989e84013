"""Conversations and their members.

A conversation is a log of events numbered 1, 2, 3, ... by ``seq``. The next
``seq`` comes from ``last_seq`` inside the transaction that stores the event,
under a lock on the conversation row: that is what makes ``seq`` gap-free and
the one cursor for ``sync``.

A member's view of a conversation is a window of the log and a few cursors on
their ``Participant`` row (Mattermost's channel-member counters, Matrix's
"read up to" receipts): never one row per member per message.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class Conversation(models.Model):
    class Kind(models.TextChoices):
        DIRECT = "direct", "Direct"
        GROUP = "group", "Group"

    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.DIRECT)
    # "<lower user id>:<higher user id>" for a direct conversation, so the
    # database itself keeps one conversation per pair; NULL for groups.
    direct_key = models.CharField(max_length=64, unique=True, null=True, blank=True)
    title = models.CharField(max_length=120, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    #: seq of the newest event of any kind
    last_seq = models.PositiveBigIntegerField(default=0)
    #: seq of the newest message event (the inbox preview); 0 before the first
    last_message_seq = models.PositiveBigIntegerField(default=0)
    #: seq of the newest membership event: a socket that sees an event from a
    #: newer membership than it knows re-reads its window before forwarding it
    membership_seq = models.PositiveBigIntegerField(default=0)
    #: current members (the group size limit is checked against it)
    member_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    #: when the newest event was stored: the inbox's order
    last_message_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="group") | Q(direct_key__isnull=False),
                name="messaging_direct_conversation_has_key",
            ),
        ]

    def __str__(self) -> str:
        if self.kind == self.Kind.GROUP:
            return f"group {self.title!r} ({self.pk})"
        return f"direct conversation {self.pk}"

    @staticmethod
    def direct_key_for(user_id_a: int, user_id_b: int) -> str:
        low, high = sorted((user_id_a, user_id_b))
        return f"{low}:{high}"


class Participant(models.Model):
    """A user's membership of a conversation: their window of the log and their cursors.

    The user sees the events with ``joined_seq <= seq`` and, once they left or
    were removed, ``seq <= left_seq`` (their own leave event included). The
    cursors never move backwards and stay inside that window:
    ``delivered_seq`` is the highest seq a client of the user confirmed it
    received, ``read_seq`` the highest it showed in an open, visible chat.
    """

    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversation_memberships"
    )
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(default=timezone.now)
    joined_seq = models.PositiveBigIntegerField(default=0)
    left_seq = models.PositiveBigIntegerField(null=True, blank=True)
    left_at = models.DateTimeField(null=True, blank=True)
    delivered_seq = models.PositiveBigIntegerField(default=0)
    read_seq = models.PositiveBigIntegerField(default=0)
    #: when each cursor last moved (the ``at`` of a receipt)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    #: no notifications from this conversation until then (far future: for ever)
    muted_until = models.DateTimeField(null=True, blank=True)
    #: pinned to the top of this member's inbox since then (None: not pinned); the user's own, never announced to others
    pinned_at = models.DateTimeField(null=True, blank=True)
    #: "clear chat": every event up to here is hidden from this member (see ``store.visibility``)
    cleared_seq = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "user"], name="messaging_participant_once"),
            models.CheckConstraint(
                condition=Q(delivered_seq__gte=F("read_seq")), name="messaging_participant_read_implies_delivered"
            ),
        ]
        indexes = [
            # "My conversations": every socket's handshake and every inbox.
            models.Index(fields=["user", "left_seq"], name="messaging_member_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.conversation}"

    @property
    def is_member(self) -> bool:
        return self.left_seq is None
