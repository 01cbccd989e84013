"""``MessagingError``: a failure of the messaging system, kept for operators."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ErrorCategory(models.TextChoices):
    ASYNC_CONTEXT_VIOLATION = "async_context_violation", "Async context violation"
    JSON_SERIALIZATION_ERROR = "json_serialization_error", "JSON serialization error"
    CONNECTION_ERROR = "connection_error", "Connection error"
    ROUTING_ERROR = "routing_error", "Routing error"
    DATABASE_ERROR = "database_error", "Database error"
    VALIDATION_ERROR = "validation_error", "Validation error"
    DELIVERY_ERROR = "delivery_error", "Delivery error"
    STORAGE_ERROR = "storage_error", "Storage error"


class Severity(models.TextChoices):
    DEBUG = "debug", "Debug"
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    ERROR = "error", "Error"
    CRITICAL = "critical", "Critical"


class MessagingError(models.Model):
    category = models.CharField(max_length=32, choices=ErrorCategory.choices, db_index=True)
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.ERROR)
    message = models.TextField()
    context = models.JSONField(default=dict, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messaging_errors",
    )
    # The message the failure concerns, when there is one (a notification that
    # could not be made, an email that gave up): the admin links them.
    message_ref = models.ForeignKey(
        "messaging.Event",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="errors",
        verbose_name="message",
    )
    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    resolved = models.BooleanField(default=False, db_index=True)
    resolution_notes = models.TextField(blank=True)

    class Meta:
        ordering = ["-occurred_at"]
        verbose_name = "messaging error"

    def __str__(self) -> str:
        return f"[{self.category}] {self.message[:80]}"
