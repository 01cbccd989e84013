"""The signed-in user comes with their profile: a socket's ``connected`` frame reads neither again."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore

from messaging.http.auth_backend import ModelBackendWithProfile
from messaging.models import Profile
from messaging.store import profiles

from .support import communicator

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_backend_reads_the_user_with_their_profile(alice, django_assert_num_queries) -> None:
    Profile.objects.create(user=alice, display_name="Alice A.")
    with django_assert_num_queries(1):
        user = ModelBackendWithProfile().get_user(alice.pk)
        assert user.messaging_profile.display_name == "Alice A."


def test_the_backend_knows_a_user_without_a_profile_has_none(alice, django_assert_num_queries) -> None:
    with django_assert_num_queries(1):
        user = ModelBackendWithProfile().get_user(alice.pk)
        assert profiles.profile_loaded(user)
        assert not hasattr(user, "messaging_profile")


def test_the_backend_does_not_sign_in_an_inactive_user(alice) -> None:
    alice.is_active = False
    alice.save()
    assert ModelBackendWithProfile().get_user(alice.pk) is None


def old_session_cookie(user: Any) -> str:
    """A session signed in before this backend existed: stored with Django's ``ModelBackend``."""
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return session.session_key


@pytest.mark.parametrize(("signed_in", "reads_again"), [("now", False), ("before", True)])
async def test_the_connected_frame_shows_the_profile_read_with_the_user_or_again_for_an_older_session(
    signed_in, reads_again, alice, cookies, monkeypatch
) -> None:
    await database_sync_to_async(Profile.objects.create)(user=alice, display_name="Alice A.")
    read_again = []
    original = profiles.user_with_profile

    def counted(user_id: int) -> Any:
        read_again.append(user_id)
        return original(user_id)

    monkeypatch.setattr(profiles, "user_with_profile", counted)
    cookie = await database_sync_to_async(cookies if signed_in == "now" else old_session_cookie)(alice)
    comm = communicator("/ws/chat/", cookie)
    assert (await comm.connect(timeout=5))[0]
    connected = await comm.receive_json_from(timeout=5)
    assert connected["type"] == "connected"
    assert connected["user"]["display_name"] == "Alice A."
    assert read_again == ([alice.pk] if reads_again else [])
    await comm.disconnect()
