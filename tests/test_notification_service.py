"""notification_service: store first, push when online, email when away; each step may fail alone."""

from __future__ import annotations

import datetime
import smtplib
import zoneinfo
from unittest import mock

import pytest
from django.core import mail
from django.test import override_settings
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from messaging import notification_service as service
from messaging.models import Connection, Notification, NotificationPreference, RetryQueueItem
from messaging.retry_handler import process_due

pytestmark = pytest.mark.django_db(transaction=True)

LOCMEM = "django.core.mail.backends.locmem.EmailBackend"


class RefusingBackend:
    """An email backend whose server answers 451 (try again later) to everything."""

    def __init__(self, *args, **kwargs) -> None:
        pass

    def send_messages(self, messages):
        raise smtplib.SMTPResponseException(451, b"4.3.0 mail server temporarily unavailable")


REFUSING = "tests.test_notification_service.RefusingBackend"


def go_online(user, kind: str = Connection.Kind.NOTIFICATIONS, conversation=None) -> Connection:
    return Connection.objects.create(
        user=user, channel_name=f"test.{user.pk}.{kind}", kind=kind, server_id="test", conversation=conversation
    )


def notify(user, **options) -> Notification:
    notification = service.notify(user, "system", "Hello", "body", "/messages/", **options)
    service.wait_for_email_attempts()
    return notification


# --- Store and email -------------------------------------------------------------


@override_settings(EMAIL_BACKEND=LOCMEM)
def test_an_offline_user_gets_the_notification_stored_and_emailed(alice) -> None:
    notification = notify(alice)
    assert Notification.objects.filter(pk=notification.pk).exists()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alice@example.com"] and "Hello" in mail.outbox[0].subject
    assert "http://127.0.0.1:8000/messages/" in mail.outbox[0].body
    notification.refresh_from_db()
    assert notification.email_state == "sent" and notification.emailed_at is not None


@override_settings(EMAIL_BACKEND=LOCMEM)
def test_an_online_user_is_not_emailed(alice) -> None:
    go_online(alice, Connection.Kind.CHAT)
    notify(alice)
    assert mail.outbox == []
    assert Notification.objects.count() == 1


@override_settings(EMAIL_BACKEND=LOCMEM)
def test_email_preference_off_means_no_email_but_still_stored(alice) -> None:
    NotificationPreference.objects.create(user=alice, kind="system", email=False)
    notify(alice)
    assert mail.outbox == [] and Notification.objects.count() == 1


@override_settings(EMAIL_BACKEND=LOCMEM)
def test_quiet_hours_hold_back_the_email(alice) -> None:
    now = timezone.now()
    zone = "Asia/Tokyo"
    local = now.astimezone(zoneinfo.ZoneInfo(zone))
    start = (local - datetime.timedelta(hours=1)).time()
    end = (local + datetime.timedelta(hours=1)).time()
    NotificationPreference.objects.create(
        user=alice, kind="system", quiet_hours_start=start, quiet_hours_end=end, timezone=zone
    )
    notify(alice)
    assert mail.outbox == [] and Notification.objects.count() == 1


# --- Grouping ------------------------------------------------------------------------


@override_settings(EMAIL_BACKEND=LOCMEM)
def test_similar_notifications_in_a_short_window_are_grouped_and_emailed_once(alice) -> None:
    for i in range(3):
        service.notify(
            alice,
            "new_message",
            "New message from bob",
            f"m{i}",
            "/messages/bob/",
            group_key="new_message:1",
            group_title="{count} new messages from bob",
        )
    service.wait_for_email_attempts()
    notification = Notification.objects.get()
    assert notification.count == 3 and notification.title == "3 new messages from bob"
    assert notification.body == "m2"
    assert len(mail.outbox) == 1


def test_grouping_stops_after_the_window_or_once_read(alice) -> None:
    first = service.notify(alice, "system", "a", group_key="k")
    Notification.objects.filter(pk=first.pk).update(updated_at=timezone.now() - datetime.timedelta(hours=1))
    second = service.notify(alice, "system", "b", group_key="k")
    assert second.pk != first.pk
    Notification.objects.filter(pk=second.pk).update(read=True)
    third = service.notify(alice, "system", "c", group_key="k")
    assert third.pk not in {first.pk, second.pk}


# --- Quiet hours ------------------------------------------------------------------------

zones = st.sampled_from(
    ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Kiritimati"]
)
moments = st.datetimes(
    min_value=datetime.datetime(2000, 1, 1), max_value=datetime.datetime(2100, 1, 1), timezones=st.just(datetime.UTC)
)


@given(moments, st.times(), st.times(), zones)
def test_quiet_hours_follow_the_users_local_clock(moment, start, end, zone) -> None:
    local = moment.astimezone(zoneinfo.ZoneInfo(zone)).time()
    quiet = service.in_quiet_hours(moment, start, end, zone)
    if start == end:
        assert not quiet
    elif start < end:
        assert quiet == (start <= local < end)
    else:
        assert quiet == (local >= start or local < end)


@given(moments, st.times(), st.times(), zones)
def test_a_window_and_its_complement_split_the_day(moment, start, end, zone) -> None:
    if start != end:
        assert service.in_quiet_hours(moment, start, end, zone) != service.in_quiet_hours(moment, end, start, zone)


def test_an_unknown_zone_is_read_as_utc() -> None:
    noon = datetime.datetime(2026, 1, 1, 12, tzinfo=datetime.UTC)
    assert service.in_quiet_hours(noon, datetime.time(11), datetime.time(13), "Not/AZone")


# --- Fallback ------------------------------------------------------------------------


class BrokenLayer:
    async def group_send(self, group, message):
        raise ConnectionError("redis is down")


@override_settings(EMAIL_BACKEND=LOCMEM)
def test_a_failing_channel_layer_loses_nothing_and_raises_nothing(alice) -> None:
    go_online(alice)  # a bell listens: only then is there a push to fail
    with mock.patch("messaging.pubsub.get_channel_layer", return_value=BrokenLayer()):
        notification = notify(alice)
    assert Notification.objects.filter(pk=notification.pk).exists()
    notification.refresh_from_db()
    assert notification.pushed_at is None  # the push did not go out, and is not recorded as if it had
    assert mail.outbox == []  # alice is online: no email (see the next tests for the email fallback)
    from messaging.models import MessagingError

    assert MessagingError.objects.filter(category="connection_error").exists()


@override_settings(EMAIL_BACKEND=REFUSING)
def test_a_refusing_smtp_server_queues_the_email(alice) -> None:
    notification = notify(alice)
    item = RetryQueueItem.objects.get()
    assert item.state == "pending" and item.attempts == 1 and "451" in item.last_error
    notification.refresh_from_db()
    assert notification.email_state == "failed"


@override_settings(EMAIL_BACKEND=REFUSING)
def test_layer_and_smtp_both_down_still_store_then_deliver_once_when_smtp_is_back(alice) -> None:
    with mock.patch("messaging.pubsub.get_channel_layer", return_value=BrokenLayer()):
        notification = notify(alice)
    assert Notification.objects.filter(pk=notification.pk).exists()
    RetryQueueItem.objects.update(next_attempt_at=timezone.now())
    with override_settings(EMAIL_BACKEND=LOCMEM):
        assert process_due().succeeded == 1
        assert process_due().total == 0
        assert len(mail.outbox) == 1
    notification.refresh_from_db()
    assert notification.email_state == "sent"


@override_settings(EMAIL_BACKEND=LOCMEM)
def test_an_immediate_email_attempt_that_crashes_is_recorded_and_left_to_the_worker(alice) -> None:
    """The attempt runs in a pool thread nobody waits on: a crash there must not vanish."""
    from django.db import OperationalError

    from messaging.models import MessagingError

    crash = OperationalError("disk I/O error")
    with mock.patch("messaging.notification_service.run_item", side_effect=crash):
        notify(alice)
    item = RetryQueueItem.objects.get()
    record = MessagingError.objects.get(category="database_error")
    assert record.context["retry_item"] == item.pk and "disk I/O error" in record.context["exception"]
    assert mail.outbox == []
    # The claimed item is taken again by the worker once its claim goes stale.
    assert item.state == "running"


@override_settings(EMAIL_BACKEND=LOCMEM)
def test_a_user_without_an_address_is_not_emailed(make_user) -> None:
    user = make_user("noaddress")
    user.email = ""
    user.save()
    notification = notify(user)
    assert mail.outbox == []
    assert not RetryQueueItem.objects.exists()  # decided when stored, not queued and thrown away
    notification.refresh_from_db()
    assert notification.email_state == Notification.EmailState.NONE


@override_settings(EMAIL_BACKEND=REFUSING)
def test_an_address_removed_after_the_email_was_queued_ends_the_item_without_mail(alice) -> None:
    notification = notify(alice)
    alice.email = ""
    alice.save()
    RetryQueueItem.objects.update(next_attempt_at=timezone.now())
    with override_settings(EMAIL_BACKEND=LOCMEM):
        assert process_due().succeeded == 1
    assert mail.outbox == []
    notification.refresh_from_db()
    assert notification.email_state == Notification.EmailState.NONE


# --- new_message -----------------------------------------------------------------------


@override_settings(EMAIL_BACKEND=LOCMEM)
def test_a_new_message_notifies_a_recipient_who_does_not_have_the_conversation_open(alice, bob) -> None:
    from messaging.store import conversations, events

    conversation, _ = conversations.get_or_create_direct(alice, bob)
    message = events.create_message(conversation.pk, alice, "hello bob", "n1").event
    service.notify_new_message(message)
    service.wait_for_email_attempts()
    notification = Notification.objects.get(user=bob)
    assert notification.kind == "new_message" and notification.title == "New message from alice"
    assert notification.url == "/messages/alice/" and notification.message_id == message.pk
    assert len(mail.outbox) == 1
    assert not Notification.objects.filter(user=alice).exists()

    go_online(bob, Connection.Kind.CHAT, conversation)
    message = events.create_message(conversation.pk, alice, "again", "n2").event
    service.notify_new_message(message)
    assert Notification.objects.get(user=bob).count == 1


def test_the_unread_count_sums_grouped_notifications(alice) -> None:
    for i in range(3):
        service.notify(alice, "new_message", "m", f"m{i}", group_key="new_message:1", group_title="{count} new")
    service.notify(alice, "system", "s")
    from messaging.store.notifications import notification_unread_count

    assert Notification.objects.filter(user=alice, read=False).count() == 2
    assert notification_unread_count(alice.pk) == 4


def group_of(alice, bob, carol):
    from messaging.store import conversations

    return conversations.create_group(alice, "Trip", ["bob", "carol"], "g1", max_members=10).conversation


@override_settings(EMAIL_BACKEND=LOCMEM)
def test_a_group_message_notifies_every_other_member_once_grouped(alice, bob, carol) -> None:
    from messaging.store import events

    group = group_of(alice, bob, carol)
    for i in range(2):
        service.notify_new_message(events.create_message(group.pk, alice, f"m{i}", f"msg{i}").event)
    service.wait_for_email_attempts()
    rows = {n.user.username: n for n in Notification.objects.select_related("user")}
    assert set(rows) == {"bob", "carol"}
    assert rows["bob"].title == "2 new messages in Trip" and rows["bob"].count == 2
    assert rows["bob"].body == "alice: m1" and rows["bob"].url == f"/messages/c/{group.pk}/"
    assert sorted(m.to[0] for m in mail.outbox) == ["bob@example.com", "carol@example.com"]


def test_a_muted_member_gets_no_new_message_notification(alice, bob, carol) -> None:
    from messaging.connection_validator import FOREVER
    from messaging.store import conversations, events

    group = group_of(alice, bob, carol)
    conversations.mute(bob.pk, group.pk, FOREVER)
    service.notify_new_message(events.create_message(group.pk, alice, "hi", "m1").event)
    assert list(Notification.objects.values_list("user__username", flat=True)) == ["carol"]
    conversations.mute(bob.pk, group.pk, None)
    service.notify_new_message(events.create_message(group.pk, alice, "hi again", "m2").event)
    assert sorted(Notification.objects.values_list("user__username", flat=True)) == ["bob", "carol"]


def test_a_member_who_left_is_not_notified(alice, bob, carol) -> None:
    from messaging.store import conversations, events

    group = group_of(alice, bob, carol)
    conversations.leave(carol, group.pk, "bye")
    service.notify_new_message(events.create_message(group.pk, alice, "hi", "m1").event)
    assert list(Notification.objects.values_list("user__username", flat=True)) == ["bob"]
