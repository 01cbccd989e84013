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
    "Notification",
    "NotificationKind",
    "NotificationPreference",
    "RetryQueueItem",
    "ArchivedMessage",
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
            # Ticks and unread counts ask for one recipient's messages of one
            # status in one conversation, up to a seq: without this index the
            # database walks the conversation's whole (conversation, seq)
            # range for every delivered tick, slower with every message.
            models.Index(
                fields=["conversation", "recipient", "status", "seq"], name="messaging_msg_ticks"
            ),
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
    # The conversation a chat socket has open: a new message for a user
    # who has it open makes no notification.
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.CASCADE, related_name="connections"
    )
    server_id = models.CharField(max_length=100, db_index=True)
    connected_at = models.DateTimeField(default=timezone.now)
    last_heartbeat = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.user} {self.kind} on {self.server_id}"


class NotificationKind(models.TextChoices):
    NEW_MESSAGE = "new_message", "New message"
    SYSTEM = "system", "System"


class Notification(models.Model):
    """Something a user should know, stored before any attempt to deliver it.

    Similar notifications within a short window share one row (``group_key``)
    whose ``count`` grows: "3 new messages from alice".
    """

    class EmailState(models.TextChoices):
        NONE = "none", "Not emailed"
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=32, choices=NotificationKind.choices)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)
    group_key = models.CharField(max_length=100, blank=True, db_index=True)
    count = models.PositiveIntegerField(default=1)
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)
    read = models.BooleanField(default=False)
    read_at = models.DateTimeField(null=True, blank=True)
    pushed_at = models.DateTimeField(null=True, blank=True)
    email_state = models.CharField(max_length=8, choices=EmailState.choices, default=EmailState.NONE)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["user", "read"], name="messaging_notif_user_read")]

    def __str__(self) -> str:
        return f"{self.user}: {self.title}"


class NotificationPreference(models.Model):
    """How a user wants one kind of notification; no row means the defaults."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField(max_length=32, choices=NotificationKind.choices)
    in_app = models.BooleanField(default=True)
    email = models.BooleanField(default=True)
    quiet_hours_start = models.TimeField(null=True, blank=True)
    quiet_hours_end = models.TimeField(null=True, blank=True)
    timezone = models.CharField(max_length=64, default="UTC", help_text="IANA name, e.g. Europe/Paris")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="messaging_preference_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.kind}"


class RetryQueueItem(models.Model):
    """Work to try again later: what, how often it was tried, when next, why it failed."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        EXHAUSTED = "exhausted", "Exhausted"

    operation = models.CharField(max_length=64, db_index=True)
    payload = models.JSONField(default=dict)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=8)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    notification = models.ForeignKey(
        Notification, null=True, blank=True, on_delete=models.SET_NULL, related_name="retry_items"
    )

    class Meta:
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="messaging_retry_due")]

    def __str__(self) -> str:
        return f"{self.operation} #{self.pk} ({self.state}, {self.attempts} attempt(s))"


class ArchivedMessage(models.Model):
    """A message moved out of the hot table by ``archive_messages``.

    It keeps its conversation, ``seq`` and every field, so ``sync`` and
    ``history`` still return it in its place (they read both tables).
    """

    id = models.BigIntegerField(primary_key=True)  # the id it had as a Message
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="archived_messages"
    )
    seq = models.PositiveBigIntegerField()
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", null=True, blank=True
    )
    content = models.TextField()
    client_id = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=MessageStatus.choices)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["conversation", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="messaging_archived_seq_unique"),
        ]

    def __str__(self) -> str:
        return f"archived #{self.seq} of conversation {self.conversation_id}"
