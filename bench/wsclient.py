"""A real WebSocket client for LinkUp, for end-to-end tests, demos and the benchmark.

It signs in through ``/accounts/login/`` like a browser (CSRF cookie, form
post, session cookie) and then speaks the wire contract over the
``websockets`` package, so it exercises daphne, the origin check and the
session middleware exactly as a browser does.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import re
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

import websockets


class LoginFailed(RuntimeError):
    pass


class ClientClosed(ConnectionError):
    """The socket closed while a frame was awaited."""


def ws_url(base_url: str, path: str) -> str:
    """The ``ws://`` (or ``wss://``) URL of ``path`` on the server at ``base_url``."""
    return base_url.replace("http://", "ws://").replace("https://", "wss://") + path


async def open_socket(base_url: str, path: str, cookie: str, *, open_timeout: float = 10) -> Any:
    """A socket to ``path`` signed in with ``cookie``, sent with the site's own Origin as a browser does."""
    return await websockets.connect(
        ws_url(base_url, path),
        additional_headers={"Cookie": cookie, "Origin": base_url},
        max_size=2**21,
        open_timeout=open_timeout,
    )


def login(base_url: str, username: str, password: str, *, timeout: float = 10) -> str:
    """Sign in through the login form; return the ``Cookie`` header for the session."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login_url = f"{base_url}/accounts/login/"
    page = opener.open(login_url, timeout=timeout).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if token is None:
        raise LoginFailed("the login page has no CSRF token")
    form = urllib.parse.urlencode(
        {"username": username, "password": password, "csrfmiddlewaretoken": token.group(1)}
    ).encode()
    request = urllib.request.Request(login_url, data=form, headers={"Referer": login_url})
    opener.open(request, timeout=timeout).read()
    cookies = {cookie.name: cookie.value for cookie in jar}
    if "sessionid" not in cookies:
        raise LoginFailed(f"could not sign in as {username}")
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


class ChatClient:
    """One chat socket (``ws/chat/<peer>/``, or ``ws/chat/`` with ``path``) with a frame inbox and a few helpers."""

    def __init__(self, base_url: str, cookie: str, peer: str, *, path: str | None = None) -> None:
        self.base_url = base_url
        self.cookie = cookie
        self.peer = peer
        self.path = path or f"/ws/chat/{peer}/"
        self.socket: Any = None
        self.frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._reader: asyncio.Task | None = None
        self.connected: dict[str, Any] | None = None

    @property
    def ws_url(self) -> str:
        return ws_url(self.base_url, self.path)

    async def connect(self) -> dict[str, Any] | None:
        self.socket = await open_socket(self.base_url, self.path, self.cookie)
        self.frames = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())
        if self.path.startswith("/ws/chat/"):
            self.connected = await self.expect("connected")
        return self.connected

    async def _read(self) -> None:
        try:
            async for text in self.socket:
                await self.frames.put(json.loads(text))
        except websockets.ConnectionClosed:
            pass

    @property
    def closed(self) -> bool:
        """The socket is gone (closed by either side, or its server died) and every frame it brought was read."""
        return self._reader is not None and self._reader.done() and self.frames.empty()

    async def send(self, frame: dict[str, Any]) -> None:
        await self.socket.send(json.dumps(frame))

    async def next(self, timeout: float = 10) -> dict[str, Any]:
        """The next frame; ``ClientClosed`` at once when the socket is gone and drained."""
        if not self.frames.empty():
            return self.frames.get_nowait()
        if self.closed:
            raise ClientClosed(f"the socket to {self.path} closed")
        getter = asyncio.ensure_future(self.frames.get())
        await asyncio.wait({getter, self._reader}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if getter.done():
            return getter.result()
        getter.cancel()
        if self.closed:
            raise ClientClosed(f"the socket to {self.path} closed")
        raise TimeoutError

    async def expect(
        self, frame_type: str, timeout: float = 10, where: Callable[[dict[str, Any]], bool] | None = None
    ) -> dict[str, Any]:
        """The next frame of ``frame_type`` (matching ``where``); other frames are skipped."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            frame = await self.next(max(0.01, deadline - loop.time()))
            if frame.get("type") == frame_type and (where is None or where(frame)):
                return frame

    async def sync_all(self, after: int) -> list[dict[str, Any]]:
        """Every message after ``after``, following ``has_more`` pages."""
        messages: list[dict[str, Any]] = []
        while True:
            await self.send({"type": "sync", "after": after})
            page = await self.expect("sync")
            messages += page["messages"]
            if not page["has_more"] or not page["messages"]:
                return messages
            after = page["messages"][-1]["seq"]

    async def sync_events(self, conversation: int, after: int) -> list[dict[str, Any]]:
        """On ``ws/chat/``: every event of ``conversation`` after ``after``, following ``has_more`` pages."""
        events: list[dict[str, Any]] = []
        while True:
            await self.send({"type": "sync", "conversation": conversation, "after": after})
            page = await self.expect("sync", timeout=30, where=lambda frame: frame.get("conversation") == conversation)
            events += page["events"]
            if not page["has_more"] or not page["events"]:
                return events
            after = page["events"][-1]["seq"]

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
