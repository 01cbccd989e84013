"""The browser pages: the messaging app's one shell (inbox, a direct chat, any conversation) and notifications.

The pages are thin: they check that what the URL names exists for this user
and hand the script a small JSON config; conversations, history, members and
everything live come over the ``ws/chat/`` socket (or the HTTP API when the
socket cannot be had).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie

from .. import conf
from ..models import Conversation
from ..store import conversations
from ..store.errors import NotFound
from ..store.notifications import list_notifications
from ..store.presence import presence_of
from ..store.users import find_peer
from .signed_in import SignedInRequest


def _shell(request: HttpRequest, route: dict[str, Any], page_title: str) -> HttpResponse:
    """The app shell with its config; ``route`` says what the URL shows."""
    limits = conf.limits()
    config = {
        "me": request.user.get_username(),
        "route": route,
        "max_length": limits.max_length,
        "max_title_length": limits.max_title_length,
        "max_group_members": limits.max_group_members,
        "socket_path": "/ws/chat/",
        "login_url": reverse("login"),
        "inbox_url": reverse("inbox"),
        # attachments: the browser refuses what the server would, before uploading
        "max_upload_bytes": conf.upload_limits().max_bytes,
        "max_files": conf.upload_limits().max_files,
    }
    return render(request, "messaging/app.html", {"config": config, "route": route, "page_title": page_title})


@login_required
@ensure_csrf_cookie
def inbox(request: SignedInRequest) -> HttpResponse:
    return _shell(request, {"kind": "inbox", "id": None, "name": "Messages", "peer": None}, "Messages")


@login_required
@ensure_csrf_cookie
def chat_page(request: SignedInRequest, username: str) -> HttpResponse:
    """A direct chat; the conversation itself is made by the first message, so it may not exist yet."""
    peer = find_peer(request.user, username)
    if peer is None:
        raise Http404("No such user")
    key = Conversation.direct_key_for(request.user.pk, peer.pk)
    existing = Conversation.objects.filter(direct_key=key).values_list("pk", flat=True).first()
    name = peer.get_username()
    # Presence is pushed only between members of a direct conversation: before
    # the first message there is none, so the page starts from a snapshot.
    online, last_seen = presence_of(peer.pk, conf.limits().presence_expiry)
    presence = {"online": online, "last_seen": last_seen.isoformat() if last_seen else None}
    return _shell(request, {"kind": "direct", "id": existing, "name": name, "peer": name, "presence": presence}, name)


@login_required
@ensure_csrf_cookie
def conversation_page(request: SignedInRequest, conversation_id: int) -> HttpResponse:
    """Any conversation the user is or was a member of (a former member still sees their window)."""
    try:
        summary = conversations.summary_of(request.user, conversation_id)
    except NotFound:
        raise Http404("No such conversation") from None
    if summary.conversation.kind == Conversation.Kind.DIRECT:
        name = summary.peer.get_username() if summary.peer is not None else "Conversation"
        route = {"kind": "direct", "id": conversation_id, "name": name, "peer": name}
    else:
        name = summary.conversation.title or "Group"
        route = {"kind": "group", "id": conversation_id, "name": name, "peer": None}
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
def notifications_page(request: SignedInRequest) -> HttpResponse:
    items, has_more = list_notifications(request.user.pk, None, 50)
    for item in items:
        item.link = safe_link(item.url)
    return render(request, "messaging/notifications.html", {"notifications": items, "has_more": has_more})
