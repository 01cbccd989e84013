"""Signed-in sockets over the project's real ASGI application, with helpers that read like the protocol."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from channels.testing import WebsocketCommunicator
from django.test import Client

ORIGIN = b"http://localhost"
PASSWORD = "linkup-test-password"


class UnexpectedFrame(AssertionError):
    """:meth:`Socket.next` read a frame other than the one the test said comes next."""


def session_cookie(user: Any) -> str:
    """A real session for ``user``, as the login view would create it."""
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def communicator(path: str, cookie: str | None = None, origin: bytes | None = ORIGIN) -> WebsocketCommunicator:
    """A communicator over the project's real ASGI application (origin and auth checks included)."""
    from linkup.asgi import application

    headers = []
    if cookie is not None:
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    if origin is not None:
        headers.append((b"origin", origin))
    return WebsocketCommunicator(application, path, headers=headers)


class Socket:
    """A connected chat communicator with helpers that read like the protocol."""

    def __init__(self, comm: WebsocketCommunicator, connected: dict[str, Any]) -> None:
        self.comm = comm
        self.connected = connected

    async def send(self, frame: dict[str, Any]) -> None:
        await self.comm.send_json_to(frame)

    async def send_text(self, text: str) -> None:
        # send_to() refuses "", which a real client can send.
        await self.comm.send_input({"type": "websocket.receive", "text": text})

    async def receive(self, timeout: float = 3) -> dict[str, Any]:
        return await self.comm.receive_json_from(timeout=timeout)

    async def next(self, frame_type: str, timeout: float = 3, **fields: Any) -> dict[str, Any]:
        """The very next frame, which must be of ``frame_type`` with these fields.

        Strict, unlike :meth:`expect`: any other frame fails the test
        (:class:`UnexpectedFrame`), so a test can say what comes next and
        that nothing comes before it.
        """
        frame = await self.receive(timeout)
        if frame["type"] != frame_type or any(frame.get(k) != v for k, v in fields.items()):
            raise UnexpectedFrame(f"expected {frame_type} {fields or ''}, got {frame}")
        return frame

    async def expect(self, frame_type: str, timeout: float = 3, **fields: Any) -> dict[str, Any]:
        """The next frame of ``frame_type`` whose fields match; skips others (see :meth:`next` for strict)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            frame = await self.receive(max(0.01, deadline - loop.time()))
            if frame["type"] == frame_type and all(frame.get(k) == v for k, v in fields.items()):
                return frame

    async def expect_where(self, match: Callable[[dict[str, Any]], bool], timeout: float = 3) -> dict[str, Any]:
        """The next frame ``match`` accepts, whatever its type; skips others."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            frame = await self.receive(max(0.01, deadline - loop.time()))
            if match(frame):
                return frame

    async def nothing(self, timeout: float = 0.2) -> bool:
        return await self.comm.receive_nothing(timeout=timeout)

    async def drain(self, timeout: float = 0.2) -> list[dict[str, Any]]:
        frames = []
        while not await self.comm.receive_nothing(timeout=timeout):
            frames.append(await self.receive())
        return frames

    async def close(self) -> None:
        await self.comm.disconnect()
