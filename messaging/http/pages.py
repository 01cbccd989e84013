"""The browser pages: inbox, chat and notifications."""



from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie

from .. import async_handlers as handlers
from .. import conf
from .api import _page_json, _presence_payload, inbox_rows


@login_required
@ensure_csrf_cookie
def inbox(request: HttpRequest) -> HttpResponse:
    return render(request, "messaging/inbox.html", {"conversations": _page_json(inbox_rows(request.user))})


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


@login_required
@ensure_csrf_cookie
def chat_page(request: HttpRequest, username: str) -> HttpResponse:
    peer = handlers.find_peer(request.user, username)
    if peer is None:
        raise Http404("No such user")
    limits = conf.limits()
    online, last_seen = handlers.presence_of(peer.pk, limits.presence_expiry)
    config = {
        "me": request.user.get_username(),
        "peer": {"username": peer.get_username(), **_presence_payload(online, last_seen)},
        "max_length": limits.max_length,
        "socket_path": f"/ws/chat/{peer.get_username()}/",
        "history_url": reverse("api-history", args=[peer.get_username()]),
        "send_url": reverse("api-send", args=[peer.get_username()]),
    }
    return render(
        request,
        "messaging/chat.html",
        {
            "peer": peer,
            "chat_config": _page_json(config),
            "conversations": _page_json(inbox_rows(request.user, peer.get_username())),
        },
    )

