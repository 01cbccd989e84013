"""``create_demo_users``: creates what is missing, leaves existing users alone unless ``--reset``.

``scripts/start`` runs it on every start, so running it again must not undo
a changed password or sign anyone out.
"""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.test import Client

pytestmark = pytest.mark.django_db

DEMO_PASSWORD = "linkup-demo"


def demo_users(*args: str) -> str:
    out = io.StringIO()
    call_command("create_demo_users", *args, stdout=out)
    return out.getvalue()


def sign_in(username: str, password: str = DEMO_PASSWORD) -> Client:
    """A client signed in through the login form: a real session row and its cookie."""
    client = Client()
    response = client.post("/accounts/login/", {"username": username, "password": password})
    assert response.status_code == 302 and response.url == "/messages/", "sign-in failed"
    assert client.cookies["sessionid"].value
    return client


def signed_in(client: Client) -> bool:
    return client.get("/messages/").status_code == 200


def test_the_first_run_creates_the_demo_users_and_prints_them_with_the_password(django_user_model) -> None:
    out = demo_users()

    for name in ("alice", "bob", "carol", "admin"):
        assert f"created {name:<6} password: {DEMO_PASSWORD}" in out
    users = {u.username: u for u in django_user_model.objects.all()}
    assert sorted(users) == ["admin", "alice", "bob", "carol"]
    assert users["admin"].is_superuser and not users["alice"].is_staff
    assert all(u.check_password(DEMO_PASSWORD) and u.is_active for u in users.values())


def test_running_it_again_leaves_a_signed_in_session_signed_in(django_user_model) -> None:
    demo_users()
    client = sign_in("alice")

    out = demo_users()

    assert signed_in(client)
    assert f"kept    alice  password unchanged (--reset sets it to {DEMO_PASSWORD})" in out


def test_running_it_again_keeps_a_password_the_user_changed(django_user_model) -> None:
    demo_users()
    alice = django_user_model.objects.get(username="alice")
    alice.set_password("alice-chose-this-one")
    alice.save()

    demo_users("--password", "something-else")

    alice.refresh_from_db()
    assert alice.check_password("alice-chose-this-one")


def test_it_creates_a_demo_user_that_is_missing_and_keeps_the_others(django_user_model) -> None:
    demo_users()
    django_user_model.objects.filter(username="carol").delete()

    out = demo_users()

    assert "created carol " in out and "kept    bob " in out
    assert django_user_model.objects.get(username="carol").check_password(DEMO_PASSWORD)


def test_reset_sets_the_password_again_and_reactivates(django_user_model) -> None:
    demo_users()
    alice = django_user_model.objects.get(username="alice")
    alice.set_password("alice-chose-this-one")
    alice.is_active = False
    alice.save()

    out = demo_users("--reset")

    assert f"reset   alice  password: {DEMO_PASSWORD}" in out
    alice.refresh_from_db()
    assert alice.is_active and alice.check_password(DEMO_PASSWORD)
    assert signed_in(sign_in("alice"))


def test_reset_signs_out_the_sessions_of_the_demo_users(django_user_model) -> None:
    demo_users()
    client = sign_in("bob")

    demo_users("--reset")

    assert not signed_in(client)
