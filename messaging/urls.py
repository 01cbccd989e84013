from django.urls import path

from .http import api, attachments, avatars, health, message_actions, pages, profile, push, pwa, theme
from .http import settings as settings_views

urlpatterns = [
    path("messages/", pages.inbox, name="inbox"),
    path("messages/c/<int:conversation_id>/", pages.conversation_page, name="conversation"),
    path("messages/api/conversations", api.api_conversations, name="api-conversations"),
    path("messages/api/conversations/<int:conversation_id>", api.api_conversation, name="api-conversation"),
    path("messages/api/conversations/<int:conversation_id>/events", api.api_events, name="api-events"),
    path(
        "messages/api/conversations/<int:conversation_id>/history",
        api.api_conversation_history,
        name="api-conversation-history",
    ),
    path(
        "messages/api/conversations/<int:conversation_id>/messages",
        api.api_send_to_conversation,
        name="api-conversation-send",
    ),
    path("messages/api/conversations/<int:conversation_id>/read", api.api_read, name="api-read"),
    path("messages/api/conversations/<int:conversation_id>/members", api.api_add_members, name="api-add-members"),
    path(
        "messages/api/conversations/<int:conversation_id>/members/<str:username>/remove",
        api.api_remove_member,
        name="api-remove-member",
    ),
    path("messages/api/conversations/<int:conversation_id>/leave", api.api_leave, name="api-leave"),
    path("messages/api/conversations/<int:conversation_id>/rename", api.api_rename, name="api-rename"),
    # Doing things to a message (docs/protocol.md, "Message actions")
    path(
        "messages/api/conversations/<int:conversation_id>/messages/<int:seq>/edit",
        message_actions.api_edit,
        name="api-edit",
    ),
    path(
        "messages/api/conversations/<int:conversation_id>/messages/<int:seq>/edits",
        message_actions.api_edits,
        name="api-edits",
    ),
    path(
        "messages/api/conversations/<int:conversation_id>/messages/<int:seq>/delete",
        message_actions.api_delete,
        name="api-delete",
    ),
    path(
        "messages/api/conversations/<int:conversation_id>/messages/<int:seq>/react",
        message_actions.api_react,
        name="api-react",
    ),
    path(
        "messages/api/conversations/<int:conversation_id>/messages/<int:seq>/unreact",
        message_actions.api_unreact,
        name="api-unreact",
    ),
    path("messages/api/conversations/<int:conversation_id>/hide", message_actions.api_hide, name="api-hide"),
    path("messages/api/conversations/<int:conversation_id>/clear", message_actions.api_clear, name="api-clear"),
    path("messages/api/users", api.api_users, name="api-users"),
    # profiles (issue 17): only the session user's own; anyone's card
    path("messages/api/profile", profile.api_update_profile, name="api-profile"),
    path("messages/api/profile/avatar", profile.api_upload_avatar, name="api-profile-avatar"),
    path("messages/api/profile/avatar/remove", profile.api_remove_avatar, name="api-profile-avatar-remove"),
    path("messages/api/people/<str:username>", profile.api_person, name="api-person"),
    # attachments (issue 15): upload, then download checked on every request
    path(
        "messages/api/conversations/<int:conversation_id>/attachments",
        attachments.upload,
        name="api-upload-attachments",
    ),
    path("messages/attachments/<int:attachment_id>/", attachments.download, name="attachment-download"),
    path("messages/attachments/<int:attachment_id>/thumbnail", attachments.thumbnail, name="attachment-thumbnail"),
    path("messages/api/search", api.api_search, name="api-search"),
    path("messages/api/push/subscribe", push.subscribe, name="push-subscribe"),
    path("messages/api/push/unsubscribe", push.unsubscribe, name="push-unsubscribe"),
    path("messages/api/<str:username>/history", api.api_history, name="api-history"),
    path("messages/api/<str:username>/send", api.api_send, name="api-send"),
    path("messages/<str:username>/", pages.chat_page, name="chat"),
    path("notifications/", pages.notifications_page, name="notifications"),
    path("settings/", settings_views.settings_page, name="settings"),
    path("settings/theme", theme.set_theme, name="settings-theme"),
    path("manifest.webmanifest", pwa.manifest, name="manifest"),
    path("sw.js", pwa.service_worker, name="service-worker"),
    path("offline/", pwa.offline, name="offline"),
    path("avatars/<str:username>.png", avatars.avatar, name="avatar"),
    path("avatars/<int:user_id>/<str:file_name>", profile.avatar_file, name="profile-avatar"),
    path("healthz", health.healthz, name="healthz"),
    path("metrics", health.metrics_view, name="metrics"),
]
