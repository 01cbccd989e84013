"""Issue 17's settings: notification channels, quiet hours with a time zone, per-conversation mute.

Read receipts on/off are in ``tests/test_read_privacy.py``; the browser test in
``tests/e2e/test_settings_browser.py``.
"""

from __future__ import annotations

import datetime
import json
import zoneinfo
from typing import Any

import pytest
from django.core import mail
from django.test import Client, override_settings
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from messaging import notification_service as service
from messaging.connection_validator import FOREVER
from messaging.models import Notification, NotificationKind, NotificationPreference, Participant, RetryQueueItem
from messaging.store import conversations, events
from messaging.store.notifications import new_message_recipients
from messaging.store.preferences import InvalidTimeZone, mutes_of, save_settings, settings_of, valid_time_zone
from tests.pushservice import PushService
from tests.test_webpush import PUSH_ON, subscribed

pytestmark = pytest.mark.django_db(transaction=True)

UTC = datetime.UTC


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post(client: Client, data: dict[str, Any], *, as_json: bool = False):
    headers = {"HTTP_ACCEPT": "application/json"} if as_json else {}
    return client.post("/settings/", data, **headers)


# --- Quiet hours: the window ---------------------------------------------------------------

DST_ZONES = st.sampled_from(
    ["Europe/Paris", "America/New_York", "Australia/Lord_Howe", "America/Santiago", "Europe/London"]
)
# Around the changes of the clocks (March/April and October/November) in either hemisphere.
DST_MOMENTS = st.builds(
    lambda year, month, day, minute: datetime.datetime(year, month, day, tzinfo=UTC)
    + datetime.timedelta(minutes=minute),
    st.integers(2024, 2030),
    st.sampled_from([3, 4, 9, 10, 11]),
    st.integers(1, 28),
    st.integers(0, 24 * 60 - 1),
)
CLOCKS = st.times().map(lambda t: t.replace(second=0, microsecond=0))


@settings(max_examples=300)
@given(DST_MOMENTS, CLOCKS, CLOCKS, DST_ZONES)
def test_quiet_hours_follow_the_local_wall_clock_across_daylight_saving_changes(moment, start, end, zone) -> None:
    wall = moment.astimezone(zoneinfo.ZoneInfo(zone)).time()
    expected = False if start == end else (start <= wall < end if start < end else wall >= start or wall < end)
    assert service.in_quiet_hours(moment, start, end, zone) == expected


@given(DST_MOMENTS, DST_ZONES, st.integers(1, 23 * 60))
def test_a_window_crossing_midnight_is_quiet_just_before_and_just_after_local_midnight(moment, zone, length) -> None:
    """A window that starts ``length`` minutes before midnight and ends one minute after it."""
    local = moment.astimezone(zoneinfo.ZoneInfo(zone))
    start = (datetime.datetime.combine(local.date(), datetime.time()) - datetime.timedelta(minutes=length)).time()
    end = datetime.time(0, 1)
    wall = local.time()
    if wall >= start or wall < end:
        assert service.in_quiet_hours(moment, start, end, zone)
    for clock in (datetime.time(23, 59), datetime.time(0, 0)):
        if clock >= start or clock < end:
            # the same zone's wall clock at that time of day, on a day without a change of the clocks
            plain = datetime.datetime.combine(datetime.date(2026, 1, 15), clock, tzinfo=zoneinfo.ZoneInfo(zone))
            assert service.in_quiet_hours(plain, start, end, zone)


def test_quiet_hours_in_paris_shift_by_an_hour_of_utc_when_the_clocks_go_forward() -> None:
    night = (datetime.time(23), datetime.time(7))
    winter = datetime.datetime(2026, 3, 28, 5, 30, tzinfo=UTC)  # 06:30 CET: still quiet
    summer = datetime.datetime(2026, 3, 29, 5, 30, tzinfo=UTC)  # 07:30 CEST: the window is over
    assert service.in_quiet_hours(winter, *night, "Europe/Paris")
    assert not service.in_quiet_hours(summer, *night, "Europe/Paris")


# --- Time zones ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "", "   ", "../../etc/passwd", "Europe/Paris\x00", "x" * 65])
def test_a_time_zone_that_does_not_exist_is_refused(name) -> None:
    with pytest.raises(InvalidTimeZone):
        valid_time_zone(name)


def test_posting_an_unknown_time_zone_is_refused_with_a_clear_error_and_saves_nothing(alice) -> None:
    client = signed_in(alice)
    data = {"section": "quiet_hours", "quiet_hours": "on", "quiet_hours_start": "22:00", "quiet_hours_end": "07:00"}
    answer = post(client, {**data, "time_zone": "Mars/Olympus_Mons"}, as_json=True)
    assert answer.status_code == 400
    assert answer.json() == {
        "type": "error",
        "code": "invalid_setting",
        "detail": "there is no time zone 'Mars/Olympus_Mons' (an IANA name such as Europe/Paris)",
    }
    page = post(client, {**data, "time_zone": "Mars/Olympus_Mons"})
    assert page.status_code == 400 and b"there is no time zone" in page.content
    assert not NotificationPreference.objects.exists()


def test_quiet_hours_and_their_zone_are_saved_for_every_kind(alice) -> None:
    data = {"section": "quiet_hours", "quiet_hours": "on", "quiet_hours_start": "22:30", "quiet_hours_end": "06:45"}
    answer = post(signed_in(alice), {**data, "time_zone": "Asia/Kolkata"})
    assert answer.status_code == 302
    rows = NotificationPreference.objects.filter(user=alice)
    assert {r.kind for r in rows} == set(NotificationKind.values)
    assert {(r.quiet_hours_start, r.quiet_hours_end, r.timezone) for r in rows} == {
        (datetime.time(22, 30), datetime.time(6, 45), "Asia/Kolkata")
    }
    post(signed_in(alice), {"section": "quiet_hours", "time_zone": "Asia/Kolkata"})
    assert settings_of(alice.pk).quiet_hours_start is None and settings_of(alice.pk).time_zone == "Asia/Kolkata"


def test_a_settings_post_naming_another_user_changes_only_the_signed_in_users_settings(alice, bob) -> None:
    client = signed_in(alice)
    for data in (
        {"section": "notifications", "user": "bob", "user_id": bob.pk},
        {"section": "receipts", "user": "bob", "user_id": bob.pk},
        {
            "section": "quiet_hours",
            "user": "bob",
            "quiet_hours": "on",
            "quiet_hours_start": "01:00",
            "quiet_hours_end": "02:00",
            "time_zone": "UTC",
        },
    ):
        assert post(client, data).status_code == 302
    assert settings_of(bob.pk) == type(settings_of(bob.pk))()
    assert not NotificationPreference.objects.filter(user=bob).exists()
    mine = settings_of(alice.pk)
    assert (mine.in_app, mine.email, mine.desktop, mine.read_receipts) == (False, False, False, False)


def test_unmuting_a_conversation_of_someone_else_is_not_found_and_changes_nothing(alice, bob, carol) -> None:
    theirs = conversations.get_or_create_direct(bob, carol)[0]
    conversations.mute(bob.pk, theirs.pk, FOREVER)
    answer = post(signed_in(alice), {"section": "unmute", "conversation": theirs.pk}, as_json=True)
    assert answer.status_code == 404 and answer.json()["code"] == "not_found"
    assert Participant.objects.get(conversation=theirs, user=bob).muted_until == FOREVER


# --- Channels: in-app, email, desktop -------------------------------------------------------


@override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend")
def test_email_off_sends_no_email_but_the_notification_still_counts(alice) -> None:
    save_settings(alice.pk, email=False)
    notification = service.notify(alice, "new_message", "New message from bob", "hi", "/messages/bob/")
    service.wait_for_attempts()
    assert mail.outbox == [] and notification.email_state == Notification.EmailState.NONE
    assert service.notification_unread_count(alice.pk) == 1


def test_desktop_alerts_off_push_to_no_browser_and_the_email_decides_as_without_one(alice) -> None:
    with override_settings(**PUSH_ON), PushService() as push:
        subscribed(push, alice, "alice")
        save_settings(alice.pk, desktop=False)
        service.notify(alice, "new_message", "New message from bob", "hi", "/messages/bob/")
        service.wait_for_attempts()
        assert push.to("alice") == []
        assert not RetryQueueItem.objects.filter(operation=service.WEBPUSH_OPERATION).exists()
        assert [m.to for m in mail.outbox] == [[alice.email]]


def test_quiet_hours_hold_back_email_and_desktop_alerts_but_not_the_unread_count(alice) -> None:
    with override_settings(**PUSH_ON), PushService() as push:
        subscribed(push, alice, "alice")
        now = timezone.now().astimezone(zoneinfo.ZoneInfo("Asia/Tokyo"))
        start = (now - datetime.timedelta(hours=1)).time().replace(second=0, microsecond=0)
        end = (now + datetime.timedelta(hours=1)).time().replace(second=0, microsecond=0)
        save_settings(alice.pk, quiet_hours_start=start, quiet_hours_end=end, time_zone="Asia/Tokyo")
        service.notify(alice, "new_message", "New message from bob", "hi", "/messages/bob/")
        service.wait_for_attempts()
        assert push.to("alice") == [] and mail.outbox == []
        assert service.notification_unread_count(alice.pk) == 1


# --- Mute ------------------------------------------------------------------------------------


def test_a_mute_holds_until_its_time_and_the_conversation_notifies_again_after_it(alice, bob) -> None:
    conversation = conversations.get_or_create_direct(alice, bob)[0]
    now = timezone.now()
    conversations.mute(bob.pk, conversation.pk, now + datetime.timedelta(hours=1))
    expiry = 30.0
    assert bob.pk not in new_message_recipients([conversation.pk], now, expiry)[conversation.pk]
    assert (
        bob.pk
        not in new_message_recipients([conversation.pk], now + datetime.timedelta(minutes=59), expiry)[conversation.pk]
    )
    assert (
        bob.pk in new_message_recipients([conversation.pk], now + datetime.timedelta(hours=1), expiry)[conversation.pk]
    )
    assert [m.conversation_id for m in mutes_of(bob.pk, now)] == [conversation.pk]
    assert mutes_of(bob.pk, now + datetime.timedelta(hours=1)) == []


@given(st.integers(1, 7 * 24 * 60), st.integers(-7 * 24 * 60, 2 * 7 * 24 * 60))
@settings(max_examples=25, deadline=None)
def test_a_conversation_is_muted_exactly_before_its_mute_ends(alice, bob, minutes, offset) -> None:
    conversation = conversations.get_or_create_direct(alice, bob)[0]
    start = datetime.datetime(2026, 6, 1, tzinfo=UTC)
    until = start + datetime.timedelta(minutes=minutes)
    conversations.mute(bob.pk, conversation.pk, until)
    moment = start + datetime.timedelta(minutes=offset)
    notified = bob.pk in new_message_recipients([conversation.pk], moment, 30.0)[conversation.pk]
    assert notified == (moment >= until)
    assert bool(mutes_of(bob.pk, moment)) == (moment < until)


def test_a_mute_for_ever_is_listed_as_such_and_never_ends(alice, bob) -> None:
    conversation = conversations.get_or_create_direct(alice, bob)[0]
    conversations.mute(bob.pk, conversation.pk, FOREVER)
    far = datetime.datetime(9000, 1, 1, tzinfo=UTC)
    [mute] = mutes_of(bob.pk, far)
    assert mute.forever and mute.title == "alice"
    assert bob.pk not in new_message_recipients([conversation.pk], far, 30.0)[conversation.pk]


@override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend")
def test_a_muted_conversation_sends_no_email_but_still_counts_unread(alice, bob) -> None:
    conversation = conversations.get_or_create_direct(alice, bob)[0]
    conversations.mute(bob.pk, conversation.pk, timezone.now() + datetime.timedelta(hours=8))
    appended = events.create_message(conversation.pk, alice, "are you there?", "m1")
    service.notify_new_message(appended.event)
    service.wait_for_attempts()
    assert mail.outbox == []
    assert conversations.summary_of(bob, conversation.pk).unread == 1


def test_the_settings_page_lists_mutes_and_unmutes_one_without_javascript(alice, bob, carol) -> None:
    direct = conversations.get_or_create_direct(alice, bob)[0]
    group = conversations.create_group(alice, "Trip", ["bob", "carol"], "g1", max_members=10).conversation
    conversations.mute(alice.pk, direct.pk, timezone.now() + datetime.timedelta(hours=1))
    conversations.mute(alice.pk, group.pk, FOREVER)
    client = signed_in(alice)
    page = client.get("/settings/").content.decode()
    assert "Trip" in page and "Muted until you unmute it" in page and ">bob</a>" in page
    answer = post(client, {"section": "unmute", "conversation": group.pk})
    assert answer.status_code == 302
    assert Participant.objects.get(conversation=group, user=alice).muted_until is None
    assert json.loads(post(client, {"section": "receipts", "read_receipts": "on"}, as_json=True).content)["settings"][
        "read_receipts"
    ]


@override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend")
def test_a_mention_in_a_muted_group_is_shown_in_the_app_but_neither_emailed_nor_pushed(alice, bob, carol) -> None:
    group = conversations.create_group(alice, "Trip", ["bob", "carol"], "g1", max_members=10).conversation
    conversations.mute(bob.pk, group.pk, FOREVER)
    with override_settings(**PUSH_ON), PushService() as push:
        subscribed(push, bob, "bob")
        appended = events.create_message(group.pk, alice, "@bob can you bring the map?", "m1")
        service.notify_new_message(appended.event)
        service.wait_for_attempts()
        assert push.to("bob") == []
    assert [m.to for m in mail.outbox] == [[carol.email]]  # carol did not mute it: her new-message email
    [mention] = Notification.objects.filter(user=bob)
    assert mention.kind == "mention" and service.notification_unread_count(bob.pk) == 1


# --- The store's own checks and read-backs (store.preferences) ---------------------------------


@pytest.mark.parametrize("half", [{"quiet_hours_start": datetime.time(22)}, {"quiet_hours_end": datetime.time(7)}])
def test_quiet_hours_with_only_a_start_or_only_an_end_are_refused_and_save_nothing(alice, half) -> None:
    from messaging.store.errors import Invalid

    with pytest.raises(Invalid) as refused:
        save_settings(alice.pk, **half)
    assert str(refused.value) == "quiet hours need both a start and an end (or neither, to turn them off)"
    assert not NotificationPreference.objects.filter(user=alice).exists()


def test_saving_settings_that_do_not_exist_names_them_in_order(alice) -> None:
    from messaging.store.errors import Invalid

    with pytest.raises(Invalid) as refused:
        save_settings(alice.pk, volume=11, colour="red")
    assert str(refused.value) == "no such setting: colour, volume"


def test_saved_quiet_hours_come_back_from_the_save_and_show_as_hours_and_minutes(alice) -> None:
    saved = save_settings(alice.pk, quiet_hours_start=datetime.time(22, 30), quiet_hours_end=datetime.time(6, 5))
    assert saved == settings_of(alice.pk)
    assert (saved.quiet_hours_start, saved.quiet_hours_end) == (datetime.time(22, 30), datetime.time(6, 5))
    shown = saved.payload()
    assert (shown["quiet_hours_start"], shown["quiet_hours_end"]) == ("22:30", "06:05")
    assert settings_of(alice.pk).payload()["quiet_hours_start"] == "22:30"
    assert save_settings(alice.pk, quiet_hours_start=None, quiet_hours_end=None).payload()["quiet_hours_end"] is None


@pytest.mark.parametrize(
    ("typed", "clock"),
    [
        ("22:30", datetime.time(22, 30)),
        (" 07:05 ", datetime.time(7, 5)),
        ("22:30:59", datetime.time(22, 30)),  # seconds are dropped
        ("22:30:59.5", datetime.time(22, 30)),
        ("22:30+02:00", datetime.time(22, 30)),  # a wall-clock time: the zone is the user's setting
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_a_time_of_day_is_read_as_hours_and_minutes_of_the_wall_clock(typed, clock) -> None:
    from messaging.store.preferences import parse_clock

    assert parse_clock(typed, "quiet_hours_start") == clock


def test_a_time_of_day_that_is_not_one_names_its_field() -> None:
    from messaging.store.errors import Invalid
    from messaging.store.preferences import parse_clock

    with pytest.raises(Invalid) as refused:
        parse_clock("half past ten", "quiet_hours_end")
    assert str(refused.value) == "quiet_hours_end must be a time of day as HH:MM"


def test_a_time_zone_name_too_long_to_be_one_is_refused_without_a_lookup() -> None:
    with pytest.raises(InvalidTimeZone) as refused:
        valid_time_zone("Europe/" + "x" * 58)
    assert str(refused.value) == f"{'Europe/' + 'x' * 58!r} is not a time zone (an IANA name such as Europe/Paris)"


def test_the_mutes_listed_are_the_users_own_current_ones_soonest_first_with_their_names(
    alice, bob, carol, make_user
) -> None:
    from messaging.store.conversations import leave, mute
    from tests.groups import make_group, new_client_id

    dave = make_user("dave")
    now = timezone.now()
    with_bob, _ = conversations.get_or_create_direct(alice, bob)
    with_carol, _ = conversations.get_or_create_direct(alice, carol)
    group = make_group(dave, [alice], title="Book club")
    left = make_group(dave, [alice], title="Old club")
    mute(alice.pk, with_bob.pk, now + datetime.timedelta(hours=3))
    mute(alice.pk, with_carol.pk, now + datetime.timedelta(hours=1))
    mute(alice.pk, group, now + datetime.timedelta(hours=2))
    mute(alice.pk, left, now + datetime.timedelta(hours=1))
    leave(alice, left, new_client_id())
    mute(bob.pk, with_bob.pk, now + datetime.timedelta(hours=1))  # bob's, not alice's
    listed = mutes_of(alice.pk, now)
    assert [(m.conversation_id, m.title) for m in listed] == [
        (with_carol.pk, "carol"),
        (group, "Book club"),
        (with_bob.pk, "bob"),
    ]
    assert listed[0].muted_until == Participant.objects.get(conversation=with_carol, user=alice).muted_until


def test_the_settings_are_read_from_the_new_message_preference_not_another_kinds(alice: Any) -> None:
    NotificationPreference.objects.create(user=alice, kind=NotificationKind.MENTION, email=False, desktop=False)
    NotificationPreference.objects.create(user=alice, kind=NotificationKind.NEW_MESSAGE, email=True, desktop=True)
    found = settings_of(alice.pk)
    assert (found.email, found.desktop) == (True, True)
