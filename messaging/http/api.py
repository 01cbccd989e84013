"""The HTTP API of the contract.

The API speaks the same language as the socket: the same validator, limits,
rate bucket and idempotency, and the same error body
``{"type": "error", "code", "detail"}``.
"""


import functools
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.csrf import csrf_failure as django_csrf_failure
from django.views.decorators.http import require_GET, require_POST

from .. import async_handlers as handlers
from .. import conf, notification_service
from ..connection_validator import ConnectionValidator, HistoryFrame, MessageFrame
from ..exceptions import Forbidden, InvalidFrame, InvalidJSON, MessagingException, NotFound, TooLarge
from ..ops.rate_limit import TokenBucket
from ..pubsub import broadcast_message, broadcast_status
from ..serializers import JSONSerializer, error_frame, message_frame, message_payload


def json_response(body: dict[str, Any], status: int = 200) -> HttpResponse:
    return HttpResponse(JSONSerializer.dumps(body), status=status, content_type="application/json")


def api_error(error: MessagingException) -> HttpResponse:
    return json_response(error_frame(error), status=error.http_status)


def api_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous callers get 403 JSON; messaging errors become their JSON answer."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return api_error(Forbidden("sign in first"))
        try:
            return view(request, *args, **kwargs)
        except MessagingException as error:
            return api_error(error)

    return wrapper


def _validator() -> ConnectionValidator:
    limits = conf.limits()
    return ConnectionValidator(max_length=limits.max_length, max_frame_bytes=limits.max_frame_bytes)


def _open_chat(request: HttpRequest, username: str) -> handlers.ChatOpening:
    chat = handlers.open_chat(request.user, username)
    if chat is None:
        raise NotFound(f"there is no one called {username!r} to talk to")
    return chat


def _parse_int(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidFrame(f"'{name}' must be an integer") from None


# --- API --------------------------------------------------------------------


@require_GET
@api_view
def api_history(request: HttpRequest, username: str) -> HttpResponse:
    """A page of messages: the newest, ``before`` a seq (newest first) or ``after`` a seq (oldest first)."""
    before = _parse_int(request.GET.get("before"), "before")
    after = _parse_int(request.GET.get("after"), "after")
    if before is not None and after is not None:
        raise InvalidFrame("give 'before' or 'after', not both")
    validator = _validator()
    frame = validator.validate_message_data(
        {"type": "history", "before": before, "limit": _parse_int(request.GET.get("limit"), "limit")}
    )
    if isinstance(frame, MessagingException):
        raise frame
    assert isinstance(frame, HistoryFrame)
    if after is not None:
        # The same check as the socket's ``sync`` frame gives its ``after``.
        sync = validator.validate_message_data({"type": "sync", "after": after})
        if isinstance(sync, MessagingException):
            raise sync
    chat = _open_chat(request, username)
    page = handlers.get_messages(
        chat.conversation_id, request.user.pk, before=frame.before, after=after, limit=frame.limit
    )
    if page.delivered is not None:
        async_to_sync(broadcast_status)(page.delivered)
    return json_response(
        {"messages": [message_payload(m) for m in page.messages], "has_more": page.has_more}
    )


@require_POST
@api_view
def api_send(request: HttpRequest, username: str) -> HttpResponse:
    validator = _validator()
    if len(request.body) > validator.max_frame_bytes:
        raise TooLarge(f"the body is over {validator.max_frame_bytes} bytes")
    try:
        body = JSONSerializer.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidJSON("the body is not JSON") from None
    if not isinstance(body, dict):
        raise InvalidFrame("the body must be a JSON object")
    frame = validator.validate_message_data({**body, "type": "message"})
    if isinstance(frame, MessagingException):
        raise frame
    assert isinstance(frame, MessageFrame)
    chat = _open_chat(request, username)
    message, created = handlers.create_message(
        chat.conversation_id,
        request.user,
        chat.peer,
        frame.content,
        frame.client_id,
        bucket=TokenBucket("messages", conf.limits().rate),
    )
    payload = message_payload(message)
    async_to_sync(broadcast_message)(message, message_frame(payload))
    if created:
        notification_service.notify_new_message(message)
    return json_response({"message": payload}, status=201 if created else 200)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """JSON for the API, Django's page for forms."""
    if request.path.startswith("/messages/api/"):
        return api_error(Forbidden(f"CSRF check failed: {reason}; send the X-CSRFToken header"))
    return django_csrf_failure(request, reason=reason)


# --- Pages ------------------------------------------------------------------

#: how many usernames one search answers with
USER_SEARCH_LIMIT = 10


def _presence_payload(online: bool, last_seen: Any) -> dict[str, Any]:
    return {"online": online, "last_seen": last_seen}


def _page_json(value: Any) -> Any:
    """``value`` as the API would send it (the contract's datetimes), for ``json_script``."""
    return JSONSerializer.loads(JSONSerializer.dumps(value))


def inbox_rows(user: Any, current: str | None = None) -> list[dict[str, Any]]:
    """The inbox as JSON-ready rows: peer with presence, last message, unread count.

    ``current``: the peer of the chat page asking, whose conversation is listed
    even before its first message.
    """
    rows = handlers.conversations_for(user, current=current)
    presence = handlers.presence_of_many([row["peer"].pk for row in rows], conf.limits().presence_expiry)
    return [
        {
            "peer": {"username": row["peer"].get_username(), **_presence_payload(*presence[row["peer"].pk])},
            "url": reverse("chat", args=[row["peer"].get_username()]),
            "last_message": message_payload(row["last_message"]) if row["last_message"] else None,
            "last_activity": row["conversation"].last_message_at or row["conversation"].created_at,
            "unread": row["unread"],
        }
        for row in rows
    ]


@require_GET
@api_view
def api_conversations(request: HttpRequest) -> HttpResponse:
    """The inbox rows, for the inbox page and the chat page's sidebar (``?current=<peer>``) to refresh themselves."""
    return json_response({"conversations": inbox_rows(request.user, request.GET.get("current", "")[:150] or None)})


@require_GET
@api_view
def api_users(request: HttpRequest) -> HttpResponse:
    """Usernames containing ``q`` (yourself excluded), to start a conversation."""
    users = handlers.search_users(request.user, request.GET.get("q", "")[:150], USER_SEARCH_LIMIT)
    presence = handlers.presence_of_many([u.pk for u in users], conf.limits().presence_expiry)
    return json_response(
        {
            "users": [
                {
                    "username": u.get_username(),
                    "url": reverse("chat", args=[u.get_username()]),
                    **_presence_payload(*presence[u.pk]),
                }
                for u in users
            ]
        }
    )

