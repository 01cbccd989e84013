"""The installable app: the web app manifest, the service worker (from the site root) and the offline page.

The service worker is a template so that it can carry the shell's version:
a hash of the shell files' contents. A deploy that changes any of them
changes ``/sw.js``, the browser installs the new worker, and the new worker
replaces the old cache. Nothing per user is in the shell.
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any

from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

#: the light and dark theme colours (the top bar's; the pages' meta tags say the same)
THEME_LIGHT = "#4338ca"
THEME_DARK = "#1e1b4b"
BACKGROUND = "#eef0f6"

ANY_ICON_SIZES = (48, 72, 96, 128, 144, 152, 192, 256, 384, 512)
MASKABLE_ICON_SIZES = (192, 512)
OFFLINE_URL = "/offline/"

#: static files of the app shell, cached by the service worker at install
SHELL_STATIC = (
    "messaging/app.css",
    "messaging/js/api.js",
    "messaging/js/attachments-view.js",
    "messaging/js/bell.js",
    "messaging/js/chat.js",
    "messaging/js/conversations.js",
    "messaging/js/dialogs.js",
    "messaging/js/dom.js",
    "messaging/js/drafts.js",
    "messaging/js/emoji-data.js",
    "messaging/js/message-actions.js",
    "messaging/js/message-list.js",
    "messaging/js/message-menu.js",
    "messaging/js/message-selection.js",
    "messaging/js/notifications-page.js",
    "messaging/js/offline.js",
    "messaging/js/people.js",
    "messaging/js/profile-card.js",
    "messaging/js/profile-settings.js",
    "messaging/js/protocol/client.js",
    "messaging/js/protocol/fallback.js",
    "messaging/js/protocol/format.js",
    "messaging/js/protocol/log.js",
    "messaging/js/protocol/members.js",
    "messaging/js/protocol/messages.js",
    "messaging/js/protocol/outbox.js",
    "messaging/js/protocol/refusals.js",
    "messaging/js/protocol/requests.js",
    "messaging/js/protocol/text.js",
    "messaging/js/protocol/uploads.js",
    "messaging/js/pwa.js",
    "messaging/js/rich-text.js",
    "messaging/js/search.js",
    "messaging/js/settings-theme.js",
    "messaging/js/settings.js",
    "messaging/js/socket.js",
    "messaging/js/theme.js",
    "messaging/js/time.js",
    "messaging/js/upload-transport.js",
    "messaging/js/viewer.js",
    "messaging/icons/icon-192.png",
    "messaging/icons/icon-512.png",
    "messaging/icons/badge-96.png",
    "messaging/icons/favicon-32.png",
)


def manifest_data() -> dict[str, Any]:
    icons = [
        {
            "src": static(f"messaging/icons/icon-{size}.png"),
            "sizes": f"{size}x{size}",
            "type": "image/png",
            "purpose": "any",
        }
        for size in ANY_ICON_SIZES
    ] + [
        {
            "src": static(f"messaging/icons/maskable-{size}.png"),
            "sizes": f"{size}x{size}",
            "type": "image/png",
            "purpose": "maskable",
        }
        for size in MASKABLE_ICON_SIZES
    ]
    return {
        "id": "/",
        "name": "LinkUp",
        "short_name": "LinkUp",
        "description": "Real-time chat and notifications",
        "lang": "en",
        "start_url": "/messages/",
        "scope": "/",
        "display": "standalone",
        "background_color": BACKGROUND,
        "theme_color": THEME_LIGHT,
        "categories": ["social", "productivity"],
        "icons": icons,
        "shortcuts": [
            {"name": "Notifications", "url": "/notifications/", "icons": [icons[2]]},
        ],
    }


@require_GET
@cache_control(max_age=3600)
def manifest(request: HttpRequest) -> HttpResponse:
    return HttpResponse(json.dumps(manifest_data(), indent=2), content_type="application/manifest+json")


def shell_urls() -> list[str]:
    return [OFFLINE_URL, *(static(path) for path in SHELL_STATIC)]


@functools.cache
def shell_version() -> str:
    """A hash of every shell file and the offline page's template: a deploy that changes one changes it."""
    digest = hashlib.sha256()
    for path in (*SHELL_STATIC, "messaging/icons/source.png"):
        found = finders.find(path)
        if found is None:
            raise FileNotFoundError(f"the app shell names {path}, which is not a static file")
        with open(found, "rb") as file:
            digest.update(path.encode() + b"\0" + file.read())
    for template in ("messaging/offline.html", "messaging/sw.js"):
        from django.template.backends.django import Template
        from django.template.loader import get_template

        loaded = get_template(template)
        if not isinstance(loaded, Template):  # the source digested is the Django engine's
            raise TypeError(f"{template} is not a Django template")
        digest.update(loaded.template.source.encode())
    return digest.hexdigest()[:16]


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """``/sw.js``: served from the root, so its scope is the whole site.

    ``no-cache``: the browser asks every time whether a new worker (a deploy) exists.
    """
    response = render(
        request,
        "messaging/sw.js",
        {"version": shell_version(), "shell": json.dumps(shell_urls()), "offline_url": json.dumps(OFFLINE_URL)},
        content_type="text/javascript; charset=utf-8",
    )
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
def offline(request: HttpRequest) -> HttpResponse:
    """The page the service worker shows when the server cannot be reached: the same for everyone."""
    return render(request, "messaging/offline.html", {"theme_light": THEME_LIGHT, "theme_dark": THEME_DARK})
