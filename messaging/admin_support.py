"""The support page: one admin page per user with what a support request needs (issue 17).

``Profile`` is the page (``/admin/messaging/profile/<user id>/change/``):
its identity fields stay editable (support may clear an abusive display
name), and read-only sections show the user's notification preferences,
conversations with their cursors, open sockets and presence, and their most
recent ``MessagingError`` rows. A user without a profile row yet gets one
when support opens the page (``…/profile/for-user/<user id>/``, linked from
Django's user page).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from . import conf
from .models import Connection, MessagingError, NotificationPreference, Participant, Profile, UserStatus
from .serializers import avatar_url

#: the most recent errors shown; the error list (linked) has the rest
RECENT_ERRORS = 20
#: conversations listed, most recently active first
CONVERSATIONS_SHOWN = 100

User = get_user_model()


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], empty: str) -> SafeString:
    rows = list(rows)
    if not rows:
        return format_html("<p>{}</p>", empty)
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headers))
    body = format_html_join(
        "", "<tr>{}</tr>", ((format_html_join("", "<td>{}</td>", ((cell,) for cell in row)),) for row in rows)
    )
    return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body)


def _when(value: datetime.datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else "—"


@admin.register(Profile)
class ProfileSupportAdmin(admin.ModelAdmin):
    list_display = ("user", "display_name", "status_line", "identity_changed_at")
    search_fields = ("user__username", "display_name")
    fields = (
        "user",
        "display_name",
        "status_line",
        "avatar",
        "hide_notification_content",
        "notification_preferences",
        "conversations",
        "sockets",
        "recent_errors",
    )
    readonly_fields = (
        "user",
        "avatar",
        "hide_notification_content",
        "notification_preferences",
        "conversations",
        "sockets",
        "recent_errors",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_urls(self) -> list[Any]:
        return [
            path(
                "for-user/<int:user_id>/",
                self.admin_site.admin_view(self.for_user_view),
                name="messaging_profile_for_user",
            ),
            *super().get_urls(),
        ]

    def for_user_view(self, request: HttpRequest, user_id: int) -> HttpResponse:
        """The user's support page, their profile row made first if they have none."""
        user = get_object_or_404(User, pk=user_id)
        profile = Profile.for_user(user.pk)
        return HttpResponseRedirect(reverse("admin:messaging_profile_change", args=[profile.pk]))

    @admin.display(description="Avatar")
    def avatar(self, obj: Profile) -> SafeString:
        url = avatar_url(obj)
        if url is None:
            return format_html("{}", "letter avatar (none uploaded)")
        return format_html('<img src="{}" alt="" width="96" height="96"> <code>{}</code>', url, obj.avatar_name)

    @admin.display(description="Notification preferences")
    def notification_preferences(self, obj: Profile) -> SafeString:
        rows = NotificationPreference.objects.filter(user_id=obj.user_id).order_by("kind")
        return _table(
            ("kind", "in app", "email", "quiet hours", "time zone"),
            (
                (
                    p.get_kind_display(),
                    "yes" if p.in_app else "no",
                    "yes" if p.email else "no",
                    f"{p.quiet_hours_start}–{p.quiet_hours_end}" if p.quiet_hours_start else "—",
                    p.timezone,
                )
                for p in rows
            ),
            "No preferences saved: every kind uses the defaults (in app and email on, no quiet hours).",
        )

    @admin.display(description="Conversations (with cursors)")
    def conversations(self, obj: Profile) -> SafeString:
        members = (
            Participant.objects.filter(user_id=obj.user_id)
            .select_related("conversation")
            .order_by("-conversation__last_message_at", "-conversation_id")[:CONVERSATIONS_SHOWN]
        )
        return _table(
            ("conversation", "role", "last seq", "joined", "left", "delivered", "read", "cleared", "muted until"),
            (
                (
                    format_html(
                        '<a href="{}">{}</a>',
                        reverse("admin:messaging_conversation_change", args=[m.conversation_id]),
                        str(m.conversation),
                    ),
                    m.role,
                    m.conversation.last_seq,
                    m.joined_seq,
                    "—" if m.left_seq is None else m.left_seq,
                    m.delivered_seq,
                    m.read_seq,
                    m.cleared_seq,
                    _when(m.muted_until),
                )
                for m in members
            ),
            "In no conversation.",
        )

    @admin.display(description="Open sockets and presence")
    def sockets(self, obj: Profile) -> SafeString:
        expiry = datetime.timedelta(seconds=conf.limits().presence_expiry)
        now = timezone.now()
        status = UserStatus.objects.filter(user_id=obj.user_id).first()
        summary = format_html(
            "<p>Presence: <strong>{}</strong>, last seen {}.</p>",
            "online" if status is not None and status.online else "offline",
            _when(status.last_seen if status is not None else None),
        )
        connections = Connection.objects.filter(user_id=obj.user_id).order_by("-connected_at")
        table = _table(
            ("kind", "server", "conversation", "connected", "last heartbeat", "live"),
            (
                (
                    c.kind,
                    c.server_id,
                    c.conversation_id or "—",
                    _when(c.connected_at),
                    _when(c.last_heartbeat),
                    "yes" if now - c.last_heartbeat <= expiry else "no (expired: its process stopped beating)",
                )
                for c in connections
            ),
            "No open socket.",
        )
        return format_html("{}{}", summary, table)

    @admin.display(description="Recent errors")
    def recent_errors(self, obj: Profile) -> SafeString:
        errors = MessagingError.objects.filter(user_id=obj.user_id).order_by("-occurred_at")[:RECENT_ERRORS]
        table = _table(
            ("when", "category", "severity", "message", "resolved"),
            (
                (
                    format_html(
                        '<a href="{}">{}</a>',
                        reverse("admin:messaging_messagingerror_change", args=[e.pk]),
                        _when(e.occurred_at),
                    ),
                    e.category,
                    e.severity,
                    e.message[:200],
                    "yes" if e.resolved else "no",
                )
                for e in errors
            ),
            "No error recorded for this user.",
        )
        everything = reverse("admin:messaging_messagingerror_changelist") + f"?user__id__exact={obj.user_id}"
        return format_html('{}<p><a href="{}">All of this user\'s errors</a></p>', table, everything)


class SupportLinkUserAdmin(UserAdmin):
    """Django's user page, with a link to the user's support page."""

    readonly_fields = (*UserAdmin.readonly_fields, "support_page")
    fieldsets = (*(UserAdmin.fieldsets or ()), ("Messaging", {"fields": ("support_page",)}))

    @admin.display(description="Support page")
    def support_page(self, obj: Any) -> SafeString:
        if obj is None or obj.pk is None:
            return format_html("{}", "—")
        url = reverse("admin:messaging_profile_for_user", args=[obj.pk])
        return format_html('<a href="{}">Profile, preferences, conversations, sockets and errors</a>', url)


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, SupportLinkUserAdmin)
