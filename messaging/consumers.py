"""The WebSocket consumers: thin, they parse, act through the handlers and speak.

``MessagingConsumer`` holds what both endpoints share: refusing handshakes
before ``accept`` (daphne answers 403), owning ``receive`` so that binary,
empty and malformed frames get an error frame instead of killing the
consumer, mapping exceptions to error frames in one place, guarding sends to
a socket that is already gone, and presence bookkeeping that also runs when
the consumer dies without ``disconnect``.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from typing import Any

from autobahn.exception import Disconnected
from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer

from . import conf, notification_service
from .async_handlers import AsyncSafeMessageHandler as db
from .async_handlers import ChatOpening, DeliveredMark, NewMessage, PresenceChange
from .connection_validator import (
    MAX_PAGE,
    ConnectionValidator,
    HistoryFrame,
    ListFrame,
    MarkAllReadFrame,
    MarkReadFrame,
    MessageFrame,
    PingFrame,
    ReadFrame,
    SyncFrame,
    TypingFrame,
    safe_get,
)
from .error_models import ErrorCategory
from .exceptions import MessagingException, ProtocolError, RateLimited, ServerError, TooManySockets
from .logging_utils import category_for_exception, messaging_logger
from .models import Connection, MessageStatus
from .ops import metrics
from .ops.rate_limit import LocalBucket, TokenBucket
from .pubsub import (
    broadcast_frame,
    broadcast_message,
    broadcast_presence,
    broadcast_status,
    presence_group,
    user_group,
)
from .realtime.presence import tracker
from .realtime.sessions import SessionGuard
from .realtime.writer import delivered_writer, message_writer
from .serializers import (
    PONG,
    JSONSerializer,
    ack_frame,
    connected_frame,
    error_frame,
    message_frame,
    message_payload,
    notifications_page_frame,
    page_frame,
    typing_frame,
    unread_count_frame,
)

log = logging.getLogger("messaging.consumers")

# The close code a server sees when the TCP connection dropped without a
# WebSocket close frame.
ABNORMAL_CLOSURE = 1006
# Well under what a person notices between a message showing up and its
# sender's second tick, and long enough to gather a burst into one update.
DELIVERED_COALESCE_SECONDS = 0.05


class MessagingConsumer(AsyncWebsocketConsumer):
    """What every LinkUp socket does, whatever it speaks."""

    #: frame types this endpoint accepts
    frames: frozenset[str] = frozenset()
    #: the ``Connection.kind`` recorded for presence
    connection_kind: str = ""
    #: route kwargs the URL pattern must provide (checked by the routing validator)
    url_kwargs: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user: Any = None
        self.session_key: str | None = None
        self.registered = False
        self.subscribed: list[str] = []
        self.closing = False
        self.bad_frames = 0
        self.limits = conf.limits()
        self.bad_frame_allowance = LocalBucket(self.limits.bad_frame_rate)
        self.validator = ConnectionValidator(
            max_length=self.limits.max_length, max_frame_bytes=self.limits.max_frame_bytes
        )
        self.session_guard = SessionGuard(self)

    # --- Lifecycle -----------------------------------------------------------

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch without its ``aclose_old_connections()`` per event.

        That call is a hop into the database thread for every frame and every
        group event (five per chat message). Every database call here goes
        through ``database_sync_to_async``, which closes stale connections
        around itself already.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # Also when the consumer dies without websocket.disconnect (a send
            # to a vanished client, a cancelled task): never leak presence.
            await self.leave()

    def authenticate(self) -> dict[str, Any] | None:
        """The scope's user and route kwargs, or None when the handshake must be refused."""
        data = ConnectionValidator.validate_connection_data(self.scope, required_kwargs=self.url_kwargs)
        if data is not None:
            self.user = data["user"]
            self.session_key = getattr(safe_get(self.scope, "session"), "session_key", None)
        return data

    async def subscribe(self, group: str) -> None:
        """Join a channel-layer group; :meth:`leave` discards every group joined so."""
        self.subscribed.append(group)
        await self.channel_layer.group_add(group, self.channel_name)

    async def join(self) -> dict[str, Any] | None:
        """Accept the socket and count it for presence; call from ``connect``.

        Returns what :meth:`register` read along with the registration (``{}``
        if nothing), or None when the user has too many sockets open: the
        socket is told why and closed.
        """
        await self.subscribe(user_group(self.user.pk))
        await self.accept()
        self.session_guard.start()
        try:
            change, read_along = await self.register()
        except TooManySockets as error:
            await self.send_error(error)
            await messaging_logger.aclient_error(self.user, "too_many_sockets", error.detail)
            await self.close(code=conf.CLOSE_TOO_MANY_SOCKETS)
            return None
        tracker.add(self.channel_name)
        self.registered = True
        metrics.OPEN_SOCKETS.labels(self.connection_kind).inc()
        if change is not None:
            await broadcast_presence(change)
        return read_along

    async def register(self) -> tuple[PresenceChange | None, dict[str, Any]]:
        """Record this socket for presence (one database call).

        Returns the presence change, if any, and what the endpoint reads in
        the same call (nothing here).
        """
        change = await db.register_connection(
            self.user.pk,
            self.channel_name,
            self.connection_kind,
            tracker.server_id,
            max_sockets=self.limits.max_sockets_per_user,
            expiry=self.limits.presence_expiry,
            username=self.user.get_username(),
        )
        return change, {}

    async def leave(self) -> None:
        """Undo :meth:`subscribe` and :meth:`join`; safe to call twice, and after a refused handshake."""
        self.session_guard.stop()
        groups, self.subscribed = self.subscribed, []
        registered, self.registered = self.registered, False
        try:
            for group in groups:
                await self.channel_layer.group_discard(group, self.channel_name)
            if not registered:
                return
            tracker.discard(self.channel_name)
            metrics.OPEN_SOCKETS.labels(self.connection_kind).dec()
            change = await db.unregister_connection(
                self.user.pk, self.channel_name, self.limits.presence_expiry, username=self.user.get_username()
            )
            if change is not None:
                await broadcast_presence(change)
        except Exception as exc:  # noqa: BLE001 - the heartbeat sweep repairs what this misses
            await messaging_logger.aerror(
                category_for_exception(exc), "could not clean up a closed socket", user=self.user, exc=exc
            )

    async def disconnect(self, code: int) -> None:
        if code == ABNORMAL_CLOSURE and self.user is not None:
            # The connection dropped without a close frame: a network cut, a
            # killed client. Worth seeing when it happens a lot.
            await messaging_logger.athrottled(
                ErrorCategory.CONNECTION_ERROR,
                "abnormal_closure",
                f"a {self.connection_kind} socket closed without a close frame (1006)",
                self.user,
                severity="info",
            )
        await self.leave()

    async def session_logout(self, event: dict[str, Any]) -> None:
        """The session this socket was opened with signed out: the socket goes too."""
        if event.get("session_key") and event["session_key"] == self.session_key:
            self.closing = True
            await self.close(code=conf.CLOSE_SIGNED_OUT)

    async def session_recheck(self, event: dict[str, Any]) -> None:
        """The user's password, activity or existence changed: close if this session lost its access."""
        await self.session_guard.recheck(event)

    async def refuse(self) -> None:
        """Refuse the handshake: closing before ``accept`` makes daphne answer 403."""
        await self.close()

    # --- Frames in -------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closing:
            return
        frame = self.validator.parse(text_data, bytes_data, allowed=self.frames)
        if isinstance(frame, ProtocolError):
            metrics.FRAMES_RECEIVED.labels(self.connection_kind, "invalid").inc()
            await self.reject(frame)
            return
        metrics.FRAMES_RECEIVED.labels(self.connection_kind, frame.type).inc()
        try:
            await getattr(self, f"on_{frame.type}")(frame)
        except Exception as exc:  # noqa: BLE001 - mapped to its error frame just below
            await self.answer_failure(exc, frame)

    async def answer_failure(self, exc: Exception, frame: Any) -> None:
        """The one place a failure while handling ``frame`` becomes an error frame."""
        if isinstance(exc, ProtocolError):
            await self.reject(exc)
        elif isinstance(exc, MessagingException):
            # A ServerError's raiser recorded its cause; the edge only answers.
            await self.send_error(exc)
        else:
            await self.server_failed(
                exc, f"failed to handle a {frame.type} frame", client_id=getattr(frame, "client_id", None)
            )

    async def server_failed(self, exc: Exception, what: str, client_id: str | None = None) -> None:
        """Record an unexpected server-side failure and answer ``server_error``."""
        await messaging_logger.aerror(category_for_exception(exc), what, user=self.user, exc=exc)
        await self.send_error(ServerError("the server could not do that; try again", client_id=client_id))

    async def reject(self, error: ProtocolError) -> None:
        """Answer a client's bad frame; count it and record it without flooding.

        A socket that keeps sending bad frames beyond ``MESSAGING_BAD_FRAME_LIMIT``
        is disconnected with ``CLOSE_PROTOCOL_ABUSE``.
        """
        self.bad_frames += 1
        await self.send_error(error)
        await messaging_logger.aclient_error(
            self.user, error.code.value, error.detail, context={"endpoint": self.connection_kind}
        )
        if not self.bad_frame_allowance.take():
            self.closing = True
            await messaging_logger.aerror(
                ErrorCategory.VALIDATION_ERROR,
                f"disconnected a {self.connection_kind} socket after {self.bad_frames} bad frames",
                severity="warning",
                user=self.user,
                context={"bad_frames": self.bad_frames, "close_code": conf.CLOSE_PROTOCOL_ABUSE},
            )
            await self.close(code=conf.CLOSE_PROTOCOL_ABUSE)

    async def on_ping(self, frame: PingFrame) -> None:
        await self.send_frame(PONG)

    # --- Frames out ------------------------------------------------------------

    async def send_error(self, error: MessagingException) -> None:
        metrics.ERROR_FRAMES.labels(error.code.value).inc()
        await self.send_frame(error_frame(error))

    async def send_frame(self, frame: dict[str, Any]) -> None:
        try:
            text = JSONSerializer.dumps(frame)
        except ServerError as error:
            await messaging_logger.aerror(
                "json_serialization_error", error.detail, user=self.user, context={"frame": frame.get("type")}, exc=error
            )
            text = JSONSerializer.dumps(error_frame(ServerError("the server could not encode its answer")))
        await self.send_text(text)

    async def send_text(self, text: str) -> None:
        """Send pre-serialized text; a socket the client already closed is not an error."""
        try:
            await self.send(text_data=text)
        except Disconnected:
            log.debug("send to a closed socket of %s dropped", self.user)

    async def broadcast_text(self, event: dict[str, Any]) -> None:
        """Group events that only forward their serialized frame."""
        await self.send_text(event["text"])

    presence_changed = broadcast_text


class ChatConsumer(MessagingConsumer):
    """``ws/chat/<username>/``: a direct conversation with ``username``."""

    frames = frozenset({"message", "typing", "read", "sync", "history", "ping"})
    connection_kind = Connection.Kind.CHAT
    url_kwargs = ("username",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.chat: ChatOpening | None = None
        self.viewing = False
        # Delivered ticks: the highest seq pushed to this socket, the highest
        # stored as delivered, and the task storing it (one at a time, so a
        # burst of messages costs one UPDATE per batch, not one per message).
        self.delivered_pending = 0
        self.delivered_done = 0
        self.delivering: asyncio.Task | None = None
        # Messages sent on this socket whose commit is pending, in order, and
        # the task that finishes them.
        self.in_flight: collections.deque[tuple[MessageFrame, asyncio.Future]] = collections.deque()
        self.finisher: asyncio.Task | None = None
        self.bucket = TokenBucket("messages", self.limits.rate)
        self.typing_allowance = LocalBucket(self.limits.typing_rate)
        self.typing = False
        self.typing_sent_at = 0.0
        self.typing_expiry: asyncio.TimerHandle | None = None

    async def connect(self) -> None:
        data = self.authenticate()
        if data is None:
            await self.refuse()
            return
        self.chat = await db.open_chat(self.user, data["username"])
        if self.chat is None:
            await self.refuse()
            return
        # Subscribe before reading last_seq: whatever is committed after the
        # snapshot is pushed, whatever came before is in the snapshot.
        await self.subscribe(self.chat.group_name)
        await self.subscribe(presence_group(self.chat.peer_id))
        snapshot = await self.join()  # read by register(), in the same database call
        if snapshot is None:
            return
        tracker.viewing(self.chat.conversation_id, self.user.pk, +1)
        self.viewing = True
        await self.send_frame(
            connected_frame(
                self.chat.peer_username,
                snapshot["peer_online"],
                snapshot["peer_last_seen"],
                snapshot["last_seq"],
                snapshot["unread"],
            )
        )

    async def register(self) -> tuple[PresenceChange | None, dict[str, Any]]:
        """Register the socket and read the ``connected`` snapshot in one database call."""
        return await db.register_chat_connection(
            self.user.pk,
            self.channel_name,
            tracker.server_id,
            self.chat.conversation_id,
            self.chat.peer_id,
            max_sockets=self.limits.max_sockets_per_user,
            expiry=self.limits.presence_expiry,
            username=self.user.get_username(),
        )

    async def leave(self) -> None:
        if self.viewing:
            self.viewing = False
            tracker.viewing(self.chat.conversation_id, self.user.pk, -1)
        if self.registered and self.typing:
            await self.set_typing(False)
        for task in (self.finisher, self.delivering):
            if task is not None:
                await asyncio.gather(task, return_exceptions=True)
        await super().leave()

    # --- Frames in -------------------------------------------------------------

    async def on_message(self, frame: MessageFrame) -> None:
        """Queue the message for the next group commit and go on reading frames.

        The socket's messages are finished (acked, pushed) by one task, in the
        order they were sent, each once its commit is done: a sender with
        several messages in flight gets them into one transaction instead of
        one each.
        """
        item = NewMessage(
            self.chat.conversation_id, self.user, self.chat.peer, frame.content, frame.client_id, self.bucket
        )
        self.in_flight.append((frame, message_writer.enqueue(item)))
        if self.finisher is None or self.finisher.done():
            self.finisher = asyncio.create_task(self.finish_messages())

    async def finish_messages(self) -> None:
        while self.in_flight:
            frame, committed = self.in_flight.popleft()
            try:
                outcome = await committed
                if isinstance(outcome, MessagingException):
                    raise outcome
                await self.finish_message(*outcome)
            except Exception as exc:  # noqa: BLE001 - mapped to its error frame
                await self.answer_failure(exc, frame)

    async def finish_message(self, message: Any, created: bool) -> None:
        payload = message_payload(message)
        await self.send_frame(ack_frame(payload))
        if self.typing:
            await self.set_typing(False)
        # A repeat is broadcast again too: the first broadcast may be what
        # was lost, and clients de-duplicate by id.
        await broadcast_message(message, message_frame(payload))
        if created and not tracker.is_viewing(self.chat.conversation_id, self.chat.peer_id):
            # Not open here; another process may have it open: the service checks.
            await notification_service.anotify_new_message(message)

    async def on_typing(self, frame: TypingFrame) -> None:
        if not self.typing_allowance.take():
            raise RateLimited("too many typing frames; send one every couple of seconds")
        await self.set_typing(frame.is_typing)

    async def on_read(self, frame: ReadFrame) -> None:
        change = await db.mark_message_read(
            self.chat.conversation_id, self.user.pk, frame.up_to, self.user.get_username()
        )
        if change is not None:
            await broadcast_status(change)

    async def on_sync(self, frame: SyncFrame) -> None:
        # A client catching up gets the largest page there is.
        await self.send_page("sync", after=frame.after, limit=MAX_PAGE)

    async def on_history(self, frame: HistoryFrame) -> None:
        await self.send_page("history", before=frame.before, limit=frame.limit)

    async def send_page(
        self, kind: str, *, after: int | None = None, before: int | None = None, limit: int
    ) -> None:
        """Answer ``sync`` or ``history`` (``kind``); what the page delivered is announced."""
        page = await db.get_messages(
            self.chat.conversation_id,
            self.user.pk,
            after=after,
            before=before,
            limit=limit,
            username=self.user.get_username(),
        )
        await self.send_frame(page_frame(kind, page.messages, page.has_more))
        if page.delivered is not None:
            await broadcast_status(page.delivered)

    # --- Group events ------------------------------------------------------------

    async def chat_message(self, event: dict[str, Any]) -> None:
        await self.send_text(event["text"])
        if event["recipient_id"] != self.user.pk:
            return
        metrics.DELIVERY_LATENCY.observe(max(0.0, time.time() - event["created_at"]))
        if event["status"] == MessageStatus.SENT and event["seq"] > self.delivered_pending:
            self.delivered_pending = event["seq"]
            if self.delivering is None or self.delivering.done():
                self.delivering = asyncio.create_task(self.store_delivered())

    async def store_delivered(self) -> None:
        """Mark what this socket was handed as delivered, coalescing bursts into ranges.

        It waits ``DELIVERED_COALESCE_SECONDS`` first: a burst of messages then
        costs one UPDATE and one ``status`` frame instead of one per message,
        for a tick that shows a few tens of milliseconds later.
        """
        await asyncio.sleep(DELIVERED_COALESCE_SECONDS)
        while self.delivered_done < self.delivered_pending:
            up_to = self.delivered_pending
            try:
                change = await delivered_writer.submit(
                    DeliveredMark(self.chat.conversation_id, self.user.pk, up_to, self.user.get_username())
                )
            except Exception as exc:  # noqa: BLE001 - the message reached the socket; the tick can wait for sync
                await messaging_logger.aerror(
                    category_for_exception(exc), "could not mark a pushed message delivered", user=self.user, exc=exc
                )
                return
            self.delivered_done = up_to
            if change is not None:
                await broadcast_status(change)

    chat_status = MessagingConsumer.broadcast_text

    async def chat_typing(self, event: dict[str, Any]) -> None:
        if event["user_id"] != self.user.pk:
            await self.send_text(event["text"])

    # --- Helpers -----------------------------------------------------------------

    async def set_typing(self, is_typing: bool) -> None:
        """Tell the peer; refreshes within the expiry are not re-broadcast."""
        loop = asyncio.get_running_loop()
        if self.typing_expiry is not None:
            self.typing_expiry.cancel()
            self.typing_expiry = None
        if is_typing:
            self.typing_expiry = loop.call_later(
                self.limits.typing_expiry, lambda: asyncio.ensure_future(self.set_typing(False))
            )
            # Re-announce well before the peer's copy expires, not on every keystroke.
            if self.typing and loop.time() - self.typing_sent_at < self.limits.typing_expiry / 2:
                return
        elif not self.typing:
            return
        self.typing = is_typing
        self.typing_sent_at = loop.time()
        await broadcast_frame(
            self.chat.group_name,
            "chat.typing",
            typing_frame(self.user.get_username(), is_typing),
            user_id=self.user.pk,
        )


class NotificationsConsumer(MessagingConsumer):
    """``ws/notifications/``: the signed-in user's notifications and unread count."""

    frames = frozenset({"mark_read", "mark_all_read", "list", "ping"})
    connection_kind = Connection.Kind.NOTIFICATIONS
    url_kwargs = ()

    async def connect(self) -> None:
        if self.authenticate() is None:
            await self.refuse()
            return
        await self.subscribe(self.group)
        if await self.join() is None:
            return
        await self.send_frame(unread_count_frame(await db.notification_unread_count(self.user.pk)))

    @property
    def group(self) -> str:
        return notification_service.notifications_group(self.user.pk)

    async def on_mark_read(self, frame: MarkReadFrame) -> None:
        unread = await db.mark_notification_read(self.user.pk, frame.id)
        if unread is not None:
            await notification_service.push_unread_count(self.user.pk, unread)

    async def on_mark_all_read(self, frame: MarkAllReadFrame) -> None:
        unread = await db.mark_all_notifications_read(self.user.pk)
        if unread is not None:
            await notification_service.push_unread_count(self.user.pk, unread)

    async def on_list(self, frame: ListFrame) -> None:
        items, has_more = await db.list_notifications(self.user.pk, frame.before, frame.limit)
        await self.send_frame(notifications_page_frame(items, has_more))

    notification_push = MessagingConsumer.broadcast_text
