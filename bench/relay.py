"""The bare relay the benchmark compares LinkUp with.

It is the Channels tutorial's chat room and nothing more: an authenticated
socket joins a group, and every text frame it sends is group-sent verbatim to
every socket of the group (the sender's included). No database, no
validation, no serializer. Its handshake goes through the same
``AllowedHostsOriginValidator`` and ``AuthMiddlewareStack`` as LinkUp's (the
session lookup is the only database work), so the ratio LinkUp / relay is the
cost of what LinkUp adds on top of the transport.

The route is mounted only when the ``MESSAGING_BENCH_RELAY`` setting is on
(the benchmark's own daphne turns it on); a normal deployment never serves it.
"""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.urls import re_path

RELAY_PATH = "ws/bench/relay/{room}/"


def relay_group(room: str) -> str:
    return f"bench-relay.{room}"


class RelayConsumer(AsyncWebsocketConsumer):
    """``ws/bench/relay/<room>/``: receive text, group-send it, forward it."""

    #: route kwargs the URL pattern must provide (checked by the routing validator)
    url_kwargs: tuple[str, ...] = ("room",)

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()  # before accept: daphne answers 403
            return
        self.group = relay_group(self.scope["url_route"]["kwargs"]["room"])
        self.groups = [self.group]  # discarded by AsyncWebsocketConsumer on disconnect
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is not None:
            await self.channel_layer.group_send(self.group, {"type": "relay.message", "text": text_data})

    async def relay_message(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["text"])


def relay_enabled() -> bool:
    return bool(getattr(settings, "MESSAGING_BENCH_RELAY", False))


def bench_urlpatterns(enabled: bool | None = None) -> list[Any]:
    """The relay's route when the benchmark relay is enabled, else nothing."""
    if not (relay_enabled() if enabled is None else enabled):
        return []
    return [re_path("^" + RELAY_PATH.format(room=r"(?P<room>[\w-]+)") + "$", RelayConsumer.as_asgi())]
