"""What presence is derived from: open sockets and the last known status."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from .conversations import Conversation


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

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="messaging_connections")
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
