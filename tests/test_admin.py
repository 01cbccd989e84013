"""The admin: errors filterable and resolvable by staff, messages read-only."""

from __future__ import annotations

import pytest
from django.test import Client

from messaging.logging_utils import MessagingLogger
from messaging.models import MessagingError

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(django_user_model) -> Client:
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(admin)
    return client


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
