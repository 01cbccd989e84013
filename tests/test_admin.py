"""The admin: errors filterable and resolvable by staff, messages read-only."""

from __future__ import annotations

import pytest
from django.test import Client

from messaging.logging_utils import MessagingLogger
from messaging.models import MessagingError

pytestmark = pytest.mark.django_db


def test_error_list_filters_by_category_and_searches(staff_client) -> None:
    MessagingLogger().error("database_error", "disk on fire")
    MessagingLogger().error("routing_error", "bad pattern")
    response = staff_client.get("/admin/messaging/messagingerror/?category__exact=database_error")
    assert response.status_code == 200
    assert b"disk on fire" in response.content and b"bad pattern" not in response.content
    response = staff_client.get("/admin/messaging/messagingerror/?q=pattern")
    assert b"bad pattern" in response.content and b"disk on fire" not in response.content


def test_mark_resolved_action(staff_client) -> None:
    row = MessagingLogger().error("delivery_error", "smtp down")
    staff_client.post(
        "/admin/messaging/messagingerror/",
        {"action": "mark_resolved", "_selected_action": [row.pk]},
    )
    assert MessagingError.objects.get(pk=row.pk).resolved


def test_messages_cannot_be_added_in_the_admin(staff_client) -> None:
    assert staff_client.get("/admin/messaging/message/add/").status_code == 403
    assert staff_client.get("/admin/messaging/message/").status_code == 200


def test_the_admin_is_for_staff_only(django_user_model) -> None:
    client = Client()
    client.force_login(django_user_model.objects.create_user("alice", password="pw"))
    assert client.get("/admin/messaging/messagingerror/").status_code == 302


def test_retry_queue_shows_counts_and_success_rates(staff_client) -> None:
    from messaging.models import RetryQueueItem

    RetryQueueItem.objects.create(operation="notification.email", state="succeeded", attempts=3)
    RetryQueueItem.objects.create(operation="notification.email", state="succeeded", attempts=1)
    RetryQueueItem.objects.create(operation="notification.email", state="exhausted", attempts=8)
    RetryQueueItem.objects.create(operation="notification.email", state="pending", attempts=1)
    response = staff_client.get("/admin/messaging/retryqueueitem/")
    assert response.status_code == 200
    stats = response.context["retry_statistics"]
    assert stats == [
        {
            "operation": "notification.email",
            "total": 4,
            "pending": 1,
            "succeeded": 2,
            "succeeded_after_retry": 1,
            "exhausted": 1,
            "attempts": 13,
            "success_rate": "66.7 %",
        }
    ]
    assert b"66.7 %" in response.content


def test_retry_now_makes_items_due_and_revives_exhausted_ones(staff_client) -> None:
    import datetime

    from django.utils import timezone

    from messaging.models import RetryQueueItem

    later = timezone.now() + datetime.timedelta(hours=1)
    pending = RetryQueueItem.objects.create(operation="x", state="pending", next_attempt_at=later)
    exhausted = RetryQueueItem.objects.create(operation="x", state="exhausted", attempts=8, max_attempts=8)
    staff_client.post(
        "/admin/messaging/retryqueueitem/",
        {"action": "retry_now", "_selected_action": [pending.pk, exhausted.pk]},
    )
    pending.refresh_from_db()
    exhausted.refresh_from_db()
    assert pending.next_attempt_at <= timezone.now()
    assert exhausted.state == "pending" and exhausted.max_attempts == 9


def test_a_user_status_page_lists_that_users_open_connections(staff_client, make_user) -> None:
    from messaging.models import Connection, UserStatus

    alice, bob = make_user("alice"), make_user("bob")
    UserStatus.objects.create(user=alice, online=True)
    Connection.objects.create(user=alice, channel_name="test.alice", kind="notifications", server_id="proc-alice")
    Connection.objects.create(user=bob, channel_name="test.bob", kind="notifications", server_id="proc-bob")
    response = staff_client.get(f"/admin/messaging/userstatus/{alice.pk}/change/")
    assert response.status_code == 200
    assert b"proc-alice" in response.content and b"proc-bob" not in response.content
    # An id that is no user status is the admin's usual "does not exist", not an error.
    assert staff_client.get("/admin/messaging/userstatus/nope/change/").status_code == 302


def test_a_conversation_page_shows_its_participants_read_only(staff_client, make_user) -> None:
    from messaging.store import conversations

    alice, bob = make_user("alice"), make_user("bob")
    conversation, _ = conversations.get_or_create_direct(alice, bob)
    response = staff_client.get(f"/admin/messaging/conversation/{conversation.pk}/change/")
    assert response.status_code == 200
    assert b"alice" in response.content and b"bob" in response.content
    assert b'name="participants-0-user"' not in response.content  # shown, not editable


def test_the_event_log_is_read_only_and_messages_list_only_message_events(staff_client, make_user) -> None:
    from messaging.models import Event
    from messaging.store import conversations, events

    alice, bob = make_user("alice"), make_user("bob")
    group = conversations.create_group(alice, "Trip", [bob.username], "g1", max_members=10).conversation
    message = events.create_message(group.pk, alice, "only this one", "m1").event
    created = Event.objects.get(conversation=group, seq=1)
    listing = staff_client.get("/admin/messaging/message/").content.decode()
    assert f"/admin/messaging/message/{message.pk}/change/" in listing
    assert f"/admin/messaging/message/{created.pk}/change/" not in listing
    assert staff_client.get("/admin/messaging/event/").status_code == 200
    assert staff_client.get("/admin/messaging/event/add/").status_code == 403
    assert staff_client.get(f"/admin/messaging/event/{created.pk}/delete/").status_code == 403


def test_a_message_page_shows_its_edit_history_escaped_and_the_versions_list_is_read_only(
    staff_client, make_user
) -> None:
    from messaging.models import MessageEdit
    from messaging.store import conversations, events

    from .message_actions import edit

    alice, bob = make_user("alice"), make_user("bob")
    conversation, _ = conversations.get_or_create_direct(alice, bob)
    message = events.create_message(conversation.pk, alice, "<b>first</b> draft", "m1").event
    edit(alice, conversation.pk, message.seq, "second draft")
    edit(alice, conversation.pk, message.seq, "final text")
    page = staff_client.get(f"/admin/messaging/message/{message.pk}/change/").content.decode()
    history = page[page.index("Edit history") :]
    assert history.index("&lt;b&gt;first&lt;/b&gt; draft") < history.index("second draft")
    assert "<b>first</b>" not in page
    listing = staff_client.get("/admin/messaging/messageedit/").content.decode()
    assert "second draft" in listing and "final text" not in listing  # earlier versions only
    version = MessageEdit.objects.first()
    assert staff_client.get("/admin/messaging/messageedit/add/").status_code == 403
    assert staff_client.get(f"/admin/messaging/messageedit/{version.pk}/delete/").status_code == 403


def test_a_message_deleted_for_everyone_shows_no_versions_in_the_admin(staff_client, make_user) -> None:
    from messaging.store import conversations, events

    from .message_actions import delete, edit

    alice, bob = make_user("alice"), make_user("bob")
    conversation, _ = conversations.get_or_create_direct(alice, bob)
    message = events.create_message(conversation.pk, alice, "first draft", "m1").event
    edit(alice, conversation.pk, message.seq, "second draft")
    delete(alice, conversation.pk, message.seq)
    page = staff_client.get(f"/admin/messaging/message/{message.pk}/change/").content.decode()
    assert "deleted for everyone: its versions were purged" in page
    assert "draft" not in page
    assert "draft" not in staff_client.get("/admin/messaging/messageedit/").content.decode()


def test_a_group_page_shows_when_a_member_left(staff_client, make_user) -> None:
    from django.utils import formats, timezone

    from messaging.models import Participant
    from messaging.store import conversations

    alice, bob = make_user("alice"), make_user("bob")
    group = conversations.create_group(alice, "Trip", ["bob"], "g1", max_members=10).conversation
    conversations.leave(bob, group.pk, "bye")
    left_at = Participant.objects.get(conversation=group, user=bob).left_at
    response = staff_client.get(f"/admin/messaging/conversation/{group.pk}/change/")
    assert b"Left at" in response.content
    assert formats.date_format(timezone.localtime(left_at), "DATETIME_FORMAT").encode() in response.content
