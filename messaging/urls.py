from django.urls import path

from . import views

urlpatterns = [
    path("messages/", views.inbox, name="inbox"),
    path("messages/api/conversations", views.api_conversations, name="api-conversations"),
    path("messages/api/users", views.api_users, name="api-users"),
    path("messages/api/<str:username>/history", views.api_history, name="api-history"),
    path("messages/api/<str:username>/send", views.api_send, name="api-send"),
    path("messages/<str:username>/", views.chat_page, name="chat"),
    path("notifications/", views.notifications_page, name="notifications"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", views.metrics_view, name="metrics"),
]
