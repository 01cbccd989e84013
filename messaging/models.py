"""Conversations, their participants, messages and user status.

A conversation hands out ``seq`` numbers 1, 2, 3, ... from ``last_seq`` inside
the transaction that stores the message, under a lock on the conversation row:
that is what makes ``seq`` gap-free and the cursor for ``sync``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .error_models import ErrorCategory, MessagingError, Severity

__all__ = [
    "Conversation",
    "Participant",
    "Message",
    "MessageStatus",
    "UserStatus",
    "Connection",
    "MessagingError",
    "ErrorCategory",
    "Severity",
]


class Conversation(models.Model):
    class Kind(models.TextChoices):
        DIRECT = "direct", "Direct"
        GROUP = "group", "Group"

    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.DIRECT)
    # "<lower user id>:<higher user id>" for a direct conversation, so the
    # database itself keeps one conversation per pair; NULL for groups.
    direct_key = models.CharField(max_length=64, unique=True, null=True, blank=True)
    last_seq = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    last_message_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="group") | Q(direct_key__isnull=False),
                name="messaging_direct_conversation_has_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} conversation {self.pk}"

    @staticmethod
    def direct_key_for(user_id_a: int, user_id_b: int) -> str:
        low, high = sorted((user_id_a, user_id_b))
        return f"{low}:{high}"


class Participant(models.Model):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="participants"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversation_memberships"
    )
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "user"], name="messaging_participant_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.conversation}"


class MessageStatus(models.TextChoices):
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    READ = "read", "Read"


class Message(models.Model):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    seq = models.PositiveBigIntegerField()
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sent_messages"
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="received_messages",
        null=True,
        blank=True,
    )
    content = models.TextField()
    client_id = models.CharField(max_length=64)
    status = models.CharField(
        max_length=10, choices=MessageStatus.choices, default=MessageStatus.SENT
    )
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["conversation", "seq"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "seq"], name="messaging_message_seq_unique"
            ),
            models.UniqueConstraint(
                fields=["sender", "client_id"], name="messaging_message_client_id_unique"
            ),
            models.CheckConstraint(condition=Q(seq__gte=1), name="messaging_message_seq_positive"),
        ]
        indexes = [
            models.Index(fields=["recipient", "status"], name="messaging_msg_recipient_status"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.sender_id}->{self.recipient_id}: {self.content[:40]}"


class UserStatus(models.Model):
    """What the last socket of a user told us: kept for "last seen"."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="messaging_status",
    )
    online = models.BooleanField(default=False)
    last_seen = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "user statuses"

    def __str__(self) -> str:
        return f"{self.user}: {'online' if self.online else 'offline'}"


class Connection(models.Model):
    """One open socket of a user, on one server process.

    Presence is derived from these rows, never from a counter: a row counts
    while its ``last_heartbeat`` is fresher than the presence expiry, so the
    rows of a process killed with SIGKILL simply stop counting.
    """

    class Kind(models.TextChoices):
        CHAT = "chat", "Chat"
        NOTIFICATIONS = "notifications", "Notifications"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="messaging_connections"
    )
    channel_name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    server_id = models.CharField(max_length=100, db_index=True)
    connected_at = models.DateTimeField(default=timezone.now)
    last_heartbeat = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.user} {self.kind} on {self.server_id}"
