"""Operability: /healthz, /metrics, the SMTP breaker and the admin console."""

from __future__ import annotations

import smtplib
from unittest import mock

import pytest
from channels.layers import get_channel_layer
from django.core import mail
from django.test import Client, override_settings
from django.utils import timezone

from messaging import notification_service as service
from messaging.guards.circuit_breaker import BreakerState
from messaging.logging_utils import MessagingLogger
from messaging.models import Notification, RetryQueueItem
from messaging.notification_service import smtp_breaker
from messaging.pubsub import layer_breaker
from messaging.retry_handler import process_due

pytestmark = pytest.mark.django_db(transaction=True)


class RefusingBackend:
    def __init__(self, *args, **kwargs) -> None:
        pass

    def send_messages(self, messages):
        raise smtplib.SMTPServerDisconnected("connection unexpectedly closed")


REFUSING = "tests.test_operability.RefusingBackend"
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"


def test_healthz_reports_checks_breakers_and_the_retry_backlog() -> None:
    body = Client().get("/healthz").json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "channel_layer": "ok"}
    assert body["breakers"] == {"channel_layer": "closed", "smtp": "closed", "webpush": "closed"}
    assert body["retry_queue"] == {"pending": 0, "oldest_due_seconds": 0.0, "exhausted_last_hour": 0}


def test_healthz_is_503_when_the_channel_layer_does_not_answer() -> None:
    async def broken(*args, **kwargs):
        raise ConnectionError("redis is down")

    # The fault is in the layer itself: /healthz's own round trip is what is tested.
    layer = get_channel_layer()
    with mock.patch.object(layer, "send", broken), mock.patch.object(layer, "receive", broken):
        response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable" and response.json()["checks"]["channel_layer"].startswith("error")
    assert "ConnectionError: redis is down" in response.json()["checks"]["channel_layer"]
    # Once the layer answers again, so does the health check (from a fresh probe channel).
    recovered = Client().get("/healthz")
    assert recovered.status_code == 200 and recovered.json()["checks"]["channel_layer"] == "ok"


def test_healthz_is_degraded_while_a_breaker_is_open() -> None:
    for _ in range(layer_breaker.failure_threshold):
        layer_breaker.record_failure()
    response = Client().get("/healthz")
    assert response.status_code == 200 and response.json()["status"] == "degraded"
    assert response.json()["breakers"]["channel_layer"] == "open"


def test_metrics_are_served_and_can_require_a_token() -> None:
    body = Client().get("/metrics").content.decode()
    for name in (
        "linkup_open_sockets",
        "linkup_frames_received_total",
        "linkup_messages_stored_total",
        "linkup_message_delivery_seconds_bucket",
        "linkup_error_frames_total",
        "linkup_messaging_errors_total",
        "linkup_retries_total",
        "linkup_notification_deliveries_total",
        "linkup_channel_layer_send_failures_total",
        "linkup_circuit_breaker_state",
        "linkup_retry_queue_backlog",
    ):
        assert name in body, name
    with override_settings(MESSAGING_METRICS_TOKEN="t0ken"):
        assert Client().get("/metrics").status_code == 401
        assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer t0ken").status_code == 200


def test_the_smtp_breaker_opens_fails_fast_and_closes_after_a_good_probe(alice) -> None:
    with override_settings(EMAIL_BACKEND=REFUSING):
        for i in range(smtp_breaker.failure_threshold + 2):
            service.notify(alice, "system", f"n{i}")
            service.wait_for_email_attempts()
    assert smtp_breaker.state is BreakerState.OPEN
    errors = list(RetryQueueItem.objects.order_by("pk").values_list("last_error", flat=True))
    assert all("SMTPServerDisconnected" in e for e in errors[: smtp_breaker.failure_threshold])
    assert all("CircuitOpen" in e for e in errors[smtp_breaker.failure_threshold :])
    assert Notification.objects.count() == smtp_breaker.failure_threshold + 2  # nothing lost
    RetryQueueItem.objects.update(next_attempt_at=timezone.now())
    smtp_breaker.reset_timeout = 0
    try:
        with override_settings(EMAIL_BACKEND=LOCMEM):
            run = process_due()
    finally:
        smtp_breaker.reset_timeout = 30
    assert smtp_breaker.state is BreakerState.CLOSED
    assert run.succeeded == smtp_breaker.failure_threshold + 2 and len(mail.outbox) == run.succeeded


def test_the_admin_console_shows_error_rates_breakers_and_backlog(staff_client) -> None:
    MessagingLogger().error("database_error", "disk full")
    MessagingLogger().error("delivery_error", "smtp gave up")
    RetryQueueItem.objects.create(operation="notification.email")
    response = staff_client.get("/admin/messaging/messagingerror/")
    counts = {row["category"].value: row for row in response.context["error_counts"]}
    assert counts["database_error"]["last_hour"] == 1 and counts["delivery_error"]["last_day"] == 1
    assert counts["routing_error"]["last_day"] == 0
    assert {b["name"] for b in response.context["breakers"]} >= {"smtp", "channel_layer"}
    assert response.context["retry_backlog"]["pending"] == 1
    assert b"Circuit breakers" in response.content


def test_the_admin_links_a_message_to_its_notifications_and_errors(alice, bob, staff_client) -> None:
    from messaging.store import conversations, events

    conversation, _ = conversations.get_or_create_direct(alice, bob)
    message = events.create_message(conversation.pk, alice, "linked", "l1").event
    service.notify_new_message(message)
    MessagingLogger().error("delivery_error", "email gave up", message_id=message.pk)
    page = staff_client.get(f"/admin/messaging/message/{message.pk}/change/").content.decode()
    assert "New message from alice" in page and "email gave up" in page


def test_the_admin_shows_a_users_open_connections(alice, staff_client) -> None:
    from messaging.store.presence import register_connection

    register_connection(alice.pk, "chan.1", "chat", "host:1:abc")
    listing = staff_client.get("/admin/messaging/userstatus/")
    assert listing.status_code == 200
    page = staff_client.get(f"/admin/messaging/userstatus/{alice.pk}/change/").content.decode()
    assert "host:1:abc" in page
