from django.urls import path

from .http import api, health, pages

urlpatterns = [
    path("messages/", pages.inbox, name="inbox"),
    path("messages/api/conversations", api.api_conversations, name="api-conversations"),
    path("messages/api/users", api.api_users, name="api-users"),
    path("messages/api/<str:username>/history", api.api_history, name="api-history"),
    path("messages/api/<str:username>/send", api.api_send, name="api-send"),
    path("messages/c/<int:conversation_id>/", pages.conversation_page, name="conversation"),
    path("messages/<str:username>/", pages.chat_page, name="chat"),
    path("notifications/", pages.notifications_page, name="notifications"),
    path("healthz", health.healthz, name="healthz"),
    path("metrics", health.metrics_view, name="metrics"),
]
