"""Web Push subscriptions: one per user and browser."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

#: the longest push endpoint accepted (browsers' are a few hundred characters)
MAX_ENDPOINT_LENGTH = 1000


class PushSubscription(models.Model):
    """What a browser's ``PushManager.subscribe()`` gave: where to push and the keys to encrypt for.

    The ``endpoint`` is unique: a browser that subscribes again (or for
    another user after a sign-out) replaces its row.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions")
    endpoint = models.URLField(max_length=MAX_ENDPOINT_LENGTH, unique=True)
    # The browser's P-256 public key (65 bytes, uncompressed) and its 16-byte
    # auth secret, base64url as the browser gives them (RFC 8291).
    p256dh = models.CharField(max_length=100)
    auth = models.CharField(max_length=40)
    user_agent = models.CharField(max_length=300, blank=True)
    # The session that subscribed: signing out of it deletes the row, so the
    # next person on that browser gets nothing of this user's.
    session_key = models.CharField(max_length=40, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_success_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.user} on {self.user_agent[:40] or 'a browser'}"

    def info(self) -> dict[str, object]:
        """The subscription as pywebpush takes it."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}
