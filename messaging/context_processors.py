"""Template context every page needs: the notification bell's first count, whether sign-up is open, the theme."""

from __future__ import annotations

import functools
from typing import Any

from django.http import HttpRequest

from . import conf
from .http.theme import theme_from_cookie
from .models import Profile
from .store.notifications import notification_unread_count


def notification_bell(request: HttpRequest) -> dict[str, Any]:
    """``notification_unread``: counted only when a template shows it (signed-in pages)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # A template calls a callable each time it shows it (base.html does three
    # times): cached, it is counted once per render, and only if shown.
    return {"notification_unread": functools.cache(functools.partial(notification_unread_count, user.pk))}


def signup(request: HttpRequest) -> dict[str, Any]:
    """``signup_enabled``: the sign-in page links to sign-up only when it is open."""
    return {"signup_enabled": conf.bool_setting("SIGNUP_ENABLED")}


def theme(request: HttpRequest) -> dict[str, Any]:
    """``theme``: the signed-in user's choice; signed out, the device's last one (a cookie).

    Rendered into ``<html data-theme>``: the page is drawn in its theme from the first paint.
    """
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return {"theme": Profile.theme_of(user.pk)}
    return {"theme": theme_from_cookie(request)}
