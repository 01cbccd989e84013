"""The WebSocket routes. Every pattern is checked at start-up by ``RoutingValidator``."""

from collections.abc import Awaitable, Callable
from typing import Any

from django.urls import URLPattern, re_path

from . import consumers


def websocket_route(pattern: str, application: Callable[..., Awaitable[None]]) -> URLPattern:
    """A route of Channels' ``URLRouter``: Django's ``re_path`` to an ASGI application, as Channels documents."""
    # django-stubs types re_path for HTTP views only; URLRouter takes ASGI applications
    return re_path(pattern, application)  # type: ignore[arg-type]  # an ASGI app, not a view: see above


# Usernames use Django's default validator's characters: letters, digits, @.+-_
websocket_urlpatterns = [
    websocket_route(r"^ws/chat/$", consumers.ChatConsumer.as_asgi()),
    websocket_route(r"^ws/chat/(?P<username>[\w.@+-]+)/$", consumers.DirectChatConsumer.as_asgi()),
    websocket_route(r"^ws/notifications/$", consumers.NotificationsConsumer.as_asgi()),
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
unknown_path_route = websocket_route(r"^[\s\S]*\Z", refuse_unknown_path)
