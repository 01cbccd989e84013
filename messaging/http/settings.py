"""The settings page: the user's profile, this device (install, system notifications), notification choices.

Sections, each a card. The profile section is edited through the profile
API (:mod:`.profile`, ``profile-settings.js``), so a change is told to
everyone's open tabs the moment it is saved.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_http_methods

from .. import conf
from ..models import Profile
from ..notify import webpush
from ..serializers import identity_payload
from ..store.profiles import user_with_profile


@login_required
@ensure_csrf_cookie
@require_http_methods(["GET", "POST"])
def settings_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        profile = Profile.for_user(request.user.pk)
        profile.hide_notification_content = request.POST.get("hide_notification_content") == "on"
        profile.save(update_fields=["hide_notification_content"])
        messages.success(request, "Saved.")
        return redirect("settings")
    push = {
        "enabled": webpush.enabled(),
        "public_key": webpush.public_key() if webpush.enabled() else None,
        "subscribe_url": "/messages/api/push/subscribe",
        "unsubscribe_url": "/messages/api/push/unsubscribe",
    }
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
            "profile": profile,
            "profile_config": profile,
        },
    )
