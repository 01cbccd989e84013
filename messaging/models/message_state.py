"""What happens to a message after it is sent: earlier versions, reactions, and who hid it.

Rows name their message by ``(conversation, seq)``, not by a foreign key to
the event, so that they keep pointing at it when ``archive_messages`` moves
it to :class:`~messaging.models.events.ArchivedEvent`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from .conversations import Conversation


class MessageEdit(models.Model):
    """An earlier version of an edited message: its text, when it was written and when an edit replaced it.

    Kept for the participants and the admin; deleting the message for
    everyone deletes these with it.
    """

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    message_seq = models.PositiveBigIntegerField()
    #: the ``edited`` event that replaced this version
    edit_seq = models.PositiveBigIntegerField()
    content = models.TextField()
    written_at = models.DateTimeField()
    replaced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["conversation", "message_seq", "edit_seq"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "edit_seq"], name="messaging_edit_once"),
        ]
        indexes = [models.Index(fields=["conversation", "message_seq"], name="messaging_edit_message")]

    def __str__(self) -> str:
        return f"#{self.message_seq} before edit #{self.edit_seq}"


class Reaction(models.Model):
    """One user's emoji on one message: the database keeps it to one per (user, message, emoji)."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    message_seq = models.PositiveBigIntegerField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    emoji = models.CharField(max_length=64)
    #: the ``reaction_added`` event
    seq = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["conversation", "message_seq", "seq"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "message_seq", "user", "emoji"], name="messaging_reaction_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.emoji} on #{self.message_seq}"


class HiddenMessage(models.Model):
    """A message one member deleted for themself ("delete for me"); the others still see it.

    Everything up to a member's ``Participant.cleared_seq`` ("clear chat") is
    hidden too, without a row per message.
    """

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    seq = models.PositiveBigIntegerField()
    hidden_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "user", "seq"], name="messaging_hidden_once"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} hidden by {self.user_id}"
