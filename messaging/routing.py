"""The WebSocket routes. Every pattern is checked at start-up by ``RoutingValidator``."""

from django.urls import re_path

from . import consumers

# Usernames use Django's default validator's characters: letters, digits, @.+-_
websocket_urlpatterns = [
    re_path(r"^ws/chat/$", consumers.ChatConsumer.as_asgi()),
    re_path(r"^ws/chat/(?P<username>[\w.@+-]+)/$", consumers.DirectChatConsumer.as_asgi()),
    re_path(r"^ws/notifications/$", consumers.NotificationsConsumer.as_asgi()),
]
