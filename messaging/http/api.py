"""The HTTP API of the contract: the socket's requests for clients that cannot hold a socket.

It speaks the socket's language: the same validator, limits, rate bucket,
idempotency, membership checks and error body
``{"type": "error", "code", "detail"}``, and it publishes what it changes
through the same actions. The first contract's one-to-one endpoints
(``/messages/api/<username>/history`` and ``send``) are kept beside it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from asgiref.sync import async_to_sync
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.csrf import csrf_failure as django_csrf_failure
from django.views.decorators.http import require_GET, require_POST

from .. import conf, notification_service
from ..actions import membership, pages
from ..actions import messages as message_actions
from ..actions import receipts as receipt_actions
from ..actions.errors import wire_error
from ..connection_validator import (
    AddMembersFrame,
    ConnectionValidator,
    ConversationsFrame,
    CreateGroupFrame,
    Frame,
    HistoryFrame,
    LeaveFrame,
    MessageFrame,
    ReadFrame,
    RemoveMemberFrame,
    RenameFrame,
    SearchFrame,
    SyncFrame,
)
from ..exceptions import Forbidden, InvalidFrame, InvalidJSON, MessagingException, NotFound, RateLimited, TooLarge
from ..guards.admission import Admission
from ..guards.search import check_search_allowance
from ..models import EventKind
from ..pubsub import publish_event
from ..serializers import (
    Cursors,
    EventPayload,
    JSONSerializer,
    conversation_payload,
    error_frame,
    event_payload,
    history_frame,
    identity_payload,
    message_payload,
    receipt_payload,
    search_frame,
    sync_frame,
)
from ..store import conversations, events, reading, receipts
from ..store import search as search_store
from ..store.errors import StoreError, Unavailable
from ..store.users import User, find_peer, search_users
from .fetch_allowance import fetch_allowance
from .signed_in import SignedInRequest

#: how many usernames one search answers with
USER_SEARCH_LIMIT = 10


def json_response(body: Mapping[str, object], status: int = 200) -> HttpResponse:
    return HttpResponse(JSONSerializer.dumps(body), status=status, content_type="application/json")


def page_response(build: Callable[[int], Mapping[str, object]], count: int) -> tuple[HttpResponse, int]:
    """The largest page ``build(k)`` within ``MESSAGING_PAGE_BYTES`` (actions/pages.py), and how many items it holds."""
    text, sent = pages.fit(build, count, conf.limits().page_bytes)
    return HttpResponse(text, content_type="application/json"), sent


def api_error(error: MessagingException) -> HttpResponse:
    response = json_response(error_frame(error), status=error.http_status)
    if isinstance(error, RateLimited) and "retry_after" in error.extra:
        response["Retry-After"] = str(max(1, math.ceil(error.extra["retry_after"])))
    return response


def api_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous callers get 403 JSON; the store's refusals and messaging errors become their JSON answer."""

    @functools.wraps(view)
    def wrapper(request: SignedInRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return api_error(Forbidden("sign in first"))
        try:
            return view(request, *args, **kwargs)
        except StoreError as exc:
            return api_error(wire_error(exc))
        except MessagingException as error:
            return api_error(error)

    return wrapper


def _validator(*, conversation_required: bool = True) -> ConnectionValidator:
    limits = conf.limits()
    return ConnectionValidator(
        max_length=limits.max_length,
        max_frame_bytes=limits.max_frame_bytes,
        max_title_length=limits.max_title_length,
        conversation_required=conversation_required,
    )


FrameT = TypeVar("FrameT", bound=Frame)


def _frame(frame_type: str, kind: type[FrameT], data: dict[str, Any], *, conversation_required: bool = True) -> FrameT:
    """``data`` validated as a socket frame of ``frame_type`` (the validator's ``kind``), or its protocol error raised."""
    frame: Frame | MessagingException = _validator(conversation_required=conversation_required).validate_message_data(
        {**data, "type": frame_type}
    )
    if isinstance(frame, MessagingException):
        raise frame
    if not isinstance(frame, kind):
        raise TypeError(f"the validator made a {type(frame).__name__} of a {frame_type!r} frame")
    return frame


def _body(request: HttpRequest) -> dict[str, Any]:
    """The request's JSON object body, within the frame size limit."""
    limit = conf.limits().max_frame_bytes
    if len(request.body) > limit:
        raise TooLarge(f"the body is over {limit} bytes", limit=limit, setting="MESSAGING_MAX_FRAME_BYTES")
    try:
        body = JSONSerializer.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidJSON("the body is not JSON") from None
    if not isinstance(body, dict):
        raise InvalidFrame("the body must be a JSON object")
    return body


def _parse_int(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidFrame(f"'{name}' must be an integer") from None


# --- The user's allowance (messaging/guards/admission.py): checked before any database work ---


def _admitted(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A POST that adds an event (a group change) takes the user's token first; a repeat within the repeat allowance gives it back."""

    @functools.wraps(view)
    def wrapper(request: SignedInRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        admission = Admission(conf.limits())
        admission.admit_sync(request.user.pk)
        response = view(request, *args, **kwargs)
        if response.status_code == 200:  # a repeat: 201 stored it, errors raised
            admission.settle_sync(request.user.pk, created=False)
        return response

    return wrapper


def _store_message(request: SignedInRequest, conversation_id: int, frame: MessageFrame) -> events.Appended:
    """Store a message sent over HTTP within the user's allowance, shared with their sockets."""
    admission = Admission(conf.limits())
    admission.admit_sync(request.user.pk)
    try:
        appended = events.create_message(
            conversation_id,
            request.user,
            frame.content,
            frame.client_id,
            reply_to=getattr(frame, "reply_to", None),
            attachments=getattr(frame, "attachments", ()),
        )
    except Unavailable:
        admission.refund_sync(request.user.pk)
        raise
    if not appended.created:
        admission.settle_sync(request.user.pk, created=False)
    return appended


# --- Conversations ----------------------------------------------------------------


@api_view
def api_conversations(request: SignedInRequest) -> HttpResponse:
    """GET: a page of the inbox; POST: create a group."""
    if request.method == "POST":
        return _admitted(_create_group)(request)
    if request.method != "GET":
        return json_response(error_frame(InvalidFrame("GET or POST")), status=405)
    return _inbox(request)


@fetch_allowance("conversations")
def _inbox(request: SignedInRequest) -> HttpResponse:
    frame = _frame(
        "conversations",
        ConversationsFrame,
        {"before": request.GET.get("before") or None, "limit": _parse_int(request.GET.get("limit"), "limit")},
    )
    before = conversations.decode_cursor(frame.before) if frame.before else None
    if frame.before and before is None:
        raise NotFound("that page cursor is not one this server gave")
    current = request.GET.get("current", "")[:150]
    peer = find_peer(request.user, current) if current else None
    rows, has_more, next_cursor = reading.inbox(
        request.user,
        before=before,
        limit=frame.limit,
        expiry=conf.limits().presence_expiry,
        current_peer_id=peer.pk if peer is not None else None,
    )

    def page(k: int) -> dict[str, Any]:
        cut = k < len(rows)
        return {
            "conversations": [conversation_payload(r) for r in rows[:k]],
            "has_more": has_more or cut,
            "next": conversations.encode_cursor(rows[k - 1].activity, rows[k - 1].conversation.pk)
            if cut
            else next_cursor,
        }

    return page_response(page, len(rows))[0]


def _create_group(request: SignedInRequest) -> HttpResponse:
    frame = _frame("create_group", CreateGroupFrame, _body(request))
    change = conversations.create_group(
        request.user, frame.title, list(frame.members), frame.client_id, max_members=conf.limits().max_group_members
    )
    payload = async_to_sync(membership.announce)(change)
    summary = reading.with_presence([conversations.summary_of(request.user, change.conversation.pk)], 0)[0]
    return json_response(
        {"conversation": conversation_payload(summary), "event": payload},
        status=201 if change.appended.created else 200,
    )


@require_GET
@api_view
@fetch_allowance("members")
def api_conversation(request: SignedInRequest, conversation_id: int) -> HttpResponse:
    summary, receipt_rows = reading.conversation_detail(request.user, conversation_id, conf.limits().presence_expiry)
    return json_response(
        {"conversation": conversation_payload(summary), "receipts": [receipt_payload(r) for r in receipt_rows]}
    )


@require_GET
@api_view
@fetch_allowance("sync")
def api_events(request: SignedInRequest, conversation_id: int) -> HttpResponse:
    """A ``sync`` page: every event after ``after`` the user may see, oldest first."""
    frame = _frame(
        "sync",
        SyncFrame,
        {
            "conversation": conversation_id,
            "after": _parse_int(request.GET.get("after"), "after") or 0,
            "limit": _parse_int(request.GET.get("limit"), "limit"),
        },
    )
    page = reading.sync_page(request.user.pk, conversation_id, frame.after, frame.limit)
    events_ = page.page.events

    def body(k: int) -> dict[str, Any]:
        frame_ = sync_frame(
            conversation_id, events_[:k], page.page.has_more or k < len(events_), page.last_seq, page.receipts
        )
        return {key: value for key, value in frame_.items() if key != "type"}

    return page_response(body, len(events_))[0]


@require_GET
@api_view
@fetch_allowance("history")
def api_conversation_history(request: SignedInRequest, conversation_id: int) -> HttpResponse:
    """A ``history`` page: before ``before`` (the newest without it), or ``around`` a seq."""
    frame = _frame(
        "history",
        HistoryFrame,
        {
            "conversation": conversation_id,
            "before": _parse_int(request.GET.get("before"), "before"),
            "around": _parse_int(request.GET.get("around"), "around"),
            "limit": _parse_int(request.GET.get("limit"), "limit"),
        },
    )
    if frame.around is not None:
        member, page = reading.around_page(request.user.pk, conversation_id, frame.around, frame.limit)
        around = history_frame(conversation_id, page.events, page.has_more, page.has_newer)
        return json_response({key: value for key, value in around.items() if key != "type"})
    member, page = reading.history_page(request.user.pk, conversation_id, frame.before, frame.limit)

    def body(k: int) -> dict[str, Any]:
        frame_ = history_frame(conversation_id, page.events[:k], page.has_more or k < len(page.events))
        return {key: value for key, value in frame_.items() if key != "type"}

    return page_response(body, len(page.events))[0]


@require_POST
@api_view
def api_send_to_conversation(request: SignedInRequest, conversation_id: int) -> HttpResponse:
    frame = _frame("message", MessageFrame, {**_body(request), "conversation": conversation_id, "to": None})
    appended = _store_message(request, conversation_id, frame)
    payload = _announce_message(appended)
    return json_response({"event": payload}, status=201 if appended.created else 200)


def _announce_message(appended: events.Appended) -> EventPayload:
    """Publish a message stored over HTTP and make its notifications here (a view has no loop to leave them in)."""
    if not appended.created:
        return event_payload(appended.event)
    payload = async_to_sync(publish_event)(appended)
    notification_service.notify_new_message(appended.event)
    return payload


@require_POST
@api_view
def api_read(request: SignedInRequest, conversation_id: int) -> HttpResponse:
    frame = _frame("read", ReadFrame, {**_body(request), "conversation": conversation_id})
    conversations.member_of(request.user.pk, conversation_id)
    [settled] = receipts.apply_receipts(
        [receipts.CursorMark(conversation_id, request.user.pk, request.user.get_username(), read=frame.up_to)]
    )
    async_to_sync(receipt_actions.announce)(settled)
    member = conversations.member_of(request.user.pk, conversation_id)
    return json_response({"read_seq": member.read_seq, "delivered_seq": member.delivered_seq})


def _group_change(request: SignedInRequest, change: conversations.MembershipChange) -> HttpResponse:
    payload = async_to_sync(membership.announce)(change)
    return json_response({"event": payload}, status=201 if change.appended.created else 200)


@require_POST
@api_view
@_admitted
def api_add_members(request: SignedInRequest, conversation_id: int) -> HttpResponse:
    frame = _frame("add_members", AddMembersFrame, {**_body(request), "conversation": conversation_id})
    return _group_change(
        request,
        conversations.add_members(
            request.user,
            conversation_id,
            list(frame.users),
            frame.client_id,
            max_members=conf.limits().max_group_members,
        ),
    )


@require_POST
@api_view
@_admitted
def api_remove_member(request: SignedInRequest, conversation_id: int, username: str) -> HttpResponse:
    frame = _frame(
        "remove_member", RemoveMemberFrame, {**_body(request), "conversation": conversation_id, "user": username}
    )
    return _group_change(
        request, conversations.remove_member(request.user, conversation_id, frame.user, frame.client_id)
    )


@require_POST
@api_view
@_admitted
def api_leave(request: SignedInRequest, conversation_id: int) -> HttpResponse:
    frame = _frame("leave", LeaveFrame, {**_body(request), "conversation": conversation_id})
    return _group_change(request, conversations.leave(request.user, conversation_id, frame.client_id))


@require_POST
@api_view
@_admitted
def api_rename(request: SignedInRequest, conversation_id: int) -> HttpResponse:
    frame = _frame("rename", RenameFrame, {**_body(request), "conversation": conversation_id})
    return _group_change(request, conversations.rename(request.user, conversation_id, frame.title, frame.client_id))


# --- Search -----------------------------------------------------------------------


@require_GET
@api_view
def api_search(request: SignedInRequest) -> HttpResponse:
    """``GET /messages/api/search?q=…&cursor=…&sort=…&limit=…&count=exact``: a page of the socket's ``search`` answer."""
    frame = _frame(
        "search",
        SearchFrame,
        {
            "q": request.GET.get("q", ""),
            "cursor": request.GET.get("cursor") or None,
            "sort": request.GET.get("sort") or None,
            "limit": _parse_int(request.GET.get("limit"), "limit"),
            "count": request.GET.get("count") or None,
        },
    )
    check_search_allowance(request.user.pk)
    page = search_store.search(
        request.user, frame.q, cursor=frame.cursor, sort=frame.sort, limit=frame.limit, count=frame.count
    )
    return json_response({key: value for key, value in search_frame(page).items() if key != "type"})


# --- People -----------------------------------------------------------------------


@require_GET
@api_view
def api_users(request: SignedInRequest) -> HttpResponse:
    """Usernames containing ``q`` (yourself excluded), to start a conversation or add members."""
    from ..store.presence import presence_of_many

    users = search_users(request.user, request.GET.get("q", "")[:150], USER_SEARCH_LIMIT)
    presence = presence_of_many([u.pk for u in users], conf.limits().presence_expiry)
    return json_response(
        {
            "users": [
                {
                    **identity_payload(u),
                    "url": reverse("chat", args=[u.get_username()]),
                    "online": presence[u.pk][0],
                    "last_seen": presence[u.pk][1],
                }
                for u in users
            ]
        }
    )


# --- The first contract's one-to-one endpoints ---------------------------------------


def _direct(request: SignedInRequest, username: str) -> tuple[int, User]:
    peer = find_peer(request.user, username)
    if peer is None:
        raise NotFound(f"there is no one called {username!r} to talk to")
    conversation, created = conversations.get_or_create_direct(request.user, peer)
    if created:
        async_to_sync(message_actions.announce_direct)(conversations.direct_notices(conversation, request.user, peer))
    return conversation.pk, peer


@require_GET
@api_view
@fetch_allowance("history")
def api_history(request: SignedInRequest, username: str) -> HttpResponse:
    """A page of messages: the newest, ``before`` a seq (newest first) or ``after`` a seq (oldest first).

    Fetching is delivery here (the first contract's rule).
    """
    before = _parse_int(request.GET.get("before"), "before")
    after = _parse_int(request.GET.get("after"), "after")
    if before is not None and after is not None:
        raise InvalidFrame("give 'before' or 'after', not both")
    limit = _parse_int(request.GET.get("limit"), "limit")
    history = _frame("history", HistoryFrame, {"before": before, "limit": limit}, conversation_required=False)
    if after is not None:
        _frame("sync", SyncFrame, {"after": after}, conversation_required=False)
    conversation_id, peer = _direct(request, username)
    member = conversations.member_of(request.user.pk, conversation_id)
    if after is not None:
        page = events.events_after(member, after, history.limit)
    else:
        page = events.events_before(member, before, history.limit)
    # What fits in MESSAGING_PAGE_BYTES is what this fetch hands over, and so delivers.
    _, sent = pages.fit(
        lambda k: {"messages": [event_payload(e) for e in page.events[:k]], "has_more": True},
        len(page.events),
        conf.limits().page_bytes,
    )
    shown, has_more = page.events[:sent], page.has_more or sent < len(page.events)
    highest_incoming = max((e.seq for e in shown if e.sender_id != request.user.pk), default=0)
    if highest_incoming > member.delivered_seq:
        [settled] = receipts.apply_receipts(
            [
                receipts.CursorMark(
                    conversation_id, request.user.pk, request.user.get_username(), delivered=highest_incoming
                )
            ]
        )
        async_to_sync(receipt_actions.announce)(settled)
        member = conversations.member_of(request.user.pk, conversation_id)
    mine = Cursors(
        request.user.get_username(), member.delivered_seq, member.read_seq, member.delivered_at, member.read_at
    )
    peer_row = reading.peer_receipts(request.user.pk, conversation_id)  # the read-receipts rule applied
    theirs = (
        Cursors(
            peer.get_username(),
            peer_row[0].delivered_seq,
            peer_row[0].read_seq,
            peer_row[0].delivered_at,
            peer_row[0].read_at,
        )
        if peer_row
        else Cursors(peer.get_username())
    )
    items = [
        message_payload(event_payload(e), mine if e.sender_id != request.user.pk else theirs)
        for e in shown
        if e.kind == EventKind.MESSAGE and not getattr(e, "hidden", False)
    ]
    return json_response({"messages": items, "has_more": has_more})


@require_POST
@api_view
def api_send(request: SignedInRequest, username: str) -> HttpResponse:
    frame = _frame("message", MessageFrame, _body(request), conversation_required=False)
    conversation_id, peer = _direct(request, username)
    appended = _store_message(request, conversation_id, frame)
    payload = _announce_message(appended)
    return json_response(
        {"message": message_payload(payload, Cursors(peer.get_username()))}, status=201 if appended.created else 200
    )


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """JSON for the API, Django's page for forms."""
    if request.path.startswith("/messages/api/"):
        return api_error(Forbidden(f"CSRF check failed: {reason}; send the X-CSRFToken header"))
    return django_csrf_failure(request, reason=reason)
