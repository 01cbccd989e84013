"""Against a real daphne: a password change in one browser closes the sockets of the others."""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import re
import urllib.parse
import urllib.request

import pytest
import websockets

from bench.wsclient import open_socket

from .conftest import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NEW_PASSWORD = "another-linkup-e2e-password-7"


class Browser:
    """One browser's cookie jar: signs in and posts forms as the pages do (CSRF token, Referer)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def submit(self, path: str, fields: dict[str, str]) -> str:
        """GET the form at ``path``, POST ``fields`` with its CSRF token; the final URL after redirects."""
        url = self.base_url + path
        page = self.opener.open(url, timeout=10).read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        data = urllib.parse.urlencode({**fields, "csrfmiddlewaretoken": token}).encode()
        with self.opener.open(urllib.request.Request(url, data=data, headers={"Referer": url}), timeout=10) as answer:
            return answer.geturl()

    @property
    def cookie(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)


async def closed_with(socket) -> int:
    with pytest.raises(websockets.ConnectionClosed):
        while True:
            await asyncio.wait_for(socket.recv(), timeout=5)
    return socket.close_code


async def answers_ping(socket) -> bool:
    await socket.send(json.dumps({"type": "ping"}))
    while True:
        if json.loads(await asyncio.wait_for(socket.recv(), timeout=5))["type"] == "pong":
            return True


def test_a_password_change_closes_the_other_browsers_sockets_and_keeps_the_changers(daphne) -> None:
    laptop, phone = Browser(daphne.base_url), Browser(daphne.base_url)
    for browser in (laptop, phone):
        browser.submit("/accounts/login/", {"username": "alice", "password": PASSWORD})

    async def scenario() -> None:
        on_laptop = await open_socket(daphne.base_url, "/ws/chat/bob/", laptop.cookie)
        on_phone = await open_socket(daphne.base_url, "/ws/notifications/", phone.cookie)
        await on_laptop.recv()  # connected
        await on_phone.recv()  # unread_count
        landed = await asyncio.to_thread(
            phone.submit,
            "/accounts/password_change/",
            {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        )
        assert landed.endswith("/accounts/password_change/done/")
        assert await closed_with(on_laptop) == 4401
        assert await answers_ping(on_phone)
        await on_phone.close()

    asyncio.run(scenario())
