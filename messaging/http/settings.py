"""The settings page: this device (install, system notifications) and the user's own choices.

Sections, each a card and each its own form: notification channels, quiet
hours with their time zone, read receipts, muted conversations, and hiding
message content. Every form works as a plain post (a redirect back to the
page) and from the page's script (``Accept: application/json``: the saved
settings, or the JSON error). Whatever the post names, it changes only the
signed-in user's own settings; every change is pushed to all of their open
tabs as a ``settings`` (or ``muted``) frame on ``ws/chat/``.

The profile section is edited through the profile API (:mod:`.profile`,
``profile-settings.js``), so a change is told to everyone's open tabs the
moment it is saved.
"""

from __future__ import annotations

import zoneinfo
from typing import Any

from asgiref.sync import async_to_sync
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_http_methods

from .. import conf
from ..actions.errors import wire_error
from ..exceptions import InvalidSetting, MessagingException
from ..logging_utils import messaging_logger
from ..models import Profile
from ..notify import webpush
from ..pubsub import publish_muted, publish_settings
from ..serializers import JSONSerializer, error_frame, identity_payload
from ..store import conversations
from ..store.errors import Invalid, StoreError
from ..store.preferences import mutes_of, parse_clock, save_settings, settings_of
from ..store.profiles import user_with_profile
from .signed_in import SignedInRequest

#: what each section's form may change; anything else in the post is ignored
SECTIONS = ("notifications", "quiet_hours", "receipts", "unmute", "content")


def settings_payload(user_id: int) -> dict[str, Any]:
    """What the ``settings`` frame and the page's script carry."""
    profile = Profile.objects.filter(user_id=user_id).values("hide_notification_content", "theme").first()
    return {
        **settings_of(user_id).payload(),
        "hide_notification_content": bool(profile and profile["hide_notification_content"]),
        "theme": profile["theme"] if profile else Profile.Theme.SYSTEM,
    }


def _changes(section: str, post: Any) -> dict[str, Any]:
    if section == "notifications":
        return {name: post.get(name) == "on" for name in ("in_app", "email", "desktop")}
    if section == "quiet_hours":
        changes: dict[str, Any] = {"time_zone": post.get("time_zone", "")}
        if post.get("quiet_hours") == "on":
            changes["quiet_hours_start"] = parse_clock(post.get("quiet_hours_start"), "the start of quiet hours")
            changes["quiet_hours_end"] = parse_clock(post.get("quiet_hours_end"), "the end of quiet hours")
            if changes["quiet_hours_start"] is None or changes["quiet_hours_end"] is None:
                raise Invalid("quiet hours need both a start and an end (or turn them off)")
        else:
            changes["quiet_hours_start"] = changes["quiet_hours_end"] = None
        return changes
    if section == "receipts":
        return {"read_receipts": post.get("read_receipts") == "on"}
    raise Invalid(f"no such section of the settings: {section!r}")


def _apply(request: SignedInRequest) -> str:
    """Apply the post to the signed-in user's settings; what to tell them."""
    user_id = request.user.pk
    section = request.POST.get("section", "content")
    if section == "content":
        profile = Profile.for_user(user_id)
        profile.hide_notification_content = request.POST.get("hide_notification_content") == "on"
        profile.save(update_fields=["hide_notification_content"])
    elif section == "unmute":
        try:
            conversation_id = int(request.POST.get("conversation", ""))
        except ValueError as exc:
            raise Invalid("name the conversation to unmute by its id") from exc
        conversations.mute(user_id, conversation_id, None)
        async_to_sync(publish_muted)(user_id, conversation_id, None)
        return "Unmuted."
    else:
        save_settings(user_id, **_changes(section, request.POST))
    async_to_sync(publish_settings)(user_id, settings_payload(user_id))
    return "Saved."


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@login_required
@ensure_csrf_cookie
@require_http_methods(["GET", "POST"])
def settings_page(request: SignedInRequest) -> HttpResponse:
    error: MessagingException | None = None
    if request.method == "POST":
        try:
            notice = _apply(request)
        except Invalid as exc:
            error = InvalidSetting(exc.detail)
        except StoreError as exc:
            error = wire_error(exc)
        if error is None:
            if _wants_json(request):
                body = {"type": "settings", "settings": settings_payload(request.user.pk), "notice": notice}
                return HttpResponse(JSONSerializer.dumps(body), content_type="application/json")
            messages.success(request, notice)
            return redirect("settings")
        messaging_logger.client_error(request.user, error.code.value, error.detail, context={"path": request.path})
        if _wants_json(request):
            text = JSONSerializer.dumps(error_frame(error))
            return HttpResponse(text, status=error.http_status, content_type="application/json")
    push = {
        "enabled": webpush.enabled(),
        "public_key": webpush.public_key() if webpush.enabled() else None,
        "subscribe_url": "/messages/api/push/subscribe",
        "unsubscribe_url": "/messages/api/push/unsubscribe",
    }
    user_settings = settings_of(request.user.pk)
    limits = conf.profile_limits()
    identity = identity_payload(user_with_profile(request.user.pk))
    profile = {
        **identity,
        "update_url": "/messages/api/profile",
        "avatar_url": "/messages/api/profile/avatar",
        "remove_avatar_url": "/messages/api/profile/avatar/remove",
        "max_display_name": limits.max_display_name,
        "max_status": limits.max_status,
        "max_avatar_bytes": limits.max_avatar_bytes,
    }
    return render(
        request,
        "messaging/settings.html",
        {
            "hide_notification_content": Profile.hides_content(request.user.pk),
            "push_config": push,
            "theme_choices": Profile.Theme.choices,
            "profile": profile,
            "profile_config": profile,
            "prefs": user_settings,
            "mutes": mutes_of(request.user.pk),
            "error": error,
            "time_zones": sorted(zoneinfo.available_timezones()),
        },
        status=error.http_status if error is not None else 200,
    )
