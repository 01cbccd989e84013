"""Conversations and their participants.

A conversation hands out ``seq`` numbers 1, 2, 3, ... from ``last_seq`` inside
the transaction that stores an event, under a lock on the conversation row:
that is what makes ``seq`` gap-free and the cursor for ``sync``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


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
