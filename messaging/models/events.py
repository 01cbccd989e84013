"""The conversation log: messages (and, from here on, every event that changes a conversation)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .conversations import Conversation


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
