"""The settings page: this device (install, system notifications) and the user's notification choices.

Sections, each a card: issue 17 adds the profile's own ones here.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_http_methods

from ..models import Profile
from ..notify import webpush


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
    return render(
        request,
        "messaging/settings.html",
        {
            "hide_notification_content": Profile.hides_content(request.user.pk),
            "push_config": push,
            "theme_choices": Profile.Theme.choices,
        },
    )
