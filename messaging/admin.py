"""The admin: failures to inspect and resolve, messages and conversations to read."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import Connection, Conversation, Message, MessagingError, Participant, UserStatus


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by the messaging system itself: look, don't touch."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(MessagingError)
class MessagingErrorAdmin(admin.ModelAdmin):
    list_display = ("occurred_at", "category", "severity", "short_message", "user", "resolved")
    list_filter = ("category", "severity", "resolved", ("occurred_at", admin.DateFieldListFilter))
    search_fields = ("message",)
    date_hierarchy = "occurred_at"
    readonly_fields = ("category", "severity", "message", "context", "user", "occurred_at")
    fields = readonly_fields + ("resolved", "resolution_notes")
    actions = ["mark_resolved"]
    list_select_related = ("user",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="message")
    def short_message(self, obj: MessagingError) -> str:
        return obj.message[:120]

    @admin.action(description="Mark selected errors as resolved")
    def mark_resolved(self, request: HttpRequest, queryset: QuerySet[MessagingError]) -> None:
        updated = queryset.filter(resolved=False).update(resolved=True)
        self.message_user(request, f"{updated} error(s) marked as resolved.")


class ParticipantInline(admin.TabularInline):
    model = Participant
    extra = 0
    can_delete = False
    readonly_fields = ("user", "joined_at")

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "direct_key", "last_seq", "last_message_at", "created_at")
    list_filter = ("kind",)
    inlines = [ParticipantInline]


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ("id", "conversation", "seq", "sender", "recipient", "status", "created_at")
    list_filter = ("status", ("created_at", admin.DateFieldListFilter))
    search_fields = ("content", "client_id", "sender__username", "recipient__username")
    list_select_related = ("sender", "recipient", "conversation")
    raw_id_fields = ("conversation", "sender", "recipient")


@admin.register(UserStatus)
class UserStatusAdmin(ReadOnlyAdmin):
    list_display = ("user", "online", "last_seen")
    list_filter = ("online",)
    search_fields = ("user__username",)


@admin.register(Connection)
class ConnectionAdmin(ReadOnlyAdmin):
    list_display = ("user", "kind", "server_id", "connected_at", "last_heartbeat")
    list_filter = ("kind", "server_id")
    search_fields = ("user__username", "channel_name")
