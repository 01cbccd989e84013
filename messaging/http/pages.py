"""The browser pages: the messaging app's one shell (inbox, a direct chat, any conversation) and notifications.

The pages are thin: they check that what the URL names exists for this user
and hand the script a small JSON config; conversations, history, members and
everything live come over the ``ws/chat/`` socket (or the HTTP API when the
socket cannot be had).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie

from .. import async_handlers as handlers
from .. import conf
from ..models import Conversation, Participant

#: the contract's defaults for limits the settings module may not name yet
CONTRACT_LIMITS = {"MESSAGING_MAX_TITLE_LENGTH": 120, "MESSAGING_MAX_GROUP_MEMBERS": 256}


def _limit(name: str) -> int:
    if name in conf.DEFAULTS:
        return int(conf.setting(name))  # type: ignore[call-overload]
    return int(getattr(settings, name, CONTRACT_LIMITS[name]))


def _shell(request: HttpRequest, route: dict[str, Any], page_title: str) -> HttpResponse:
    """The app shell with its config; ``route`` says what the URL shows."""
    config = {
        "me": request.user.get_username(),
        "route": route,
        "max_length": conf.limits().max_length,
        "max_title_length": _limit("MESSAGING_MAX_TITLE_LENGTH"),
        "max_group_members": _limit("MESSAGING_MAX_GROUP_MEMBERS"),
        "socket_path": "/ws/chat/",
        "login_url": reverse("login"),
        "inbox_url": reverse("inbox"),
    }
    return render(request, "messaging/app.html", {"config": config, "route": route, "page_title": page_title})


@login_required
@ensure_csrf_cookie
def inbox(request: HttpRequest) -> HttpResponse:
    return _shell(request, {"kind": "inbox", "id": None, "name": "Messages", "peer": None}, "Messages")


@login_required
@ensure_csrf_cookie
def chat_page(request: HttpRequest, username: str) -> HttpResponse:
    """A direct chat; the conversation itself is made by the first message, so it may not exist yet."""
    peer = (
        get_user_model()
        .objects.filter(username=username, is_active=True)
        .exclude(pk=request.user.pk)
        .only("pk", "username")
        .first()
    )
    if peer is None:
        raise Http404("No such user")
    existing = Conversation.objects.filter(
        direct_key=Conversation.direct_key_for(request.user.pk, peer.pk)
    ).values_list("pk", flat=True).first()
    name = peer.get_username()
    return _shell(request, {"kind": "direct", "id": existing, "name": name, "peer": name}, name)


@login_required
@ensure_csrf_cookie
def conversation_page(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Any conversation the user is or was a member of (a former member still sees their window)."""
    membership = (
        Participant.objects.filter(conversation_id=conversation_id, user=request.user)
        .select_related("conversation")
        .first()
    )
    if membership is None:
        raise Http404("No such conversation")
    conversation = membership.conversation
    if conversation.kind == Conversation.Kind.DIRECT:
        other = (
            Participant.objects.filter(conversation=conversation)
            .exclude(user=request.user)
            .select_related("user")
            .first()
        )
        name = other.user.get_username() if other else "Conversation"
        route = {"kind": "direct", "id": conversation.pk, "name": name, "peer": name}
    else:
        name = conversation.title or "Group"
        route = {"kind": "group", "id": conversation.pk, "name": name, "peer": None}
    return _shell(request, route, name)


def safe_link(url: str) -> str:
    """A notification's link for an ``href``: a path of this site or http(s), never ``javascript:``.

    ``//host`` and ``/\\host`` (browsers read a backslash as a slash there) lead to another site.
    """
    if (url.startswith("/") and not url.startswith(("//", "/\\"))) or url.lower().startswith(("http://", "https://")):
        return url
    return reverse("notifications")


@login_required
@ensure_csrf_cookie
def notifications_page(request: HttpRequest) -> HttpResponse:
    items, has_more = handlers.list_notifications(request.user.pk, None, 50)
    for item in items:
        item.link = safe_link(item.url)
    return render(request, "messaging/notifications.html", {"notifications": items, "has_more": has_more})
