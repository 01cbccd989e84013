"""Sign-in, sign-up and password reset are rate limited (``messaging/guards/accounts.py``).

Real requests through Django's test ``Client`` against the real cache (local
memory on the embedded default, Redis on the deployment stack), emptied
before each test by ``conftest.py``. Each client has an address of its own
(``REMOTE_ADDR``, which daphne sets from the proxy's ``X-Forwarded-For``);
the rates are small so that a test reaches them in a few requests.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.test import Client, override_settings

from messaging.guards.accounts import address_subject
from messaging.models import MessagingError
from messaging.ops import metrics

from .support import PASSWORD

pytestmark = pytest.mark.django_db

THREE = "3/60s"
WRONG = "not-the-password-1"
NEW_PASSWORD = "quiet-harbour-lantern-42"


def client_at(address: str = "10.0.0.1") -> Client:
    return Client(REMOTE_ADDR=address)


def sign_in(client: Client, username: str, password: str = PASSWORD) -> Any:
    return client.post("/accounts/login/", {"username": username, "password": password})


def signed_in(response: Any) -> bool:
    return response.status_code == 302 and response.url == "/messages/"


def assert_refused(response: Any, sentence: str) -> None:
    """A 429 page saying ``sentence`` and how long to wait, with ``Retry-After`` in whole seconds."""
    assert response.status_code == 429
    seconds = int(response["Retry-After"])
    assert seconds >= 1
    assert f"{sentence} Try again in {seconds} second" in response.content.decode()


def sign_up(client: Client, username: str) -> Any:
    fields = {"username": username, "email": f"{username}@example.com"}
    return client.post("/accounts/signup/", {**fields, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})


def ask_reset(client: Client, email: str) -> Any:
    return client.post("/accounts/password_reset/", {"email": email})


def refusals(code: str, bucket: str) -> float:
    return metrics.ACCOUNT_REFUSALS.labels(code, bucket)._value.get()


@pytest.fixture
def password_checks() -> Iterator[list[str]]:
    """The usernames whose password was checked, right or wrong: Django's sign-in signals, in order."""
    checked: list[str] = []

    def failed(sender: Any, credentials: dict[str, Any], **kwargs: Any) -> None:
        checked.append(credentials["username"])

    def succeeded(sender: Any, user: Any, **kwargs: Any) -> None:
        checked.append(user.username)

    user_login_failed.connect(failed)
    user_logged_in.connect(succeeded)
    yield checked
    user_login_failed.disconnect(failed)
    user_logged_in.disconnect(succeeded)


@pytest.fixture
def signup_on(settings: Any) -> None:
    settings.SIGNUP_ENABLED = True


# --- Sign-in ------------------------------------------------------------------------


@override_settings(MESSAGING_SIGNIN_RATE_LIMIT=THREE)
def test_past_the_failures_allowed_for_a_username_even_the_right_password_is_refused_unchecked(
    make_user, password_checks
) -> None:
    make_user("alice")
    client = client_at()
    for _ in range(3):
        assert sign_in(client, "alice", WRONG).status_code == 200
    assert password_checks == ["alice"] * 3

    response = sign_in(client, "alice")

    assert_refused(response, "Too many sign-in attempts.")
    assert password_checks == ["alice"] * 3  # refused before the password was looked at
    assert "_auth_user_id" not in client.session


@override_settings(MESSAGING_SIGNIN_RATE_LIMIT=THREE)
def test_the_username_limit_ignores_case_and_the_client_address(make_user) -> None:
    make_user("alice")
    for n, typed in enumerate(("alice", "ALICE", "Alice")):
        assert sign_in(client_at(f"10.0.0.{n + 1}"), typed, WRONG).status_code == 200

    assert_refused(sign_in(client_at("10.0.9.9"), "aLiCe"), "Too many sign-in attempts.")


@override_settings(MESSAGING_SIGNIN_RATE_LIMIT=THREE)
def test_failures_on_one_username_do_not_block_another_username_from_another_address(make_user) -> None:
    make_user("alice")
    make_user("bob")
    attacker = client_at("10.0.0.66")
    for _ in range(4):
        sign_in(attacker, "alice", WRONG)
    assert sign_in(attacker, "alice").status_code == 429

    assert signed_in(sign_in(client_at("10.0.0.2"), "bob"))


@override_settings(MESSAGING_SIGNIN_RATE_LIMIT="off", MESSAGING_SIGNIN_ADDRESS_RATE_LIMIT=THREE)
def test_the_address_limit_refuses_a_spray_of_usernames_from_one_address(make_user, password_checks) -> None:
    make_user("alice")
    sprayer = client_at("10.0.0.66")
    for name in ("ann", "ben", "cy"):
        assert sign_in(sprayer, name, WRONG).status_code == 200

    assert_refused(sign_in(sprayer, "alice"), "Too many sign-in attempts.")
    assert password_checks == ["ann", "ben", "cy"]
    assert signed_in(sign_in(client_at("10.0.0.2"), "alice"))


@override_settings(MESSAGING_SIGNIN_RATE_LIMIT=THREE)
def test_the_address_limit_does_not_use_up_the_username_allowance(make_user) -> None:
    make_user("alice")
    with override_settings(MESSAGING_SIGNIN_ADDRESS_RATE_LIMIT="1/60s"):
        sprayer = client_at("10.0.0.66")
        sign_in(sprayer, "ann", WRONG)
        for _ in range(5):
            assert sign_in(sprayer, "alice", WRONG).status_code == 429

    assert signed_in(sign_in(client_at("10.0.0.2"), "alice"))


@override_settings(MESSAGING_SIGNIN_RATE_LIMIT=THREE, MESSAGING_SIGNIN_ADDRESS_RATE_LIMIT=THREE)
def test_one_or_two_typos_then_the_right_password_signs_in(make_user) -> None:
    make_user("alice")
    client = client_at()
    sign_in(client, "alice", WRONG)
    sign_in(client, "alice", WRONG)

    assert signed_in(sign_in(client, "alice"))


@override_settings(MESSAGING_SIGNIN_RATE_LIMIT=THREE, MESSAGING_SIGNIN_ADDRESS_RATE_LIMIT=THREE)
def test_successful_sign_ins_use_up_no_allowance(make_user) -> None:
    make_user("alice")
    for _ in range(5):
        assert signed_in(sign_in(client_at(), "alice"))

    client = client_at()
    for _ in range(3):
        assert sign_in(client, "alice", WRONG).status_code == 200


@override_settings(MESSAGING_SIGNIN_RATE_LIMIT=THREE)
def test_the_admin_sign_in_still_signs_in_staff_and_refuses_everyone_else(make_user) -> None:
    make_user("alice")
    staff = make_user("root")
    staff.is_staff = True
    staff.save()

    assert client_at().post("/admin/login/", {"username": "alice", "password": PASSWORD}).status_code == 200
    client = client_at()
    response = client.post("/admin/login/", {"username": "root", "password": PASSWORD, "next": "/admin/"})
    assert response.status_code == 302 and response.url == "/admin/"
    assert int(client.session["_auth_user_id"]) == staff.pk


@override_settings(MESSAGING_SIGNIN_RATE_LIMIT=THREE)
def test_the_admin_sign_in_draws_from_the_same_allowance(make_user, password_checks) -> None:
    admin = make_user("root")
    admin.is_staff = admin.is_superuser = True
    admin.save()
    sign_in(client_at("10.0.0.1"), "root", WRONG)
    client = client_at("10.0.0.2")
    for _ in range(2):
        assert client.post("/admin/login/", {"username": "root", "password": WRONG}).status_code == 200

    response = client.post("/admin/login/", {"username": "root", "password": PASSWORD})

    assert_refused(response, "Too many sign-in attempts.")
    assert password_checks == ["root"] * 3
    assert_refused(sign_in(client_at("10.0.0.3"), "root"), "Too many sign-in attempts.")


@override_settings(MESSAGING_SIGNIN_RATE_LIMIT="off", MESSAGING_SIGNIN_ADDRESS_RATE_LIMIT="off")
def test_off_turns_the_sign_in_limits_off(make_user) -> None:
    make_user("alice")
    client = client_at()
    for _ in range(20):
        assert sign_in(client, "alice", WRONG).status_code == 200

    assert signed_in(sign_in(client, "alice"))


@override_settings(MESSAGING_SIGNIN_RATE_LIMIT="1/60s")
def test_a_sign_in_refusal_is_counted(make_user) -> None:
    before = refusals("signin_rate_limited", "signin")
    client = client_at()
    sign_in(client, "alice", WRONG)
    sign_in(client, "alice", WRONG)
    sign_in(client, "alice", WRONG)

    assert refusals("signin_rate_limited", "signin") == before + 2


# --- Sign-up ------------------------------------------------------------------------


@override_settings(MESSAGING_SIGNUP_RATE_LIMIT="2/3600s")
def test_past_the_sign_up_limit_of_an_address_no_account_is_created(signup_on, django_user_model) -> None:
    sign_up(client_at(), "dana")  # each new account is signed in: a new client for the next
    sign_up(client_at(), "erin")

    response = sign_up(client_at(), "fay")

    assert_refused(response, "Too many sign-ups from your network.")
    assert 'value="fay"' in response.content.decode()  # the form again, with what was typed
    assert sorted(django_user_model.objects.values_list("username", flat=True)) == ["dana", "erin"]
    assert signed_in(sign_up(client_at("10.0.0.2"), "fay"))


@override_settings(MESSAGING_SIGNUP_RATE_LIMIT="2/3600s")
def test_a_refused_sign_up_form_counts_toward_the_sign_up_limit(signup_on, django_user_model) -> None:
    client_at().post("/accounts/signup/", {"username": "dana"})  # incomplete: refused by the form
    sign_up(client_at(), "dana")

    assert sign_up(client_at(), "erin").status_code == 429
    assert list(django_user_model.objects.values_list("username", flat=True)) == ["dana"]


@override_settings(MESSAGING_SIGNUP_RATE_LIMIT="off")
def test_off_turns_the_sign_up_limit_off(signup_on, django_user_model) -> None:
    for n in range(12):
        assert signed_in(sign_up(client_at(), f"user{n}"))


# --- Password reset -----------------------------------------------------------------


@override_settings(MESSAGING_PASSWORD_RESET_RATE_LIMIT="2/3600s")
def test_past_the_limit_of_an_email_address_no_email_is_sent_and_the_answer_is_an_unknown_addresss(
    make_user, mailoutbox
) -> None:
    make_user("alice")
    for n in range(2):
        assert ask_reset(client_at(f"10.0.0.{n + 1}"), "alice@example.com").status_code == 302
    assert len(mailoutbox) == 2

    over = ask_reset(client_at("10.0.0.3"), "ALICE@example.com")
    unknown = ask_reset(client_at("10.0.0.4"), "nobody@example.com")

    assert len(mailoutbox) == 2
    assert (over.status_code, over.url) == (unknown.status_code, unknown.url) == (302, "/accounts/password_reset/done/")


@override_settings(MESSAGING_PASSWORD_RESET_RATE_LIMIT="2/3600s")
def test_an_email_address_without_an_account_has_the_same_limit(make_user, mailoutbox) -> None:
    for n in range(3):
        response = ask_reset(client_at(f"10.0.0.{n + 1}"), "nobody@example.com")
        assert (response.status_code, response.url) == (302, "/accounts/password_reset/done/")
    make_user("nobody")

    ask_reset(client_at("10.0.0.9"), "nobody@example.com")

    assert mailoutbox == []


@override_settings(MESSAGING_PASSWORD_RESET_RATE_LIMIT="2/3600s")
def test_past_the_reset_limit_of_a_client_address_the_page_says_so(make_user, mailoutbox) -> None:
    for name in ("alice", "bob", "carol"):
        make_user(name)
    client = client_at()
    ask_reset(client, "alice@example.com")
    ask_reset(client, "bob@example.com")

    response = ask_reset(client, "carol@example.com")

    assert_refused(response, "Too many password reset requests from your network.")
    assert [mail.to for mail in mailoutbox] == [["alice@example.com"], ["bob@example.com"]]


@override_settings(MESSAGING_PASSWORD_RESET_RATE_LIMIT="off")
def test_off_turns_the_password_reset_limits_off(make_user, mailoutbox) -> None:
    make_user("alice")
    for _ in range(8):
        ask_reset(client_at(), "alice@example.com")

    assert len(mailoutbox) == 8


# --- What every refusal shares ------------------------------------------------------


@override_settings(
    MESSAGING_SIGNIN_RATE_LIMIT="1/60s",
    MESSAGING_SIGNUP_RATE_LIMIT="1/3600s",
    MESSAGING_PASSWORD_RESET_RATE_LIMIT="1/3600s",
)
def test_a_refusal_stores_no_messaging_error(signup_on, make_user) -> None:
    make_user("alice")
    for _ in range(3):
        sign_in(client_at(), "alice", WRONG)
        sign_up(client_at(), "dana")
        ask_reset(client_at(), "alice@example.com")
        ask_reset(client_at("10.0.0.2"), "alice@example.com")

    assert sign_in(client_at(), "alice").status_code == 429
    assert sign_up(client_at(), "erin").status_code == 429
    assert ask_reset(client_at(), "alice@example.com").status_code == 429
    assert MessagingError.objects.count() == 0


def test_an_ipv6_client_is_limited_by_its_64_network() -> None:
    assert address_subject("2001:db8:1:2:aaaa::1") == address_subject("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert address_subject("2001:db8:1:3::1") != address_subject("2001:db8:1:2::1")
    assert address_subject("::ffff:192.0.2.7") == address_subject("192.0.2.7") == "192.0.2.7"
