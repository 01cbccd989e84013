"""The WebSocket routes. Every pattern is checked at start-up by ``RoutingValidator``."""

from typing import Any

from django.urls import re_path

from . import consumers

# Usernames use Django's default validator's characters: letters, digits, @.+-_
websocket_urlpatterns = [
    re_path(r"^ws/chat/$", consumers.ChatConsumer.as_asgi()),
    re_path(r"^ws/chat/(?P<username>[\w.@+-]+)/$", consumers.DirectChatConsumer.as_asgi()),
    re_path(r"^ws/notifications/$", consumers.NotificationsConsumer.as_asgi()),
]


async def refuse_unknown_path(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Refuse the handshake of a path no route serves: closing before accept makes daphne answer 403.

    Without it Channels' ``URLRouter`` raises ``ValueError: No route found``,
    which daphne answers with a 500 and a logged traceback, once per probe.
    """
    if (await receive())["type"] == "websocket.connect":
        await send({"type": "websocket.close"})


#: The last entry of a project's route list. It matches every path (a decoded
#: path may hold a newline, hence ``[\s\S]`` and ``\Z``), so the routing
#: validator flags any route placed after it as shadowed.
unknown_path_route = re_path(r"^[\s\S]*\Z", refuse_unknown_path)
