"""The WebSocket routes. Every pattern is checked at start-up by ``RoutingValidator``."""

from django.urls import re_path

from . import consumers
from .bench.relay import bench_urlpatterns

# Usernames use Django's default validator's characters: letters, digits, @.+-_
websocket_urlpatterns = [
    re_path(r"^ws/chat/(?P<username>[\w.@+-]+)/$", consumers.ChatConsumer.as_asgi()),
    re_path(r"^ws/notifications/$", consumers.NotificationsConsumer.as_asgi()),
]

# The benchmark's bare relay, mounted only when MESSAGING_BENCH_RELAY is on.
websocket_urlpatterns += bench_urlpatterns()
