"""The admin: failures to inspect and resolve, messages and conversations to read."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import Greatest
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from .error_models import ErrorCategory
from .models import (
    ArchivedEvent,
    Attachment,
    Connection,
    Conversation,
    Event,
    Message,
    MessageEdit,
    MessagingError,
    Notification,
    NotificationPreference,
    Participant,
    PushSubscription,
    RetryQueueItem,
    UserStatus,
)
from .ops.archive import archive
from .retry_handler import retry_backlog
from .store.attachments import delete_attachments


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by the messaging system itself: look, don't touch."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


def error_counts() -> list[dict[str, Any]]:
    """MessagingError records per category in the last hour and the last day."""
    now = timezone.now()
    hour, day = now - datetime.timedelta(hours=1), now - datetime.timedelta(days=1)
    rows = (
        MessagingError.objects.filter(occurred_at__gte=day)
        .values("category")
        .annotate(
            last_hour=Count("id", filter=Q(occurred_at__gte=hour)),
            last_day=Count("id"),
            unresolved=Count("id", filter=Q(resolved=False)),
        )
    )
    counted = {row["category"]: row for row in rows}
    return [
        {**counted.get(category.value, {"last_hour": 0, "last_day": 0, "unresolved": 0}), "category": category}
        for category in ErrorCategory
    ]


@admin.register(MessagingError)
class MessagingErrorAdmin(admin.ModelAdmin):
    list_display = ("occurred_at", "category", "severity", "short_message", "user", "message_ref", "resolved")
    list_filter = ("category", "severity", "resolved", ("occurred_at", admin.DateFieldListFilter))
    search_fields = ("message",)
    date_hierarchy = "occurred_at"
    readonly_fields = ("category", "severity", "message", "context", "user", "message_ref", "occurred_at")
    fields = readonly_fields + ("resolved", "resolution_notes")
    actions = ["mark_resolved"]
    list_select_related = ("user", "message_ref")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """The operator's console: error rates, breakers of every process, the retry backlog."""
        from .ops.metrics import breaker_states

        extra_context = {
            **(extra_context or {}),
            "error_counts": error_counts(),
            "breakers": breaker_states(),
            "retry_backlog": retry_backlog(),
        }
        return super().changelist_view(request, extra_context=extra_context)

    @admin.display(description="message")
    def short_message(self, obj: MessagingError) -> str:
        return obj.message[:120]

    @admin.action(description="Mark selected errors as resolved")
    def mark_resolved(self, request: HttpRequest, queryset: QuerySet[MessagingError]) -> None:
        updated = queryset.filter(resolved=False).update(resolved=True)
        self.message_user(request, f"{updated} error(s) marked as resolved.")


class ParticipantInline(ReadOnlyInline):
    model = Participant
    fields = (
        "user",
        "role",
        "joined_seq",
        "left_seq",
        "delivered_seq",
        "read_seq",
        "muted_until",
        "joined_at",
        "left_at",
    )
    readonly_fields = fields


@admin.register(Conversation)
class ConversationAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "title", "member_count", "last_seq", "last_message_at", "created_at")
    list_filter = ("kind",)
    search_fields = ("title",)
    inlines = [ParticipantInline]


class NotificationInline(ReadOnlyInline):
    model = Notification
    fields = ("user", "kind", "title", "count", "read", "pushed_at", "email_state")
    readonly_fields = fields


class MessageErrorInline(ReadOnlyInline):
    model = MessagingError
    fk_name = "message_ref"
    fields = ("occurred_at", "category", "severity", "message", "resolved")
    readonly_fields = fields
    verbose_name_plural = "errors about this message"


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    inlines = [NotificationInline, MessageErrorInline]
    list_display = ("id", "conversation", "seq", "sender", "short_content", "created_at")
    list_filter = (("created_at", admin.DateFieldListFilter),)
    search_fields = ("content", "client_id", "sender__username")
    list_select_related = ("sender", "conversation")
    raw_id_fields = ("conversation", "sender")
    exclude = ("kind", "target_seq", "data")
    readonly_fields = ("edit_history",)
    actions = ["archive_selected"]

    @admin.display(description="content")
    def short_content(self, obj: Message) -> str:
        return obj.content[:120]

    @admin.display(description="edit history")
    def edit_history(self, obj: Message) -> str:
        """Every earlier version, oldest first, with when it was written and replaced (escaped text)."""
        versions = MessageEdit.objects.filter(conversation_id=obj.conversation_id, message_seq=obj.seq).order_by(
            "edit_seq"
        )
        if not versions:
            return "deleted for everyone: its versions were purged" if obj.deleted_at else "never edited"
        return format_html(
            "<ol>{}</ol>",
            format_html_join(
                "",
                "<li>{} <small>(written {}, replaced {} by edit #{})</small></li>",
                ((v.content, v.written_at, v.replaced_at, v.edit_seq) for v in versions),
            ),
        )

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # Deleting would leave a hole in seq; archiving keeps it.
        return False

    @admin.action(description="Archive selected messages (sync and history still return them)")
    def archive_selected(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        moved = archive(queryset)
        self.message_user(request, f"{moved} message(s) moved to the archive.")


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    """Every event of every conversation's log: messages, membership changes, renames."""

    list_display = ("id", "conversation", "seq", "kind", "sender", "target_seq", "created_at")
    list_filter = ("kind", ("created_at", admin.DateFieldListFilter))
    search_fields = ("client_id", "sender__username")
    list_select_related = ("sender", "conversation")
    raw_id_fields = ("conversation", "sender")

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(MessageEdit)
class MessageEditAdmin(ReadOnlyAdmin):
    """Earlier versions of edited messages (a deletion for everyone purges them)."""

    list_display = ("id", "conversation", "message_seq", "edit_seq", "short_content", "written_at", "replaced_at")
    list_filter = (("replaced_at", admin.DateFieldListFilter),)
    search_fields = ("content",)
    list_select_related = ("conversation",)
    raw_id_fields = ("conversation",)

    @admin.display(description="content")
    def short_content(self, obj: MessageEdit) -> str:
        return obj.content[:120]

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ArchivedEvent)
class ArchivedEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "conversation", "seq", "kind", "sender", "created_at", "archived_at")
    list_filter = ("kind",)
    search_fields = ("content", "client_id")
    list_select_related = ("sender", "conversation")


@admin.register(UserStatus)
class UserStatusAdmin(ReadOnlyAdmin):
    """Per user: presence, last seen and the sockets that make it."""

    list_display = ("user", "online", "open_connections", "last_seen")
    list_filter = ("online",)
    search_fields = ("user__username",)
    fields = ("user", "online", "last_seen")

    def get_queryset(self, request: HttpRequest) -> QuerySet[UserStatus]:
        return (
            super().get_queryset(request).select_related("user").annotate(sockets=Count("user__messaging_connections"))
        )

    @admin.display(description="open connections", ordering="sockets")
    def open_connections(self, obj: UserStatus) -> int:
        return obj.sockets  # type: ignore[attr-defined]  # the Count that get_queryset annotates

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        # The primary key is the user's id; the object itself is fetched by the admin.
        try:
            user_id = UserStatus._meta.pk.to_python(unquote(object_id))
        except ValidationError:
            user_id = None  # the admin answers "does not exist"
        connections = Connection.objects.filter(user_id=user_id) if user_id is not None else Connection.objects.none()
        extra_context = {**(extra_context or {}), "connections": connections}
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(Connection)
class ConnectionAdmin(ReadOnlyAdmin):
    list_display = ("user", "kind", "server_id", "connected_at", "last_heartbeat")
    list_filter = ("kind", "server_id")
    search_fields = ("user__username", "channel_name")


class RetryItemInline(ReadOnlyInline):
    model = RetryQueueItem
    fields = ("operation", "state", "attempts", "next_attempt_at", "last_error")
    readonly_fields = fields


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("id", "user", "kind", "title", "count", "read", "pushed_at", "email_state", "message", "created_at")
    list_filter = ("kind", "read", "email_state")
    search_fields = ("user__username", "title", "body")
    list_select_related = ("user", "message")
    inlines = [RetryItemInline]


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ("user", "kind", "in_app", "email", "desktop", "quiet_hours_start", "quiet_hours_end", "timezone")
    list_filter = ("kind", "in_app", "email")
    search_fields = ("user__username",)
    raw_id_fields = ("user",)


def retry_statistics() -> list[dict[str, Any]]:
    """Per operation: items by state, attempts, and how often retrying worked."""
    rows = RetryQueueItem.objects.values("operation").annotate(
        total=Count("id"),
        pending=Count("id", filter=Q(state__in=[RetryQueueItem.State.PENDING, RetryQueueItem.State.RUNNING])),
        succeeded=Count("id", filter=Q(state=RetryQueueItem.State.SUCCEEDED)),
        succeeded_after_retry=Count("id", filter=Q(state=RetryQueueItem.State.SUCCEEDED, attempts__gt=1)),
        exhausted=Count("id", filter=Q(state=RetryQueueItem.State.EXHAUSTED)),
        attempts=Sum("attempts"),
    )
    stats: list[dict[str, Any]] = []
    for row in rows.order_by("operation"):
        finished = row["succeeded"] + row["exhausted"]
        stats.append({**row, "success_rate": f"{100 * row['succeeded'] / finished:.1f} %" if finished else "-"})
    return stats


@admin.register(RetryQueueItem)
class RetryQueueItemAdmin(admin.ModelAdmin):
    list_display = ("id", "operation", "state", "attempts", "max_attempts", "next_attempt_at", "short_error")
    list_filter = ("state", "operation")
    search_fields = ("last_error", "operation")
    readonly_fields = (
        "operation",
        "payload",
        "state",
        "attempts",
        "max_attempts",
        "next_attempt_at",
        "last_attempt_at",
        "claimed_until",
        "last_error",
        "created_at",
        "notification",
    )
    actions = ["retry_now"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="last error")
    def short_error(self, obj: RetryQueueItem) -> str:
        return obj.last_error[:100]

    @admin.action(description="Retry selected items now")
    def retry_now(self, request: HttpRequest, queryset: QuerySet[RetryQueueItem]) -> None:
        """Make the items due at once; exhausted ones get one more attempt."""
        # A pending item has attempts < max_attempts, so Greatest leaves it as it is.
        due = queryset.filter(state__in=[RetryQueueItem.State.PENDING, RetryQueueItem.State.EXHAUSTED]).update(
            state=RetryQueueItem.State.PENDING,
            max_attempts=Greatest("max_attempts", F("attempts") + 1),
            next_attempt_at=timezone.now(),
        )
        self.message_user(request, f"{due} item(s) are due now; process_retry_queue will run them on its next pass.")

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra_context = {**(extra_context or {}), "retry_statistics": retry_statistics()}
        return super().changelist_view(request, extra_context=extra_context)


@admin.register(PushSubscription)
class PushSubscriptionAdmin(admin.ModelAdmin):
    """Browsers subscribed to Web Push: look, and delete (e.g. after a VAPID key change); never edit keys."""

    list_display = ("user", "user_agent", "created_at", "last_success_at")
    list_filter = ("last_success_at",)
    search_fields = ("user__username", "user_agent")
    readonly_fields = (
        "user",
        "endpoint",
        "p256dh",
        "auth",
        "user_agent",
        "session_key",
        "created_at",
        "last_success_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


# --- Attachments (issue 15) ------------------------------------------------------


@admin.register(Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    """Uploads with their size and type; deleting one here deletes its stored files too."""

    list_display = ("name", "content_type", "size_display", "uploader", "conversation", "seq", "created_at")
    list_filter = ("content_type",)
    search_fields = ("name", "uploader__username", "storage_name")
    readonly_fields = [f.name for f in Attachment._meta.fields]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="size", ordering="size")
    def size_display(self, obj: Attachment) -> str:
        from django.template.defaultfilters import filesizeformat

        return filesizeformat(obj.size)

    def delete_model(self, request: HttpRequest, obj: Attachment) -> None:
        delete_attachments(Attachment.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Attachment]) -> None:
        delete_attachments(queryset)


from . import admin_support  # noqa: F401 - registers the support page
