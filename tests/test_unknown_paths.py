"""A WebSocket path no route serves is refused at the handshake (403), not a 500 and a traceback."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.urls import re_path

from bench.relay import bench_urlpatterns
from messaging.consumers import DirectChatConsumer, NotificationsConsumer
from messaging.routing import unknown_path_route, websocket_urlpatterns
from messaging.routing_validator import RoutingValidator

from .support import communicator

UNKNOWN_PATHS = ["/ws/nope/", "/ws/chat", "/ws/chat/bob/extra/", "/ws/notifications", "/", "/ws/a\nb/", "/ws/%00/"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", UNKNOWN_PATHS)
async def test_a_signed_in_handshake_to_an_unknown_path_is_refused(path: str, alice, cookies) -> None:
    comm = communicator(path, await database_sync_to_async(cookies)(alice))
    connected, _ = await comm.connect(timeout=5)
    assert not connected
    await comm.wait(timeout=3)
    assert comm.future.exception() is None


async def test_an_anonymous_handshake_to_an_unknown_path_is_refused() -> None:
    comm = communicator("/ws/nope/")
    connected, _ = await comm.connect(timeout=5)
    assert not connected


@pytest.mark.parametrize("relay", [False, True])
def test_the_project_routes_with_the_catch_all_last_pass_the_validator(relay: bool) -> None:
    routes = [*websocket_urlpatterns, *bench_urlpatterns(enabled=relay), unknown_path_route]
    assert RoutingValidator().validate(routes) == []


def test_the_project_ends_its_route_list_with_the_catch_all() -> None:
    from linkup.routing import websocket_urlpatterns as project_routes

    assert project_routes[-1] is unknown_path_route


def test_a_route_after_the_catch_all_is_flagged_as_shadowed() -> None:
    routes = [
        re_path(r"^ws/notifications/$", NotificationsConsumer.as_asgi()),
        unknown_path_route,
        re_path(r"^ws/chat/(?P<username>[\w.@+-]+)/$", DirectChatConsumer.as_asgi()),
    ]
    issues = RoutingValidator().validate(routes)
    assert len(issues) == 1
    assert issues[0].pattern == r"^ws/chat/(?P<username>[\w.@+-]+)/$" and "shadowed" in issues[0].problem
