"""Web Push, server side, against a push service on loopback (tests/pushservice.py).

Every push the tests look at was decrypted with the keys a "browser" made
and its VAPID token verified by that service: nothing here trusts the sender.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from django.core import mail
from django.test import Client, override_settings
from django.utils import timezone
from hypothesis import example, given
from hypothesis import strategies as st

from messaging import notification_service as service
from messaging.models import (
    MessagingError,
    Notification,
    NotificationPreference,
    Profile,
    PushSubscription,
    RetryQueueItem,
)
from messaging.notify import webpush
from messaging.ops import metrics
from messaging.retry_handler import process_due
from messaging.store import conversations, events
from tests.pushservice import PushService, verify_vapid
from tests.servers import ROOT

pytestmark = pytest.mark.django_db(transaction=True)

LOCMEM = "django.core.mail.backends.locmem.EmailBackend"
PRIVATE_KEY, PUBLIC_KEY = webpush.generate_vapid_keys()
PUSH_ON = {
    "MESSAGING_WEBPUSH_ENABLED": True,
    "MESSAGING_VAPID_PRIVATE_KEY": PRIVATE_KEY,
    "MESSAGING_VAPID_SUBJECT": "mailto:ops@example.com",
    "MESSAGING_WEBPUSH_ALLOW_HTTP": True,
    "EMAIL_BACKEND": LOCMEM,
}


@pytest.fixture
def push_on() -> Iterator[None]:
    with override_settings(**PUSH_ON):
        yield


@pytest.fixture
def push_service(push_on) -> Iterator[PushService]:
    with PushService() as push:
        yield push


def subscribe(user, subscription: dict[str, Any], client: Client | None = None, **headers: str):
    client = client or Client()
    client.force_login(user)
    return client.post(
        "/messages/api/push/subscribe", json.dumps(subscription), content_type="application/json", **headers
    )


def subscribed(push: PushService, user, name: str):
    subscription, keys = push.browser(name)
    assert subscribe(user, subscription).status_code == 201
    return keys


def notify(user, title: str = "New message from bob", body: str = "see you at 6", url: str = "/messages/bob/"):
    notification = service.notify(user, "new_message", title, body, url)
    service.wait_for_attempts()
    return notification


def sent(outcome: str) -> float:
    return metrics.WEBPUSH_SENDS.labels(outcome)._value.get()


def make_due() -> None:
    RetryQueueItem.objects.update(next_attempt_at=timezone.now())


# --- Subscribing ------------------------------------------------------------------------


def test_a_browser_subscribes_for_the_signed_in_user(push_service, alice) -> None:
    subscription, keys = push_service.browser("alice-firefox")
    answer = subscribe(alice, subscription, HTTP_USER_AGENT="Firefox/140")
    assert answer.status_code == 201
    row = PushSubscription.objects.get()
    assert (row.user, row.endpoint, row.p256dh, row.user_agent) == (
        alice,
        subscription["endpoint"],
        subscription["keys"]["p256dh"],
        "Firefox/140",
    )
    assert answer.json()["subscription"]["endpoint"] == subscription["endpoint"]


def test_the_same_browser_subscribing_again_keeps_one_row_owned_by_the_latest_user(push_service, alice, bob) -> None:
    subscription, _ = push_service.browser("shared-laptop")
    assert subscribe(alice, subscription).status_code == 201
    assert subscribe(bob, subscription).status_code == 200
    assert list(PushSubscription.objects.values_list("user__username", flat=True)) == ["bob"]


BAD_SUBSCRIPTIONS = {
    "no endpoint": lambda s: {**s, "endpoint": None},
    "not a URL": lambda s: {**s, "endpoint": "push me"},
    "javascript URL": lambda s: {**s, "endpoint": "javascript:alert(1)"},
    "no keys": lambda s: {"endpoint": s["endpoint"]},
    "short p256dh": lambda s: {**s, "keys": {**s["keys"], "p256dh": s["keys"]["p256dh"][:40]}},
    "p256dh off the curve": lambda s: {**s, "keys": {**s["keys"], "p256dh": "BA" + "A" * 85}},
    "auth of 8 bytes": lambda s: {**s, "keys": {**s["keys"], "auth": "AAAAAAAAAAA"}},
    "keys not strings": lambda s: {**s, "keys": {"p256dh": 1, "auth": 2}},
}


@pytest.mark.parametrize("case", sorted(BAD_SUBSCRIPTIONS))
def test_a_malformed_subscription_is_refused_with_invalid_frame_and_nothing_stored(push_service, alice, case) -> None:
    subscription, _ = push_service.browser("bad")
    answer = subscribe(alice, BAD_SUBSCRIPTIONS[case](subscription))
    assert answer.status_code == 400
    assert answer.json()["type"] == "error" and answer.json()["code"] == "invalid_frame"
    assert not PushSubscription.objects.exists()


def test_an_http_push_endpoint_is_refused_unless_allowed_for_a_local_push_service(push_service, alice) -> None:
    subscription, _ = push_service.browser("plain-http")
    with override_settings(MESSAGING_WEBPUSH_ALLOW_HTTP=False):
        answer = subscribe(alice, subscription)
    assert answer.status_code == 400 and "https" in answer.json()["detail"]


def test_subscribing_needs_a_session_and_the_csrf_token(push_service, alice) -> None:
    subscription, _ = push_service.browser("anon")
    anonymous = Client().post("/messages/api/push/subscribe", json.dumps(subscription), content_type="application/json")
    assert anonymous.status_code == 403 and anonymous.json()["code"] == "forbidden"
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    no_token = strict.post("/messages/api/push/subscribe", json.dumps(subscription), content_type="application/json")
    assert no_token.status_code == 403 and no_token.json()["code"] == "forbidden"
    assert not PushSubscription.objects.exists()


def test_subscribing_is_not_found_while_web_push_is_off(alice) -> None:
    answer = subscribe(alice, {"endpoint": "https://push.example.com/x", "keys": {}})
    assert answer.status_code == 404 and answer.json()["code"] == "not_found"


def test_unsubscribing_deletes_only_the_users_own_subscription(push_service, alice, bob) -> None:
    alices, _ = push_service.browser("alice")
    bobs, _ = push_service.browser("bob")
    subscribe(alice, alices)
    subscribe(bob, bobs)
    client = Client()
    client.force_login(alice)
    theirs = client.post(
        "/messages/api/push/unsubscribe", json.dumps({"endpoint": bobs["endpoint"]}), content_type="application/json"
    )
    assert theirs.json() == {"deleted": 0}
    own = client.post(
        "/messages/api/push/unsubscribe", json.dumps({"endpoint": alices["endpoint"]}), content_type="application/json"
    )
    assert own.json() == {"deleted": 1}
    assert list(PushSubscription.objects.values_list("user__username", flat=True)) == ["bob"]


def test_past_the_limit_a_new_browser_replaces_the_one_longest_without_a_successful_push(push_service, alice) -> None:
    with override_settings(MESSAGING_WEBPUSH_MAX_SUBSCRIPTIONS=2):
        first, second, third = (push_service.browser(name)[0] for name in ("first", "second", "third"))
        subscribe(alice, first)
        subscribe(alice, second)
        PushSubscription.objects.filter(endpoint=first["endpoint"]).update(last_success_at=timezone.now())
        subscribe(alice, third)
    endpoints = set(PushSubscription.objects.values_list("endpoint", flat=True))
    assert endpoints == {first["endpoint"], third["endpoint"]}


def test_signing_out_forgets_the_push_subscriptions_made_in_that_session(push_service, alice) -> None:
    here, elsewhere = Client(), Client()
    subscribe(alice, push_service.browser("here")[0], client=here)
    subscribe(alice, push_service.browser("elsewhere")[0], client=elsewhere)
    here.post("/accounts/logout/")
    assert list(PushSubscription.objects.values_list("endpoint", flat=True)) == [
        f"{push_service.origin}/push/elsewhere"
    ]


# --- Pushing ------------------------------------------------------------------------------


def test_a_notification_reaches_the_browser_encrypted_and_vapid_signed_with_a_ttl_and_urgency(
    push_service, alice
) -> None:
    before = sent("sent")
    subscribed(push_service, alice, "alice")
    notification = notify(alice)
    [delivery] = push_service.to("alice")
    assert delivery.status == 201 and delivery.error is None
    assert delivery.claims["aud"] == push_service.origin and delivery.claims["sub"] == "mailto:ops@example.com"
    assert delivery.claims["k"] == PUBLIC_KEY
    assert delivery.headers["ttl"] == "86400" and delivery.headers["urgency"] == "high"
    assert delivery.payload == {
        "id": notification.pk,
        "title": "New message from bob",
        "body": "see you at 6",
        "url": "/messages/bob/",
        "tag": "linkup:/messages/bob/",
        "count": 1,
        "sender": None,
        "icon": None,
    }
    assert PushSubscription.objects.get().last_success_at is not None
    assert sent("sent") == before + 1


def test_a_reached_browser_means_no_email(push_service, alice) -> None:
    subscribed(push_service, alice, "alice")
    notification = notify(alice)
    assert mail.outbox == []
    assert Notification.objects.get(pk=notification.pk).email_state == Notification.EmailState.NONE


def test_a_new_message_push_names_its_sender_and_carries_only_that_message(push_service, alice, bob) -> None:
    subscribed(push_service, bob, "bob")
    conversation, _ = conversations.get_or_create_direct(alice, bob)
    events.create_message(conversation.pk, alice, "an earlier message", "h1")
    message = events.create_message(conversation.pk, alice, "the newest one", "h2").event
    service.notify_new_message(message)
    service.wait_for_attempts()
    [delivery] = push_service.to("bob")
    assert delivery.payload["sender"] == "alice" and delivery.payload["icon"] == "/avatars/alice.png"
    assert delivery.payload["body"] == "the newest one"
    assert "an earlier message" not in json.dumps(delivery.payload)


def test_hidden_message_content_pushes_new_message_and_never_the_text(push_service, alice) -> None:
    subscribed(push_service, alice, "alice")
    profile = Profile.for_user(alice.pk)
    profile.hide_notification_content = True
    profile.save()
    notify(alice, body="the secret plan")
    [delivery] = push_service.to("alice")
    assert delivery.payload["body"] == "New message"
    assert "secret" not in json.dumps(delivery.payload)


@pytest.mark.parametrize("status", [404, 410])
def test_a_gone_subscription_is_deleted_and_the_email_goes_out_instead(push_service, alice, status) -> None:
    subscribed(push_service, alice, "alice")
    push_service.answer("alice", status)
    notification = notify(alice)
    assert [d.status for d in push_service.to("alice")] == [status]
    assert not PushSubscription.objects.exists()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["alice@example.com"]
    assert Notification.objects.get(pk=notification.pk).email_state == Notification.EmailState.SENT


@pytest.mark.parametrize("status", [429, 500, 503])
def test_a_push_service_that_cannot_take_it_now_gets_it_again_from_the_retry_queue(push_service, alice, status) -> None:
    subscribed(push_service, alice, "alice")
    push_service.answer("alice", status)
    notify(alice)
    item = RetryQueueItem.objects.get(operation=service.WEBPUSH_OPERATION)
    assert item.state == RetryQueueItem.State.PENDING and item.attempts == 1 and str(status) in item.last_error
    make_due()
    assert process_due().succeeded == 1
    assert [d.status for d in push_service.to("alice")] == [status, 201]
    assert mail.outbox == []


def test_a_retry_goes_only_to_the_browsers_that_did_not_take_the_push(push_service, alice) -> None:
    subscribed(push_service, alice, "laptop")
    subscribed(push_service, alice, "phone")
    push_service.answer("phone", 503)
    notify(alice)
    make_due()
    process_due()
    assert [d.status for d in push_service.to("laptop")] == [201]
    assert [d.status for d in push_service.to("phone")] == [503, 201]


@pytest.mark.parametrize("status", [400, 403, 413])
def test_a_refused_push_is_recorded_and_not_retried(push_service, alice, status) -> None:
    subscribed(push_service, alice, "alice")
    push_service.answer("alice", status)
    notify(alice)
    assert RetryQueueItem.objects.get(operation=service.WEBPUSH_OPERATION).state == RetryQueueItem.State.SUCCEEDED
    assert MessagingError.objects.filter(category="delivery_error", message__contains="refused a push").count() == 1
    assert len(mail.outbox) == 1  # it reached no browser: the email goes out
    assert PushSubscription.objects.exists()


def test_a_push_that_keeps_failing_falls_back_to_email_when_the_queue_gives_up(push_service, alice) -> None:
    subscribed(push_service, alice, "alice")
    push_service.answer("alice", 500, 500)
    with override_settings(MESSAGING_RETRY_MAX_ATTEMPTS=2):
        notify(alice)
        make_due()
        process_due()
    assert RetryQueueItem.objects.get(operation=service.WEBPUSH_OPERATION).state == RetryQueueItem.State.EXHAUSTED
    service.wait_for_attempts()
    assert len(mail.outbox) == 1


def test_quiet_hours_hold_back_both_the_push_and_the_email(push_service, alice) -> None:
    subscribed(push_service, alice, "alice")
    now = timezone.now()
    NotificationPreference.objects.create(
        user=alice,
        kind="new_message",
        quiet_hours_start=(now - datetime.timedelta(hours=1)).time(),
        quiet_hours_end=(now + datetime.timedelta(hours=1)).time(),
    )
    notify(alice)
    assert push_service.received == [] and mail.outbox == []


def test_without_a_subscribed_browser_the_email_goes_out_as_before(push_service, alice) -> None:
    notify(alice)
    assert push_service.received == [] and len(mail.outbox) == 1


def test_a_grouped_notification_is_pushed_again_with_the_count_under_the_same_tag(push_service, alice) -> None:
    subscribed(push_service, alice, "alice")
    for body in ("one", "two"):
        service.notify(
            alice,
            "new_message",
            "New message from bob",
            body,
            "/messages/bob/",
            group_key="nm:1",
            group_title="{count} new messages from bob",
        )
        service.wait_for_attempts()
    first, second = (d.payload for d in push_service.to("alice"))
    assert first["tag"] == second["tag"] == "linkup:/messages/bob/"
    assert (second["title"], second["body"], second["count"]) == ("2 new messages from bob", "two", 2)


def test_the_push_breaker_opens_after_repeated_failures_and_stops_calling_the_service(push_service, alice) -> None:
    subscribed(push_service, alice, "alice")
    push_service.answer("alice", *([503] * 10))
    webpush.push_breaker.failure_threshold = 2
    try:
        for _ in range(4):
            notify(alice)
    finally:
        webpush.push_breaker.failure_threshold = 5
    assert webpush.push_breaker.state.value == "open"
    assert len(push_service.to("alice")) == 2
    items = RetryQueueItem.objects.filter(operation=service.WEBPUSH_OPERATION)
    assert all(item.state == RetryQueueItem.State.PENDING for item in items)
    assert sum("circuit breaker is open" in item.last_error for item in items) == 2


# --- Configuration ----------------------------------------------------------------------


def test_web_push_switched_on_without_a_key_fails_the_system_check(alice) -> None:
    from messaging.notify.webpush import check_webpush_settings

    with override_settings(MESSAGING_WEBPUSH_ENABLED=True, MESSAGING_VAPID_PRIVATE_KEY="", MESSAGING_VAPID_SUBJECT=""):
        errors = check_webpush_settings()
    assert {error.id for error in errors} == {"messaging.E101"}
    assert any("manage.py vapid_keys" in error.msg for error in errors)
    assert any("MESSAGING_VAPID_SUBJECT" in error.msg for error in errors)


def test_web_push_switched_on_without_a_key_stops_the_asgi_application_at_start() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESSAGING_VAPID")}
    env.update(MESSAGING_WEBPUSH_ENABLED="true", DJANGO_SETTINGS_MODULE="linkup.settings")
    result = subprocess.run(
        [sys.executable, "-c", "import linkup.asgi"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "MESSAGING_VAPID_PRIVATE_KEY is not set" in result.stderr and "vapid_keys" in result.stderr


def test_the_vapid_keys_command_prints_a_pair_whose_tokens_a_push_service_accepts() -> None:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("vapid_keys", stdout=out)
    lines = dict(line.split("=", 1) for line in out.getvalue().splitlines() if line and not line.startswith("#"))
    private = lines["MESSAGING_VAPID_PRIVATE_KEY"]
    with override_settings(MESSAGING_VAPID_PRIVATE_KEY=private):
        headers = webpush.vapid().sign({"sub": "mailto:ops@example.com", "aud": "https://push.example.net"})
        public = webpush.public_key()
    claims = verify_vapid(headers["Authorization"], "https://push.example.net")
    assert claims["k"] == public


def test_operators_see_push_subscriptions_in_the_admin_and_cannot_edit_their_keys(
    push_service, alice, staff_client
) -> None:
    subscribed(push_service, alice, "alice")
    row = PushSubscription.objects.get()
    listing = staff_client.get("/admin/messaging/pushsubscription/")
    assert listing.status_code == 200 and "alice" in listing.content.decode()
    assert staff_client.get("/admin/messaging/pushsubscription/add/").status_code == 403
    page = staff_client.get(f"/admin/messaging/pushsubscription/{row.pk}/change/").content.decode()
    assert 'name="p256dh"' not in page  # shown, not editable


@given(body=st.text(max_size=6000), title=st.text(min_size=1, max_size=200), hide=st.booleans())
@example(body="é\x00" * 2500, title="\x01" * 200, hide=False)
def test_a_push_payload_fits_push_services_and_never_carries_hidden_text(body, title, hide) -> None:
    notification = Notification(pk=1, title=title, body=body, url="/messages/bob/", count=1)
    payload = webpush.payload_for(notification, hide_content=hide)
    encoded = webpush.encode_payload(payload)
    assert len(encoded) <= webpush.MAX_PAYLOAD_BYTES
    assert json.loads(encoded) == payload
    if hide or not body:
        assert payload["body"] == "New message"
    else:
        assert body.startswith(payload["body"].removesuffix("…"))
