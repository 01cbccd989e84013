"""The durable retry queue's rows."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from .notifications import Notification


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
