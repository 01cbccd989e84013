"""Notifications and how each user wants them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from .events import Event


class NotificationKind(models.TextChoices):
    NEW_MESSAGE = "new_message", "New message"
    MENTION = "mention", "Mention"
    REACTION = "reaction", "Reaction"
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

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=32, choices=NotificationKind.choices)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)
    group_key = models.CharField(max_length=100, blank=True, db_index=True)
    count = models.PositiveIntegerField(default=1)
    message = models.ForeignKey(Event, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)
    read = models.BooleanField(default=False)
    read_at = models.DateTimeField(null=True, blank=True)
    pushed_at = models.DateTimeField(null=True, blank=True)
    email_state = models.CharField(max_length=8, choices=EmailState.choices, default=EmailState.NONE)
    emailed_at = models.DateTimeField(null=True, blank=True)

    #: not a column: ``url`` as the notifications page links it (``http.pages.safe_link``), set there
    link: str

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["user", "read"], name="messaging_notif_user_read"),
            # The list, newest first: without it PostgreSQL walks the primary key
            # backwards past every other user's rows (bench_growth, docs/benchmark.md).
            models.Index(fields=["user", "-id"], name="messaging_notif_user_newest"),
        ]

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
    desktop = models.BooleanField(default=True, help_text="Web Push (desktop/phone) alerts")
    quiet_hours_start = models.TimeField(null=True, blank=True)
    quiet_hours_end = models.TimeField(null=True, blank=True)
    timezone = models.CharField(max_length=64, default="UTC", help_text="IANA name, e.g. Europe/Paris")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="messaging_preference_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.kind}"
