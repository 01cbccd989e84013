"""Deliver a notification: store it, push it to sockets and browsers, email it when nothing reached the user.

:func:`notify` (and :func:`anotify` from async code) is the one entry point.
The steps are independent, so each may fail without losing the others:

1. **Store.** The database is the truth: every notification is a row before
   anything else happens. Similar notifications within
   ``MESSAGING_NOTIFICATION_GROUP_SECONDS`` share a row ("3 new messages from
   alice").
2. **Push** over the channel layer to the user's ``ws/notifications/``
   sockets, with the new unread count. A layer that is down only costs the
   push: the client gets the notification from ``list`` and ``unread_count``
   when it reconnects.
3. **Web Push** to every browser the user subscribed (``PushSubscription``),
   when Web Push is on, the user wants desktop alerts and is outside their
   quiet hours (a mention in a conversation they muted: never). The server
   cannot tell a hidden tab from a visible one, so it does not try: every
   notification is pushed, and the service worker, which sees the tabs, does
   not show one for a conversation a visible tab has open (the page shows it
   in-app). Like the email, the push is written to the retry queue in the
   notification's transaction (one item for all the user's browsers) and
   tried at once in a thread pool; browsers whose push service answered
   404/410 are forgotten, 429/5xx/network failures are retried through the
   queue and the ``webpush`` breaker.
4. **Email**, when the user has no open socket, wants email for this kind and
   is outside their quiet hours, and either has no browser subscribed or the
   push reached none of them (every push service said "gone" or refused, or
   the retries gave up). The email is written to the durable retry queue (an
   outbox) and tried at once in a small thread pool, so a slow or refusing
   SMTP server never holds up the chat and a failed email is retried by
   ``process_retry_queue``.
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import close_old_connections, connection, transaction
from django.db.models import CharField, F, Value
from django.db.models.functions import Cast, Replace
from django.utils import timezone

from . import conf
from .guards.circuit_breaker import make_breaker
from .logging_utils import category_for_exception, messaging_logger
from .models import (
    Connection,
    Conversation,
    Event,
    Notification,
    NotificationBadge,
    NotificationKind,
    NotificationPreference,
    Profile,
    PushSubscription,
)
from .notify import webpush
from .ops import metrics
from .pubsub import broadcast_frame, notifications_group
from .retry_handler import claim, enqueue, is_transient, retry_operation, run_item
from .serializers import notification_frame, shown_name, unread_count_frame
from .store.message_actions import mentioned_names
from .store.notifications import (
    members_muting,
    members_not_viewing,
    members_viewing,
    new_message_group_key,
    notification_unread_count,
    notification_unread_counts,
)
from .store.notifications import new_message_recipients as store_new_message_recipients
from .store.users import User

EMAIL_OPERATION = "notification.email"
WEBPUSH_OPERATION = "notification.webpush"


# --- Preferences -------------------------------------------------------------


@dataclass(frozen=True)
class Preference:
    in_app: bool = True
    email: bool = True
    quiet_hours_start: datetime.time | None = None
    quiet_hours_end: datetime.time | None = None
    timezone: str = "UTC"
    desktop: bool = True


def _preference(row: NotificationPreference) -> Preference:
    return Preference(row.in_app, row.email, row.quiet_hours_start, row.quiet_hours_end, row.timezone, row.desktop)


def preference_for(user_id: int, kind: str) -> Preference:
    row = NotificationPreference.objects.filter(user_id=user_id, kind=kind).first()
    if row is None:
        return Preference()
    return _preference(row)


def in_quiet_hours(
    moment: datetime.datetime, start: datetime.time | None, end: datetime.time | None, tz_name: str
) -> bool:
    """Whether ``moment`` falls in the daily window [start, end) of zone ``tz_name``.

    A window that ends before it starts spans midnight (22:00-07:00). No
    window, or an empty one (start == end), is never quiet. An unknown zone
    is read as UTC.
    """
    if start is None or end is None or start == end:
        return False
    try:
        zone = zoneinfo.ZoneInfo(tz_name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    local = moment.astimezone(zone).time().replace(tzinfo=None)
    if start < end:
        return start <= local < end
    return local >= start or local < end


# --- Store ---------------------------------------------------------------------


@dataclass
class Delivery:
    """What :func:`store_notification` stored and decided."""

    notification: Notification
    push: bool
    unread: int
    listening: bool = False
    email_item_id: int | None = None
    push_item_id: int | None = None


def _group_seconds() -> float:
    return conf.float_setting("MESSAGING_NOTIFICATION_GROUP_SECONDS")


def store_notification(
    user_id: int,
    kind: str,
    title: str,
    body: str = "",
    url: str = "",
    *,
    group_key: str = "",
    group_title: str | None = None,
    message: Event | None = None,
    now: datetime.datetime | None = None,
    sockets: Sockets | None = None,
) -> Delivery:
    """Store (or fold into a recent similar one) and decide push and email.

    ``group_title`` may hold ``{count}``: the title of a grouped row.
    ``sockets``: the user's live sockets, when the caller has read them already.
    """
    now = now or timezone.now()
    if sockets is None:
        sockets = live_sockets(user_id, now)
    preference = preference_for(user_id, kind)
    with transaction.atomic():
        existing = None
        if group_key:
            existing = (
                Notification.objects.select_for_update()
                .filter(
                    user_id=user_id,
                    group_key=group_key,
                    read=False,
                    updated_at__gte=now - datetime.timedelta(seconds=_group_seconds()),
                )
                .order_by("-id")
                .first()
            )
        if existing is not None:
            existing.count += 1
            existing.title = (group_title or title).format(count=existing.count)
            existing.body = body
            existing.updated_at = now
            existing.message = message or existing.message
            existing.save(update_fields=["count", "title", "body", "updated_at", "message"])
            notification, created = existing, False
        else:
            notification = Notification.objects.create(
                user_id=user_id,
                kind=kind,
                title=title,
                body=body,
                url=url,
                group_key=group_key,
                message=message,
                created_at=now,
                updated_at=now,
            )
            created = True
        delivery = Delivery(
            notification=notification,
            push=preference.in_app,
            unread=notification_unread_count(user_id),
        )
        push_decision, subscriptions = _webpush_decision(user_id, preference, now)
        metrics.NOTIFICATION_DELIVERIES.labels("webpush", push_decision).inc()
        if push_decision == "queued":
            item = enqueue(
                WEBPUSH_OPERATION,
                {"notification": notification.pk, "subscriptions": subscriptions, "delivered": 0},
                notification=notification,
            )
            delivery.push_item_id = item.pk
        if not created:
            decision = "grouped"
        elif push_decision == "queued":
            decision = "waiting_for_push"  # decided again if the push reaches no browser
        else:
            decision = _email_decision(user_id, preference, now, online=bool(sockets))
        metrics.NOTIFICATION_DELIVERIES.labels("email", decision).inc()
        if decision == "queued":
            item = enqueue(EMAIL_OPERATION, {"notification": notification.pk}, notification=notification)
            notification.email_state = Notification.EmailState.QUEUED
            notification.save(update_fields=["email_state"])
            delivery.email_item_id = item.pk
    # Read after the commit: a bell opened meanwhile read the new count itself, or gets the push.
    delivery.listening = user_id in _listening([user_id])
    return delivery


#: a user's live sockets: (kind, conversation id or None) of each
Sockets = frozenset[tuple[str, int | None]]


def live_sockets(user_id: int, now: datetime.datetime) -> Sockets:
    """One query for what the notification decisions need to know of the user's open sockets."""
    cutoff = now - datetime.timedelta(seconds=conf.limits().presence_expiry)
    live = Connection.objects.filter(user_id=user_id, last_heartbeat__gte=cutoff)
    return frozenset(live.values_list("kind", "conversation_id"))


def _email_decision(user_id: int, preference: Preference, now: datetime.datetime, *, online: bool) -> str:
    """:func:`_email_decision_for` one user, whose address is looked up (one query) only if they would be emailed."""
    decision = _email_decision_for(preference, now, online=online, address=None)
    if decision != "skipped_no_address":
        return decision
    address = get_user_model().objects.filter(pk=user_id).values_list("email", flat=True).first()
    return _email_decision_for(preference, now, online=online, address=address)


def _email_decision_for(preference: Preference, now: datetime.datetime, *, online: bool, address: str | None) -> str:
    """ "queued", or why not: email only a user who is away (no open socket anywhere) and has an address."""
    if not preference.email:
        return "skipped_preference"
    if in_quiet_hours(now, preference.quiet_hours_start, preference.quiet_hours_end, preference.timezone):
        return "skipped_quiet_hours"
    if online:
        return "skipped_online"
    if not address:
        return "skipped_no_address"
    return "queued"


def _webpush_decision(user_id: int, preference: Preference, now: datetime.datetime) -> tuple[str, list[int]]:
    """ "queued" with the browsers to push to, or why not (their subscriptions are read only if it may be)."""
    decision = _webpush_decision_for(preference, now, [0])
    if decision != "queued":
        return decision, []
    subscriptions = list(PushSubscription.objects.filter(user_id=user_id).values_list("pk", flat=True))
    return _webpush_decision_for(preference, now, subscriptions), subscriptions


def _webpush_decision_for(preference: Preference, now: datetime.datetime, subscriptions: list[int]) -> str:
    if not webpush.enabled():
        return "skipped_disabled"
    if not preference.desktop:
        return "skipped_preference"
    if in_quiet_hours(now, preference.quiet_hours_start, preference.quiet_hours_end, preference.timezone):
        return "skipped_quiet_hours"
    if not subscriptions:
        return "skipped_no_subscription"
    return "queued"


def _subscriptions_of(user_ids: list[int]) -> dict[int, list[int]]:
    """Each user's push subscriptions (one query), when Web Push is on."""
    found: dict[int, list[int]] = {}
    if webpush.enabled():
        for user_id, pk in PushSubscription.objects.filter(user_id__among=user_ids).values_list("user_id", "pk"):
            found.setdefault(user_id, []).append(pk)
    return found


# --- Push ------------------------------------------------------------------------


async def push(delivery: Delivery) -> bool:
    """Send the notification and the unread count to the user's sockets.

    Channel layer only (no database), so sync code can call it through
    ``async_to_sync``. True when the layer took both frames.
    """
    group = notifications_group(delivery.notification.user_id)
    if not delivery.listening:
        # No bell is open: nothing to send; one that opens reads its count then.
        metrics.NOTIFICATION_DELIVERIES.labels("websocket", "no_listener").inc()
        return True
    pushed = True
    if delivery.push:
        pushed = await broadcast_frame(group, "notification.push", notification_frame(delivery.notification))
        outcome = ("sent" if delivery.listening else "no_listener") if pushed else "failed"
    else:
        outcome = "skipped_preference"
    metrics.NOTIFICATION_DELIVERIES.labels("websocket", outcome).inc()
    counted = await push_unread_count(delivery.notification.user_id, delivery.unread)
    return pushed and counted


def record_push(delivery: Delivery) -> None:
    """Note that the notification went out to a listening socket."""
    if delivery.push and delivery.listening:
        Notification.objects.filter(pk=delivery.notification.pk).update(pushed_at=timezone.now())


async def push_unread_count(user_id: int, count: int) -> bool:
    return await broadcast_frame(notifications_group(user_id), "notification.push", unread_count_frame(count))


# --- Immediate attempts of queued work ----------------------------------------------

_email_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="linkup-email")
# Pushes have a pool of their own: an SMTP server that hangs must not hold
# up the pushes, nor a push service the emails.
_push_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="linkup-webpush")
# An SMTP server that is down makes every attempt wait for EMAIL_TIMEOUT; the
# breaker turns that into an immediate "not now" (the item stays queued).
smtp_breaker = make_breaker("smtp")
_pending: set[Future] = set()


def _schedule(pool: ThreadPoolExecutor, item_id: int) -> Future:
    future = pool.submit(_attempt_now, item_id)
    _pending.add(future)
    future.add_done_callback(_pending.discard)
    return future


def schedule_email_attempt(item_id: int) -> Future:
    """Try a queued email now, off the event loop and off the database thread."""
    return _schedule(_email_pool, item_id)


def schedule_push_attempt(item_id: int) -> Future:
    """Try a queued Web Push now, off the event loop and off the database thread."""
    return _schedule(_push_pool, item_id)


def _attempt_now(item_id: int) -> None:
    try:
        if claim(item_id):
            run_item(item_id)
    except Exception as exc:  # noqa: BLE001 - in a pool thread nobody waits on: record, the worker retries it
        messaging_logger.error(
            category_for_exception(exc),
            "immediate attempt failed; the retry worker will take the item",
            context={"retry_item": item_id},
            exc=exc,
        )
    finally:
        close_old_connections()


def wait_for_attempts(timeout: float = 30) -> None:
    """Block until the immediate attempts (emails, pushes, and the emails they fall back to) are done."""
    while _pending:
        done, _ = wait(list(_pending), timeout=timeout)
        if not done:
            return


wait_for_email_attempts = wait_for_attempts


# --- Web Push --------------------------------------------------------------------------


def fall_back_to_email(payload: dict[str, Any]) -> None:
    """A push that reached none of the user's browsers: the email decides as if there had been no push."""
    if payload.get("delivered"):
        return
    metrics.NOTIFICATION_DELIVERIES.labels("webpush", "reached_none").inc()
    notification = Notification.objects.filter(pk=payload["notification"]).first()
    if notification is None or notification.email_state != Notification.EmailState.NONE:
        return
    now = timezone.now()
    preference = preference_for(notification.user_id, notification.kind)
    decision = _email_decision(
        notification.user_id, preference, now, online=bool(live_sockets(notification.user_id, now))
    )
    metrics.NOTIFICATION_DELIVERIES.labels("email", decision).inc()
    if decision != "queued":
        return
    with transaction.atomic():
        item = enqueue(EMAIL_OPERATION, {"notification": notification.pk}, notification=notification)
        Notification.objects.filter(pk=notification.pk).update(email_state=Notification.EmailState.QUEUED)
        transaction.on_commit(lambda: schedule_email_attempt(item.pk))


@retry_operation(WEBPUSH_OPERATION, on_exhausted=fall_back_to_email)
def push_to_browsers(payload: dict[str, Any]) -> None:
    """Push one notification to the user's browsers still left in ``payload``.

    Raises (a transient error) while some browser's push service could not
    take it, after narrowing ``payload["subscriptions"]`` to those: the next
    attempt pushes only to them. When none is left and none took it, the
    email decides again (:func:`fall_back_to_email`).
    """
    notification = Notification.objects.select_related("message__sender").filter(pk=payload["notification"]).first()
    if notification is None:
        return
    data = webpush.encode_payload(
        webpush.payload_for(notification, hide_content=Profile.hides_content(notification.user_id))
    )
    left: list[int] = []
    failure: BaseException | None = None
    subscriptions = PushSubscription.objects.filter(pk__in=payload["subscriptions"], user_id=notification.user_id)
    for subscription in subscriptions:
        try:
            taken = webpush.send(subscription.info(), data)
        except Exception as exc:  # noqa: BLE001 - sorted: transient ones are retried, the others recorded
            if is_transient(exc):
                left.append(subscription.pk)
                failure = exc
            else:
                messaging_logger.error(
                    category_for_exception(exc),
                    "a push service refused a push; it is not retried",
                    user=notification.user,
                    context={"notification": notification.pk, "subscription": subscription.pk},
                    exc=exc,
                    message_id=notification.message_id,
                )
            continue
        if taken:
            payload["delivered"] += 1
            PushSubscription.objects.filter(pk=subscription.pk).update(last_success_at=timezone.now())
        else:
            subscription.delete()
    payload["subscriptions"] = left
    if failure is not None:
        raise failure
    if payload["delivered"]:
        metrics.NOTIFICATION_DELIVERIES.labels("webpush", "delivered").inc()
    else:
        fall_back_to_email(payload)


# --- Email ------------------------------------------------------------------------


def site_url() -> str:
    return conf.str_setting("MESSAGING_SITE_URL").rstrip("/")


@retry_operation(EMAIL_OPERATION)
def send_notification_email(payload: dict[str, Any]) -> None:
    """Email one notification; raises on failure so the queue can retry it."""
    notification = Notification.objects.select_related("user").filter(pk=payload["notification"]).first()
    if notification is None or notification.email_state == Notification.EmailState.SENT:
        return
    address = notification.user.email
    if not address:  # removed since the email was queued
        Notification.objects.filter(pk=notification.pk).update(email_state=Notification.EmailState.NONE)
        return
    link = f"{site_url()}{notification.url}" if notification.url.startswith("/") else notification.url
    lines = [notification.body, "", link] if notification.body else [link]
    try:
        smtp_breaker.call(
            send_mail,
            subject=f"LinkUp: {notification.title}",
            message="\n".join(lines).strip(),
            from_email=None,
            recipient_list=[address],
        )
    except Exception:
        metrics.NOTIFICATION_DELIVERIES.labels("email", "failed").inc()
        Notification.objects.filter(pk=notification.pk).update(email_state=Notification.EmailState.FAILED)
        raise
    metrics.NOTIFICATION_DELIVERIES.labels("email", "sent").inc()
    Notification.objects.filter(pk=notification.pk).update(
        email_state=Notification.EmailState.SENT, emailed_at=timezone.now()
    )


# --- Entry points -------------------------------------------------------------------


async def deliver(delivery: Delivery | None) -> None:
    """Push a stored notification to its sockets, and start its Web Push and email, if it has them (async callers)."""
    if delivery is None:
        return
    # Only a push to a listening socket is recorded: no trip to the database
    # thread for the others (a message to a big group delivers to hundreds).
    if await push(delivery) and delivery.push and delivery.listening:
        await database_sync_to_async(record_push)(delivery)
    _start_attempts(delivery)


def deliver_sync(delivery: Delivery | None) -> None:
    """:func:`deliver` for sync callers (views, commands)."""
    if delivery is None:
        return
    if async_to_sync(push)(delivery):
        record_push(delivery)
    _start_attempts(delivery)


def _start_attempts(delivery: Delivery) -> None:
    if delivery.push_item_id is not None:
        schedule_push_attempt(delivery.push_item_id)
    if delivery.email_item_id is not None:
        schedule_email_attempt(delivery.email_item_id)


def notify(user: User, kind: str, title: str, body: str = "", url: str = "", **options: Any) -> Notification:
    """Store, push and (when the user is away) email a notification.

    Only storing can raise: a push or an email that fails is recorded and
    left to ``sync``/``list`` or to the retry queue.
    """
    delivery = store_notification(user.pk, kind, title, body, url, **options)
    deliver_sync(delivery)
    return delivery.notification


async def anotify(user_id: int, kind: str, title: str, body: str = "", url: str = "", **options: Any) -> Notification:
    """:func:`notify` for async code."""
    delivery = await database_sync_to_async(store_notification)(user_id, kind, title, body, url, **options)
    await deliver(delivery)
    return delivery.notification


# --- new_message -----------------------------------------------------------------


def _new_message_texts(event: Event) -> dict[str, str]:
    """Title, grouped title, body and link of a message's notification, as its recipients see it."""
    conversation = event.conversation
    sender = shown_name(event.sender)
    preview = event.content if len(event.content) <= 140 else event.content[:139] + "…"
    if conversation.kind == Conversation.Kind.GROUP:
        return {
            "title": f"New message in {conversation.title}",
            "group_title": f"{{count}} new messages in {conversation.title}",
            "body": f"{sender}: {preview}",
            "url": f"/messages/c/{conversation.pk}/",
        }
    return {
        "title": f"New message from {sender}",
        "group_title": f"{{count}} new messages from {sender}",
        "body": preview,
        "url": f"/messages/{event.sender.get_username()}/",
    }


def new_message_recipients(event: Event, now: datetime.datetime) -> list[int]:
    """The members a message notifies: current members but the sender, not muted, not viewing it in a tab.

    One query, however big the group.
    """
    members = store_new_message_recipients([event.conversation_id], now, conf.limits().presence_expiry)
    return sorted(members[event.conversation_id] - {event.sender_id})


def store_new_message_notifications(event: Event, recipients: Iterable[int] | None = None) -> list[Delivery]:
    """The ``new_message`` notifications of a stored message, set-based for any group size.

    A member who already has an unread one for the conversation from the last
    ``MESSAGING_NOTIFICATION_GROUP_SECONDS`` gets it counted up (one UPDATE
    for all of them); the others get a new row (one bulk INSERT), and those
    who are away and want email or Web Push get it queued. A handful of
    queries however many members: a message to a big group never costs a
    query per member. Deliveries are returned only for members something
    goes out to (a listening bell, Web Push, email); who listens is read after
    the commit, so a bell that opens meanwhile reads the new count itself.

    Members a group message mentions (``@username``) get a ``mention``
    notification instead, even when they muted the group.
    """
    now = timezone.now()
    recipients = new_message_recipients(event, now) if recipients is None else list(recipients)
    deliveries = []
    mentioned = mentioned_members(event, now)
    if mentioned:
        deliveries += store_grouped_notifications(
            event,
            sorted(mentioned),
            kind=NotificationKind.MENTION,
            texts=_mention_texts(event),
            key=f"mention:{event.conversation_id}",
            now=now,
            silent=mentioned - set(recipients),  # who muted it: in the app only
        )
        recipients = [r for r in recipients if r not in mentioned]
    if not recipients:
        return deliveries
    return deliveries + store_grouped_notifications(
        event,
        recipients,
        kind=NotificationKind.NEW_MESSAGE,
        texts=_new_message_texts(event),
        key=new_message_group_key(event.conversation_id),
        now=now,
    )


def store_grouped_notifications(
    event: Event | None,
    recipients: list[int],
    *,
    kind: str,
    texts: dict[str, str],
    key: str,
    now: datetime.datetime | None = None,
    silent: set[int] | frozenset[int] = frozenset(),
) -> list[Delivery]:
    """Notifications of one kind about one message for many users, folded per user into a recent unread one (``key``).

    The set-based path of :func:`store_new_message_notifications`, for any kind.
    ``silent``: users who muted the conversation (a mention still reaches
    them): stored and shown in the app, never emailed nor pushed to a browser.
    """
    now = now or timezone.now()
    if not recipients:
        return []
    preferences = _preferences(recipients, kind)
    sockets = _live_sockets_of(recipients, now)
    subscriptions = _subscriptions_of(recipients)
    recipients = sorted(recipients)
    with transaction.atomic():
        _lock_badges(recipients)
        grouped = dict(
            Notification.objects.select_for_update()
            .filter(
                user_id__among=recipients,
                group_key=key,
                read=False,
                updated_at__gte=now - datetime.timedelta(seconds=_group_seconds()),
            )
            .order_by("user_id", "-id")
            .values_list("user_id", "id")
        )
        if grouped:
            Notification.objects.filter(pk__among=list(grouped.values())).update(
                count=F("count") + 1,
                title=Replace(
                    Value(texts["group_title"]),
                    Value("{count}"),
                    Cast(F("count") + 1, CharField()),  # type: ignore[arg-type]  # any expression (Django's docs); the stubs say Value
                ),
                body=texts["body"],
                updated_at=now,
                message=event,
            )
        fresh = Notification.objects.bulk_create(
            Notification(
                user_id=user_id,
                kind=kind,
                title=texts["title"],
                body=texts["body"],
                url=texts["url"],
                group_key=key,
                message=event,
                created_at=now,
                updated_at=now,
            )
            for user_id in recipients
            if user_id not in grouped
        )
        addresses = _email_addresses([n.user_id for n in fresh])
        outgoing: dict[int, tuple[str, str]] = {}
        for user_id in recipients:
            preference = preferences.get(user_id, Preference())
            push_decision = _webpush_decision_for(preference, now, subscriptions.get(user_id, []))
            if user_id in silent:
                push_decision = email_decision = "skipped_muted"
            elif user_id in grouped:
                email_decision = "grouped"
            elif push_decision == "queued":
                email_decision = "waiting_for_push"  # decided again if the push reaches no browser
            else:
                email_decision = _email_decision_for(
                    preference, now, online=bool(sockets.get(user_id)), address=addresses.get(user_id)
                )
            metrics.NOTIFICATION_DELIVERIES.labels("webpush", push_decision).inc()
            metrics.NOTIFICATION_DELIVERIES.labels("email", email_decision).inc()
            outgoing[user_id] = (push_decision, email_decision)
        # Rows are read back only for who something goes out to now or may later.
        wanted = {u for u in recipients if "queued" in outgoing[u] or _has_bell(sockets.get(u))}
        rows = {n.user_id: n for n in fresh if n.user_id in wanted}
        rows.update(
            (n.user_id, n)
            for n in Notification.objects.filter(pk__among=[pk for u, pk in grouped.items() if u in wanted])
        )
        deliveries = []
        for user_id, notification in rows.items():
            push_decision, email_decision = outgoing[user_id]
            delivery = Delivery(notification=notification, push=preferences.get(user_id, Preference()).in_app, unread=0)
            if push_decision == "queued":
                payload = {"notification": notification.pk, "subscriptions": subscriptions[user_id], "delivered": 0}
                delivery.push_item_id = enqueue(WEBPUSH_OPERATION, payload, notification=notification).pk
            if email_decision == "queued":
                delivery.email_item_id = enqueue(
                    EMAIL_OPERATION, {"notification": notification.pk}, notification=notification
                ).pk
                notification.email_state = Notification.EmailState.QUEUED
            deliveries.append(delivery)
        queued = [d.notification.pk for d in deliveries if d.email_item_id is not None]
        if queued:
            Notification.objects.filter(pk__among=queued).update(email_state=Notification.EmailState.QUEUED)
    # Who listens is read after the commit: a bell opened meanwhile read its
    # count before it, or gets the push now.
    listening = _listening(recipients)
    late = listening - {d.notification.user_id for d in deliveries}
    if late:
        for notification in Notification.objects.filter(user_id__among=late, group_key=key, updated_at=now):
            deliveries.append(
                Delivery(notification, push=preferences.get(notification.user_id, Preference()).in_app, unread=0)
            )
    unread = notification_unread_counts(listening)
    for delivery in deliveries:
        delivery.listening = delivery.notification.user_id in listening
        delivery.unread = unread.get(delivery.notification.user_id, 0)
    return deliveries


def _lock_badges(user_ids: list[int]) -> None:
    """Lock the users' badge rows in user order before their notifications are written.

    The notification triggers lock each user's badge row as they change it,
    in the order the rows are written (the grouped ones first, then the new
    ones); two such writes for the same users in another order would
    deadlock on PostgreSQL. Taken here in one sorted order, and new rows
    inserted in ``user_ids``' (sorted) order, they queue instead. One user,
    or no row locks (SQLite's one writer): no query.
    """
    if len(user_ids) > 1 and connection.features.has_select_for_update:
        list(
            NotificationBadge.objects.select_for_update()
            .filter(user_id__among=user_ids)
            .order_by("user_id")
            .values_list("user_id", flat=True)
        )


def _has_bell(sockets: Sockets | None) -> bool:
    return any(kind == Connection.Kind.NOTIFICATIONS for kind, _ in sockets or ())


def _listening(user_ids: list[int]) -> set[int]:
    """Who of these has a live ``ws/notifications/`` socket now (one query; none: no query)."""
    if not user_ids:
        return set()
    cutoff = timezone.now() - datetime.timedelta(seconds=conf.limits().presence_expiry)
    return set(
        Connection.objects.filter(
            user_id__among=user_ids, kind=Connection.Kind.NOTIFICATIONS, last_heartbeat__gte=cutoff
        ).values_list("user_id", flat=True)
    )


def _preferences(user_ids: list[int], kind: str) -> dict[int, Preference]:
    return {
        row.user_id: _preference(row)
        for row in NotificationPreference.objects.filter(user_id__among=user_ids, kind=kind)
    }


def _live_sockets_of(user_ids: list[int], now: datetime.datetime) -> dict[int, Sockets]:
    cutoff = now - datetime.timedelta(seconds=conf.limits().presence_expiry)
    found: dict[int, set[tuple[str, int | None]]] = {}
    for user_id, kind, conversation_id in Connection.objects.filter(
        user_id__among=user_ids, last_heartbeat__gte=cutoff
    ).values_list("user_id", "kind", "conversation_id"):
        found.setdefault(user_id, set()).add((kind, conversation_id))
    return {user_id: frozenset(kinds) for user_id, kinds in found.items()}


def _email_addresses(user_ids: list[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    return dict(get_user_model().objects.filter(pk__among=user_ids).exclude(email="").values_list("pk", "email"))


# --- mentions and reactions ---------------------------------------------------------


def mentioned_members(event: Event, now: datetime.datetime, names: Iterable[str] | None = None) -> set[int]:
    """Members of a group a message mentions by ``@username``, but its sender and who views the conversation now.

    No query unless the text holds an ``@`` (or ``names`` are given).
    """
    wanted = set(mentioned_names(event.content)) if names is None else set(names)
    wanted.discard(event.sender.get_username())
    if not wanted or event.conversation.kind != Conversation.Kind.GROUP:
        return set()
    return members_not_viewing(event.conversation_id, wanted, now, conf.limits().presence_expiry)


def _mention_texts(event: Event) -> dict[str, str]:
    conversation = event.conversation
    sender = shown_name(event.sender)
    return {
        "title": f"{sender} mentioned you in {conversation.title}",
        "group_title": f"{{count}} mentions of you in {conversation.title}",
        "body": f"{sender}: {_preview(event.content)}",
        "url": f"/messages/c/{conversation.pk}/",
    }


def _preview(content: str) -> str:
    return content if len(content) <= 140 else content[:139] + "…"


def store_mention_notifications(event: Event, user_ids: Iterable[int]) -> list[Delivery]:
    """``mention`` notifications for members an edit newly mentions (an edit notifies nobody else)."""
    users = sorted(set(user_ids) - {event.sender_id})
    if not users:
        return []
    now = timezone.now()
    viewing = members_viewing(event.conversation_id, users, now, conf.limits().presence_expiry)
    return store_grouped_notifications(
        event,
        [u for u in users if u not in viewing],
        kind=NotificationKind.MENTION,
        texts=_mention_texts(event),
        key=f"mention:{event.conversation_id}",
        now=now,
        silent=members_muting(event.conversation_id, users, now),
    )


def store_reaction_notification(reaction: Event, message: Any) -> list[Delivery]:
    """ "alice reacted 👍 to your message", for the message's author when they are away from the conversation.

    Away as for a new message: a current member who has not muted it and views
    it in no tab. Grouped per conversation like new-message notifications.
    """
    author = message.sender_id
    if author == reaction.sender_id or not isinstance(message, Event):
        return []
    if (
        author
        not in store_new_message_recipients([reaction.conversation_id], timezone.now(), conf.limits().presence_expiry)[
            reaction.conversation_id
        ]
    ):
        return []
    conversation = reaction.conversation
    who = reaction.sender.get_username()
    emoji = reaction.data.get("emoji", "")
    where = f" in {conversation.title}" if conversation.kind == Conversation.Kind.GROUP else ""
    texts = {
        "title": f"{who} reacted {emoji} to your message{where}",
        "group_title": f"{{count}} reactions to your messages{where}",
        "body": _preview(message.content),
        "url": f"/messages/c/{conversation.pk}/" if where else f"/messages/{who}/",
    }
    return store_grouped_notifications(
        message, [author], kind=NotificationKind.REACTION, texts=texts, key=f"reaction:{reaction.conversation_id}"
    )


def rewrite_previews(message: Event) -> None:
    """An edited message's new text in the notifications that quote it (the bell shows what the message says now)."""
    texts = _new_message_texts(message)
    Notification.objects.filter(message_id=message.pk, kind=NotificationKind.NEW_MESSAGE).update(body=texts["body"])
    if message.conversation.kind == Conversation.Kind.GROUP:
        Notification.objects.filter(message_id=message.pk, kind=NotificationKind.MENTION).update(
            body=_mention_texts(message)["body"]
        )
    Notification.objects.filter(message_id=message.pk, kind=NotificationKind.REACTION).update(
        body=_preview(message.content)
    )


def deliver_all_sync(deliveries: list[Delivery]) -> None:
    for delivery in deliveries:
        deliver_sync(delivery)


async def adeliver_all(deliveries: list[Delivery]) -> None:
    for delivery in deliveries:
        await deliver(delivery)


def notify_new_message(event: Event) -> None:
    """The members' ``new_message`` notifications. Never raises: the message is stored already."""
    try:
        for delivery in store_new_message_notifications(event):
            deliver_sync(delivery)
    except Exception as exc:  # noqa: BLE001 - a failed notification must not fail the send
        _log_new_message_failure(event, exc)


async def anotify_new_message(event: Event, recipients: Iterable[int] | None = None) -> None:
    """:func:`notify_new_message` for async code; ``recipients`` when already known (read with the commit)."""
    try:
        for delivery in await database_sync_to_async(store_new_message_notifications)(event, recipients):
            await deliver(delivery)
    except Exception as exc:  # noqa: BLE001 - a failed notification must not fail the send
        await database_sync_to_async(_log_new_message_failure)(event, exc)


def _log_new_message_failure(event: Event, exc: BaseException) -> None:
    messaging_logger.error(
        category_for_exception(exc),
        "could not create the new_message notifications",
        user=event.sender,
        context={"event": event.pk, "conversation": event.conversation_id},
        exc=exc,
        message_id=event.pk,
    )
