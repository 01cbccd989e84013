"""The admin's support page (issue 17): one page per user with their profile, preferences, conversations, sockets and errors."""

from __future__ import annotations

import pytest
from django.test import Client

from messaging.logging_utils import MessagingLogger
from messaging.models import Connection, NotificationPreference, Profile
from messaging.store import conversations

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def support_page(alice, bob, staff_client):
    """Alice with something in every section, and her support page as staff sees it."""
    profile = Profile.for_user(alice.pk)
    profile.display_name, profile.status_line = "Alice Liddell", "In Wonderland"
    profile.save()
    NotificationPreference.objects.create(user=alice, kind="message", email=False, timezone="Europe/Paris")
    conversation, _ = conversations.get_or_create_direct(alice, bob)
    Connection.objects.create(user=alice, channel_name="specific.test!abc", kind="chat", server_id="daphne-7")
    MessagingLogger().error("delivery_error", "smtp refused alice's mail", user=alice)
    response = staff_client.get(f"/admin/messaging/profile/for-user/{alice.pk}/", follow=True)
    assert response.status_code == 200
    return response.content.decode(), conversation


def test_the_support_page_shows_the_profile(support_page) -> None:
    page, _ = support_page
    assert 'value="Alice Liddell"' in page and "In Wonderland" in page and "letter avatar" in page


def test_the_support_page_shows_the_notification_preferences(support_page) -> None:
    page, _ = support_page
    assert "Notification preferences" in page and "Europe/Paris" in page


def test_the_support_page_shows_the_conversations_with_their_cursors(support_page) -> None:
    page, conversation = support_page
    assert f"/admin/messaging/conversation/{conversation.pk}/change/" in page
    assert "delivered" in page and "read" in page


def test_the_support_page_shows_open_sockets_and_presence(support_page) -> None:
    page, _ = support_page
    assert "daphne-7" in page and "Presence:" in page


def test_the_support_page_shows_recent_errors(support_page) -> None:
    page, _ = support_page
    assert "smtp refused alice&#x27;s mail" in page


def test_the_user_page_links_to_the_support_page(alice, staff_client) -> None:
    page = staff_client.get(f"/admin/auth/user/{alice.pk}/change/").content.decode()
    assert f"/admin/messaging/profile/for-user/{alice.pk}/" in page


def test_the_support_page_is_for_staff_only(alice) -> None:
    client = Client()
    client.force_login(alice)
    response = client.get(f"/admin/messaging/profile/for-user/{alice.pk}/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
