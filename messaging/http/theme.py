"""The theme (system, light, dark): chosen on the settings page, worn by every page.

The choice is stored on the user's ``Profile`` and rendered into every page's
``<html data-theme>`` (see ``context_processors.theme``), so a page never
flashes in the other theme. Saving it tells every open tab of the user over
their sockets (a ``settings`` frame), and leaves a cookie so that the pages
seen signed out (sign-in, password reset) and the cached offline page wear the
device's last choice too.
"""

from __future__ import annotations

from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from ..exceptions import InvalidFrame
from ..logging_utils import messaging_logger
from ..models import Profile
from ..pubsub import publish_settings
from ..serializers import settings_frame
from .api import api_error, json_response
from .settings import settings_payload
from .signed_in import SignedInRequest

#: the cookie that carries the device's last theme to pages with no signed-in user
THEME_COOKIE = "linkup_theme"
THEME_COOKIE_MAX_AGE = 365 * 24 * 3600


def theme_from_cookie(request: HttpRequest) -> str:
    """The cookie's theme if it names one, else "system" (a forged cookie only changes colours)."""
    value = request.COOKIES.get(THEME_COOKIE, "")
    return value if value in Profile.Theme.values else Profile.Theme.SYSTEM


def wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def remember_on_device(response: HttpResponse, theme: str) -> HttpResponse:
    # Read by theme.js on the offline page (so not HttpOnly); it holds no secret.
    response.set_cookie(
        THEME_COOKIE,
        theme,
        max_age=THEME_COOKIE_MAX_AGE,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=False,
    )
    return response


@login_required
@require_POST
def set_theme(request: SignedInRequest) -> HttpResponse:
    """Store the theme and tell every tab; a form post is redirected back, a fetch gets JSON."""
    theme = request.POST.get("theme", "")
    if theme not in Profile.Theme.values:
        detail = f"theme must be one of {', '.join(Profile.Theme.values)}"
        messaging_logger.client_error(request.user, InvalidFrame.code.value, detail, context={"theme": theme[:40]})
        if wants_json(request):
            return api_error(InvalidFrame(detail))
        messages.error(request, f"Not saved: {detail}.")
        return redirect("settings")
    profile = Profile.for_user(request.user.pk)
    profile.theme = theme
    profile.save(update_fields=["theme"])
    settings_now = settings_payload(request.user.pk)
    async_to_sync(publish_settings)(request.user.pk, settings_now)
    if wants_json(request):
        return remember_on_device(json_response(settings_frame(settings_now)), theme)
    messages.success(request, f"Theme: {Profile.Theme(theme).label}.")
    return remember_on_device(redirect("settings"), theme)
