"""The browser pages: the inbox, a conversation, the notifications.

Thin: each renders the app's shell with a small JSON config; everything else
comes over the socket (``ws/chat/``) or the API.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie

from .. import conf
from ..serializers import JSONSerializer, conversation_payload
from ..store import conversations, reading
from ..store.errors import NotFound
from ..store.notifications import list_notifications
from ..store.users import find_peer


def _page_json(value: Any) -> Any:
    """``value`` as the API would send it (the contract's datetimes), for ``json_script``."""
    return JSONSerializer.loads(JSONSerializer.dumps(value))


def _inbox(request: HttpRequest, current_peer_id: int | None = None) -> list[dict[str, Any]]:
    rows, _, _ = reading.inbox(
        request.user, before=None, limit=50, expiry=conf.limits().presence_expiry, current_peer_id=current_peer_id
    )
    return _page_json([conversation_payload(r) for r in rows])


def _config(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    limits = conf.limits()
    return _page_json({"me": request.user.get_username(), "limits": limits.public(), "socket_path": "/ws/chat/", **extra})


@login_required
@ensure_csrf_cookie
def inbox(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "messaging/inbox.html",
        {"conversations": _inbox(request), "chat_config": _config(request, conversation=None)},
    )


@login_required
@ensure_csrf_cookie
def chat_page(request: HttpRequest, username: str) -> HttpResponse:
    """The direct conversation with ``username`` (made with the first message if there is none yet)."""
    peer = find_peer(request.user, username)
    if peer is None:
        raise Http404("No such user")
    online, last_seen = reading.presence.presence_of(peer.pk, conf.limits().presence_expiry)
    key = conversations.Conversation.direct_key_for(request.user.pk, peer.pk)
    existing = conversations.Conversation.objects.filter(direct_key=key).values_list("pk", flat=True).first()
    config = _config(
        request,
        conversation=existing,
        peer={"username": peer.get_username(), "online": online, "last_seen": last_seen},
        history_url=reverse("api-history", args=[peer.get_username()]),
        send_url=reverse("api-send", args=[peer.get_username()]),
        max_length=conf.limits().max_length,
        me_username=request.user.get_username(),
    )
    return render(
        request,
        "messaging/chat.html",
        {"peer": peer, "chat_config": config, "conversations": _inbox(request, peer.pk)},
    )


@login_required
@ensure_csrf_cookie
def conversation_page(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Any conversation the user is or was in (groups have no username to go by)."""
    try:
        summary = reading.with_presence([conversations.summary_of(request.user, conversation_id)], conf.limits().presence_expiry)[0]
    except NotFound:
        raise Http404("No such conversation") from None
    return render(
        request,
        "messaging/chat.html",
        {
            "peer": summary.peer,
            "chat_config": _config(request, conversation=conversation_id, summary=conversation_payload(summary)),
            "conversations": _inbox(request),
        },
    )


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
    items, has_more = list_notifications(request.user.pk, None, 50)
    for item in items:
        item.link = safe_link(item.url)
    return render(request, "messaging/notifications.html", {"notifications": items, "has_more": has_more})
