"""Accounts: sign-up, password change, password reset by email, and what deactivation does.

Sign-in, password change and the reset flow are Django's views; these tests
pin down what LinkUp adds or relies on (sign-up and its setting, the reset
link's base, the failure record, sessions ending) through real requests.
People search leaving deactivated users out is in test_pages.py
(``test_user_search_never_offers_yourself_or_inactive_users``).
"""

from __future__ import annotations

import email
import re
import time

import pytest
from aiosmtpd.controller import Controller
from django.test import Client

from bench.server import free_port
from messaging.models import MessagingError

from .support import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "quiet-harbour-lantern-42"
SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


@pytest.fixture
def signup_on(settings) -> None:
    settings.SIGNUP_ENABLED = True


@pytest.fixture
def signup_off(settings) -> None:
    settings.SIGNUP_ENABLED = False


def sign_up(client: Client, **fields: str):
    data = {
        "username": "dana",
        "email": "dana@example.com",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
        **fields,
    }
    return client.post("/accounts/signup/", data)


def signed_in(client: Client) -> bool:
    """Whether the client's session still opens a signed-in page (a sign-in redirect otherwise)."""
    return client.get("/messages/").status_code == 200


def sign_in(username: str, password: str = PASSWORD) -> Client:
    """A client signed in through the login form: a real session row and cookie."""
    client = Client()
    response = client.post("/accounts/login/", {"username": username, "password": password})
    assert response.status_code == 302 and response.url == "/messages/", "sign-in failed"
    return client


# --- Sign-up ------------------------------------------------------------------------


def test_signing_up_creates_the_account_signs_it_in_and_lands_on_the_inbox(
    client, signup_on, django_user_model
) -> None:
    response = sign_up(client)

    assert response.status_code == 302 and response.url == "/messages/"
    user = django_user_model.objects.get(username="dana")
    assert user.email == "dana@example.com" and user.check_password(NEW_PASSWORD)
    assert user.is_active and not user.is_staff and not user.is_superuser
    assert int(client.session["_auth_user_id"]) == user.pk
    assert signed_in(client)


def test_the_signup_page_asks_for_username_email_and_password_twice_in_the_app_layout(client, signup_on) -> None:
    response = client.get("/accounts/signup/")

    assert response.status_code == 200
    html = response.content.decode()
    for name in ("username", "email", "password1", "password2"):
        assert f'name="{name}"' in html
    assert 'autocomplete="new-password"' in html and 'autocomplete="email"' in html
    assert "messaging/app.css" in html and "Create account" in html
    assert 'href="/accounts/login/"' in html


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        ({"username": "Dana", "email": "other@example.com"}, "username", "unique"),
        ({"username": "dora", "email": "DANA@Example.com"}, "email", "email_taken"),
        ({"username": "dora", "email": ""}, "email", "required"),
        (
            {"username": "dora", "email": "dora@example.com", "password1": "password", "password2": "password"},
            "password2",
            "password_too_common",
        ),
        (
            {"username": "dora", "email": "dora@example.com", "password2": "something-else-entirely"},
            "password2",
            "password_mismatch",
        ),
    ],
    ids=[
        "username-taken-in-another-case",
        "email-taken-in-another-case",
        "no-email",
        "common-password",
        "passwords-differ",
    ],
)
def test_signup_refuses_a_taken_name_or_address_and_a_weak_or_mistyped_password_and_creates_no_one(
    client, signup_on, make_user, django_user_model, fields, field, code
) -> None:
    make_user("dana")

    response = sign_up(client, **fields)

    assert response.status_code == 200
    assert code in [error.code for error in response.context["form"].errors.as_data()[field]]
    assert list(django_user_model.objects.values_list("username", flat=True)) == ["dana"]
    assert "_auth_user_id" not in client.session


def test_a_signed_in_user_opening_signup_is_sent_to_the_inbox(client, signup_on, make_user) -> None:
    client.force_login(make_user("alice"))
    response = client.get("/accounts/signup/")
    assert response.status_code == 302 and response.url == "/messages/"


def test_with_signup_off_the_page_answers_404_and_creates_no_one(client, signup_off, django_user_model) -> None:
    assert client.get("/accounts/signup/").status_code == 404
    assert sign_up(client).status_code == 404
    assert not django_user_model.objects.exists()


@pytest.mark.parametrize("enabled", [True, False], ids=["on", "off"])
def test_the_login_page_links_to_signup_only_when_it_is_on(client, settings, enabled) -> None:
    settings.SIGNUP_ENABLED = enabled
    html = client.get("/accounts/login/").content.decode()
    assert ('href="/accounts/signup/"' in html) is enabled
    assert 'href="/accounts/password_reset/"' in html


# --- Password change --------------------------------------------------------------


def test_changing_the_password_keeps_this_session_and_signs_out_the_others(make_user) -> None:
    alice = make_user("alice")
    here, elsewhere = sign_in("alice"), sign_in("alice")

    response = here.post(
        "/accounts/password_change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 302 and response.url == "/accounts/password_change/done/"
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    assert signed_in(here)
    assert not signed_in(elsewhere)


def test_changing_the_password_needs_the_current_one(make_user) -> None:
    alice = make_user("alice")
    client = sign_in("alice")

    response = client.post(
        "/accounts/password_change/",
        {"old_password": "not-it", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 200
    assert "old_password" in response.context["form"].errors
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_the_password_change_page_needs_sign_in(client) -> None:
    response = client.get("/accounts/password_change/")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/?next=")


def test_every_signed_in_page_header_links_to_change_password(make_user) -> None:
    client = Client()
    client.force_login(make_user("alice"))
    for path in ("/messages/", "/notifications/", "/accounts/password_change/"):
        html = client.get(path).content.decode()
        assert re.search(r'<a class="icon-button" href="/accounts/password_change/"[^>]*>', html), path
        assert '<span class="visually-hidden">Change password</span>' in html


# --- Password reset by email ----------------------------------------------------------


def reset_link(body: str, site_url: str) -> str:
    """The path of the reset link in an email body, which must start with ``site_url``."""
    match = re.search(re.escape(site_url) + r"(/accounts/reset/[^/\s]+/[^/\s]+/)", body)
    assert match, body
    return match.group(1)


def test_the_reset_email_links_to_the_site_url_and_the_link_sets_a_new_password(
    client, settings, mailoutbox, make_user
) -> None:
    settings.MESSAGING_SITE_URL = "https://chat.example.com/"
    make_user("alice")

    response = client.post("/accounts/password_reset/", {"email": "Alice@Example.com"})

    assert response.status_code == 302 and response.url == "/accounts/password_reset/done/"
    (mail,) = mailoutbox
    assert mail.to == ["alice@example.com"] and mail.subject == "Reset your LinkUp password"
    # The request came to http://testserver: the link is not built from the Host header.
    link = reset_link(mail.body, "https://chat.example.com")
    form_page = client.get(link)
    assert form_page.status_code == 302 and form_page.url.endswith("/set-password/")
    done = client.post(form_page.url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302 and done.url == "/accounts/reset/done/"
    sign_in("alice", NEW_PASSWORD)


def test_a_reset_link_works_once(client, mailoutbox, make_user) -> None:
    make_user("alice")
    client.post("/accounts/password_reset/", {"email": "alice@example.com"})
    link = reset_link(mailoutbox[0].body, "http://127.0.0.1:8000")
    form_page = client.get(link)
    client.post(form_page.url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    again = Client().get(link, follow=True)

    assert again.status_code == 200 and again.context["validlink"] is False
    assert "This link no longer works" in again.content.decode()


def test_no_reset_email_goes_to_an_unknown_or_deactivated_address_and_the_page_does_not_tell(
    client, mailoutbox, make_user
) -> None:
    gone = make_user("alfred")
    gone.is_active = False
    gone.save()
    for address in ("nobody@example.com", "alfred@example.com"):
        response = client.post("/accounts/password_reset/", {"email": address})
        assert response.status_code == 302 and response.url == "/accounts/password_reset/done/"
    assert mailoutbox == []


class Inbox:
    """An aiosmtpd handler that keeps what it accepts."""

    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


def test_with_an_smtp_server_configured_the_reset_email_goes_out_by_smtp(client, settings, make_user) -> None:
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        settings.EMAIL_BACKEND, settings.EMAIL_HOST, settings.EMAIL_PORT = SMTP_BACKEND, "127.0.0.1", smtp.port
        make_user("alice")

        response = client.post("/accounts/password_reset/", {"email": "alice@example.com"})

        assert response.status_code == 302
        deadline = time.monotonic() + 10
        while not inbox.messages and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        smtp.stop()
    (mail,) = inbox.messages
    assert mail["To"] == "alice@example.com" and mail["Subject"] == "Reset your LinkUp password"
    reset_link(mail.get_payload(decode=True).decode(), "http://127.0.0.1:8000")


def test_a_reset_email_that_cannot_be_sent_is_recorded_and_the_page_does_not_tell(client, settings, make_user) -> None:
    settings.EMAIL_BACKEND, settings.EMAIL_HOST, settings.EMAIL_PORT = SMTP_BACKEND, "127.0.0.1", free_port()
    settings.EMAIL_TIMEOUT = 3
    alice = make_user("alice")

    response = client.post("/accounts/password_reset/", {"email": "alice@example.com"})

    assert response.status_code == 302 and response.url == "/accounts/password_reset/done/"
    # Only this request's rows: a background task of an earlier test may still record its own.
    (error,) = MessagingError.objects.filter(user=alice)
    assert error.category == "connection_error" and error.user_id == alice.pk
    assert error.message == "password reset email could not be sent"
    assert "ConnectionRefusedError" in error.context["exception"]


# --- Deactivated users ------------------------------------------------------------------


def test_a_deactivated_user_cannot_sign_in(client, make_user) -> None:
    alice = make_user("alice")
    alice.is_active = False
    alice.save()

    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})

    assert response.status_code == 200
    assert [error.code for error in response.context["form"].non_field_errors().as_data()] == ["invalid_login"]
    assert "_auth_user_id" not in client.session
    assert not signed_in(client)


def test_deactivating_a_user_signs_out_their_open_sessions(make_user) -> None:
    alice = make_user("alice")
    client = sign_in("alice")
    alice.is_active = False
    alice.save()
    assert not signed_in(client)
