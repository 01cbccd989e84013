"""What the narrated demos (``demo_groups``, ``demo_message_actions``) share: users, sockets, paired requests."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from django.contrib.auth import get_user_model

from bench.wsclient import ChatClient, login


def cid() -> str:
    return uuid.uuid4().hex


def ensure_users(names: tuple[str, ...], password: str) -> None:
    """The demo's users, created if missing (existing ones keep their password)."""
    users = get_user_model().objects
    for name in names:
        if not users.filter(username=name).exists():
            users.create_user(name, f"{name}@example.com", password)


class DemoBase:
    """One ``ws/chat/`` socket per user on a running server, and requests paired with their answers by ``ref``."""

    def __init__(self, url: str, password: str, say: Any) -> None:
        self.url = url
        self.password = password
        self.say = say
        self.clients: dict[str, ChatClient] = {}
        self.ref = 0

    async def open(self, name: str) -> ChatClient:
        client = ChatClient(
            self.url, await asyncio.to_thread(login, self.url, name, self.password), "", path="/ws/chat/"
        )
        await client.connect()
        self.clients[name] = client
        return client

    async def ask(self, name: str, frame: dict[str, Any]) -> dict[str, Any]:
        self.ref += 1
        ref, client = self.ref, self.clients[name]
        await client.send({**frame, "ref": ref})
        while True:
            answer = await client.next()
            if answer.get("ref") == ref:
                return answer
