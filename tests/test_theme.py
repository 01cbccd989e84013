"""The theme (issue 17): stored on the profile, rendered by the server, pushed to every tab of its user."""

from __future__ import annotations

import re
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from messaging.models import MessagingError, Profile
from tests.servers import ROOT

pytestmark = pytest.mark.django_db(transaction=True)

THEME_URL = "/settings/theme"


def html_theme(page: str) -> str:
    return re.search(r'<html lang="en" data-theme="([a-z]+)">', page).group(1)


def color_scheme(page: str) -> str:
    return re.search(r'<meta name="color-scheme" content="([a-z ]+)">', page).group(1)


def test_a_user_who_never_chose_wears_the_system_theme_and_no_profile_row_is_made(alice) -> None:
    assert Profile.theme_of(alice.pk) == "system"
    assert not Profile.objects.filter(user=alice).exists()


def test_a_theme_chosen_by_form_post_is_stored_and_leads_back_to_settings_with_the_device_cookie(
    client: Client, alice
) -> None:
    client.force_login(alice)
    answer = client.post(THEME_URL, {"theme": "dark"})
    assert answer.status_code == 302 and answer["Location"] == "/settings/"
    assert Profile.objects.get(user=alice).theme == "dark"
    assert answer.cookies["linkup_theme"].value == "dark"
    assert "Theme: Dark." in client.get("/settings/").content.decode()


def test_a_theme_chosen_by_fetch_is_answered_with_json(client: Client, alice) -> None:
    client.force_login(alice)
    answer = client.post(THEME_URL, {"theme": "light"}, headers={"Accept": "application/json"})
    assert answer.status_code == 200
    assert answer.json()["type"] == "settings"
    assert answer.json()["settings"]["theme"] == "light"
    assert Profile.objects.get(user=alice).theme == "light"


def test_an_unknown_theme_is_refused_with_a_coded_error_stores_nothing_and_is_recorded(client: Client, alice) -> None:
    client.force_login(alice)
    client.post(THEME_URL, {"theme": "dark"})
    answer = client.post(THEME_URL, {"theme": "<b>neon</b>"}, headers={"Accept": "application/json"})
    assert answer.status_code == 400
    body = answer.json()
    assert body["type"] == "error" and body["code"] == "invalid_frame" and "system, light, dark" in body["detail"]
    assert "linkup_theme" not in answer.cookies
    assert Profile.objects.get(user=alice).theme == "dark"
    assert MessagingError.objects.filter(user=alice, category="validation_error").exists()


def test_an_unknown_theme_by_form_post_says_not_saved_on_the_settings_page(client: Client, alice) -> None:
    client.force_login(alice)
    answer = client.post(THEME_URL, {"theme": ""}, follow=True)
    assert "Not saved: theme must be one of system, light, dark." in answer.content.decode()
    assert Profile.theme_of(alice.pk) == "system"


def test_choosing_a_theme_needs_a_sign_in_and_a_post(client: Client, alice) -> None:
    answer = client.post(THEME_URL, {"theme": "dark"})
    assert answer.status_code == 302 and answer["Location"].startswith("/accounts/login/")
    client.force_login(alice)
    assert client.get(THEME_URL).status_code == 405
    assert Profile.theme_of(alice.pk) == "system"


@pytest.mark.parametrize("path", ["/messages/", "/settings/", "/notifications/", "/accounts/password_change/"])
def test_every_signed_in_page_is_rendered_in_the_users_theme(client: Client, alice, path: str) -> None:
    client.force_login(alice)
    client.post(THEME_URL, {"theme": "dark"})
    client.cookies.pop("linkup_theme")  # the profile decides for a signed-in user, not the device
    page = client.get(path).content.decode()
    assert html_theme(page) == "dark" and color_scheme(page) == "dark"
    assert 'src="/static/messaging/js/theme.js"' in page


def test_the_system_theme_leaves_the_colours_to_the_device(client: Client, alice) -> None:
    client.force_login(alice)
    page = client.get("/messages/").content.decode()
    assert html_theme(page) == "system" and color_scheme(page) == "light dark"


@pytest.mark.parametrize("path", ["/accounts/login/", "/accounts/signup/", "/accounts/password_reset/"])
def test_signed_out_pages_wear_the_devices_last_theme_from_its_cookie(client: Client, settings, path: str) -> None:
    settings.SIGNUP_ENABLED = True  # off by default on the deployment stack
    client.cookies["linkup_theme"] = "dark"
    assert html_theme(client.get(path).content.decode()) == "dark"
    client.cookies["linkup_theme"] = '"><script>'
    assert html_theme(client.get(path).content.decode()) == "system"


def test_the_settings_page_offers_the_three_themes_with_the_users_checked(client: Client, alice) -> None:
    client.force_login(alice)
    client.post(THEME_URL, {"theme": "light"})
    page = client.get("/settings/").content.decode()
    choices = re.findall(r'<input type="radio" name="theme" value="([a-z]+)"( checked)?>', page)
    assert choices == [("system", ""), ("light", " checked"), ("dark", "")]
    assert f'action="{THEME_URL}"' in page


def test_the_cached_offline_page_names_no_theme_and_applies_the_devices_one_by_script(client: Client) -> None:
    page = client.get("/offline/").content.decode()
    assert "data-theme" not in page and color_scheme(page) == "light dark"
    assert 'src="/static/messaging/js/theme.js"' in page


def test_every_two_theme_colour_has_a_light_fallback_for_browsers_without_light_dark() -> None:
    css = (ROOT / "messaging" / "static" / "messaging" / "app.css").read_text()
    both = dict(re.findall(r"^  (--[a-z0-9-]+): light-dark\((.+)\);$", css, re.M))
    fallback_block = css[css.index("@supports not (color: light-dark(#000, #fff))") :]
    fallback_block = fallback_block[: fallback_block.index("\n}\n")]
    fallback = dict(re.findall(r"^    (--[a-z0-9-]+): (.+);$", fallback_block, re.M))
    assert len(both) > 30
    assert set(fallback) == set(both)
    for name, values in both.items():
        assert values.startswith(fallback[name] + ","), f"{name}: the fallback is not the light value"


async def post_theme(user: Any, theme: str) -> int:
    def post() -> int:
        client = Client()
        client.force_login(user)
        return client.post(THEME_URL, {"theme": theme}, headers={"Accept": "application/json"}).status_code

    return await database_sync_to_async(post)()


async def test_a_theme_change_reaches_every_socket_of_its_user_and_nobody_elses(open_socket, alice, bob) -> None:
    chat = await open_socket(alice, "/ws/chat/")
    bell = await open_socket(alice, "/ws/notifications/")
    other = await open_socket(bob, "/ws/chat/")
    assert await post_theme(alice, "dark") == 200
    assert (await chat.expect("settings"))["settings"]["theme"] == "dark"
    assert (await bell.expect("settings"))["settings"]["theme"] == "dark"
    assert all(frame["type"] != "settings" for frame in await other.drain())


async def test_a_settings_frame_from_a_client_is_refused_and_changes_nothing(open_socket, alice, bob) -> None:
    mallory_socket = await open_socket(bob, "/ws/chat/")
    alice_socket = await open_socket(alice, "/ws/chat/")
    await mallory_socket.send({"type": "settings", "theme": "dark", "user": alice.get_username()})
    error = await mallory_socket.expect("error")
    assert error["code"] == "invalid_frame"
    assert all(frame["type"] != "settings" for frame in await alice_socket.drain())
    assert await database_sync_to_async(Profile.theme_of)(alice.pk) == "system"
    assert await database_sync_to_async(Profile.theme_of)(bob.pk) == "system"
